"""The sender: due messages from the outbox to their providers, at most once each.

``send_due`` is what ``ebs sms send-due`` and the beat's ``ebs.send_due_messages`` run
(ExpertBilling's cron ran ``process_sms_messages`` every five minutes). Every step keeps
the outbox's rule (billing/notifications/outbox.py): messages a crashed run left
``sending`` become ``unknown`` first; a message is claimed — committed as ``sending`` —
before its provider hears of it; the provider's answer moves it on. The recipients of a
lazy batch (the day's balance alerts) are made into messages just before each claim.
A message we can tell is unsendable before any call (a number that is no mobile one, an
empty or too long text, a backend the operator has not enabled) fails at once with the
reason and costs no call. Inside quiet hours nothing is claimed: due messages wait for
the morning.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import psycopg

from billing.notifications import backends, batches, outbox, phones, quiet_hours, sms_text
from billing.notifications.outbox import Claimed
from worker.notify.base import Http, Outgoing, Result, flag

log = logging.getLogger(__name__)

BATCH = 100
# A run stops after this many messages so a task ends; the next run takes the rest.
MAX_PER_RUN = 2000
# Delivery statuses are asked for this long after sending, at most every POLL_EVERY.
POLL_WINDOW = timedelta(days=1)
POLL_EVERY = timedelta(minutes=5)
UNDELIVERED = "undelivered: "


@dataclass
class SendCounts:
    expired: int = 0
    # recipients of lazy batches made into messages (billing/notifications/batches.py)
    made: int = 0
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    # a provider module raised: the message stays "sending" and becomes "unknown"
    left_sending: int = 0
    quiet: bool = False
    by_backend: dict[str, int] = field(default_factory=dict)


def send_due(conn: psycopg.Connection, now: datetime, settings: SimpleNamespace, *,
             http: Http | None = None, batch: int = BATCH,
             max_messages: int = MAX_PER_RUN) -> SendCounts:
    """Send what is due at ``now``. ``conn`` is in autocommit (claims commit at once)."""
    http = http or Http(timeout=float(settings.SENDSMS_TIMEOUT_SECONDS))
    counts = SendCounts(expired=outbox.expire_sending(conn, now))
    quiet = quiet_hours.parse(settings.SENDSMS_QUIET_HOURS)
    if quiet is not None and quiet.contains(now, ZoneInfo(settings.TIME_ZONE)):
        counts.quiet = True
        return counts
    enabled = set(backends.enabled(settings))
    while counts.claimed < max_messages:
        wanted = min(batch, max_messages - counts.claimed)
        counts.made += batches.materialize(conn, now, wanted, settings)
        claimed = outbox.claim(conn, now, wanted)
        if not claimed:
            break
        counts.claimed += len(claimed)
        for message in claimed:
            _deliver(conn, message, now, settings, enabled, http, counts)
    return counts


def _deliver(conn: psycopg.Connection, message: Claimed, now: datetime,
             settings: SimpleNamespace, enabled: set[str], http: Http,
             counts: SendCounts) -> None:
    if message.backend not in enabled:
        why = ("SMTP_HOST is empty: e-mail is not configured" if message.backend ==
               backends.EMAIL else f"backend {message.backend!r} is not in SENDSMS_BACKENDS")
        _record(conn, message.id, now, Result("failed", "", why), counts)
        return
    backend = backends.get(message.backend)
    config = backends.config(message.backend, settings)
    prepared = _prepare(message, backend.channel, config, settings)
    if isinstance(prepared, Result):  # refused before any call
        _record(conn, message.id, now, prepared, counts)
        return
    module = importlib.import_module(backend.module)
    try:
        result = module.send(prepared, config, http)
    except Exception:  # a fault of ours: whether the provider took it is not known
        log.exception("message %s: %s raised; left sending, it becomes unknown",
                      message.id, backend.module)
        counts.left_sending += 1
        return
    counts.by_backend[backend.title] = counts.by_backend.get(backend.title, 0) + 1
    _record(conn, message.id, now, result, counts)


def _prepare(message: Claimed, channel: str, config: dict,
             settings: SimpleNamespace) -> Outgoing | Result:
    body = message.body.strip()
    if not body:
        return Result("failed", "", "the text is empty")
    if channel == "email":
        if "@" not in message.recipient.strip("@"):
            return Result("failed", "", f"{message.recipient!r} is not an e-mail address")
        return Outgoing(message.id, message.recipient.strip(), body, message.subject)
    try:
        number = phones.to_e164(message.recipient, settings.SENDSMS_PHONE_REGION)
    except phones.PhoneError as exc:
        return Result("failed", "", f"phone {exc.reason}: {exc}")
    if flag(config.get("TRANSLIT", "0")):
        body = sms_text.transliterate(body)
    parts = sms_text.length(body).parts
    if parts > settings.SENDSMS_MAX_PARTS:
        if settings.SENDSMS_TOO_LONG == "refuse":
            return Result("failed", "", f"the text takes {parts} SMS parts, more than "
                                        f"SENDSMS_MAX_PARTS ({settings.SENDSMS_MAX_PARTS})")
        body = cut(body, settings.SENDSMS_MAX_PARTS)
        parts = sms_text.length(body).parts
    return Outgoing(message.id, number, body, message.subject, parts)


def cut(text: str, max_parts: int) -> str:
    """The longest start of ``text`` that fits ``max_parts`` with an ellipsis after it
    ("..." in a GSM text, where "…" would make it all UCS-2)."""
    ellipsis = "..." if sms_text.length(text).encoding == "gsm7" else "…"
    low, high = 0, len(text)
    while low < high:  # the longest prefix that fits
        middle = (low + high + 1) // 2
        if sms_text.length(text[:middle].rstrip() + ellipsis).parts <= max_parts:
            low = middle
        else:
            high = middle - 1
    return text[:low].rstrip() + ellipsis


def _record(conn: psycopg.Connection, message_id: int, now: datetime, result: Result,
            counts: SendCounts) -> None:
    if result.kind == "sent":
        outbox.sent(conn, message_id, now, answer=result.answer,
                    provider_id=result.provider_id, cost=result.cost, parts=result.parts,
                    provider_status=result.status)
        counts.sent += 1
    elif result.kind == "retry":
        state = outbox.retry(conn, message_id, now, answer=result.answer, error=result.error)
        if state == "failed":
            counts.failed += 1
        else:
            counts.retried += 1
    else:
        outbox.failed(conn, message_id, answer=result.answer, error=result.error)
        counts.failed += 1


_TO_POLL = """
    SELECT m.id, m.backend, m.provider_id
      FROM messages m
     WHERE m.state = 'sent' AND m.provider_id IS NOT NULL
       AND m.sent_at > %(since)s AND m.backend = ANY(%(backends)s)
       AND m.provider_status NOT LIKE %(undelivered)s
       AND NOT EXISTS (SELECT 1 FROM message_attempts a
                        WHERE a.message_id = m.id AND a.outcome = 'status'
                          AND a.at > %(recent)s)
     ORDER BY m.sent_at
     LIMIT %(limit)s
"""


def poll_statuses(conn: psycopg.Connection, now: datetime, settings: SimpleNamespace, *,
                  http: Http | None = None, limit: int = 500) -> dict[str, int]:
    """Ask the providers that offer it what became of messages sent in the last day;
    ``delivered`` and undelivered-for-good end the asking."""
    http = http or Http(timeout=float(settings.SENDSMS_TIMEOUT_SECONDS))
    pollable = [name for name in backends.enabled(settings)
                if getattr(importlib.import_module(backends.get(name).module), "status",
                           None)]
    counts = {"asked": 0, "delivered": 0, "undelivered": 0, "no_answer": 0}
    if not pollable:
        return counts
    rows = conn.execute(_TO_POLL, {
        "since": now - POLL_WINDOW, "backends": pollable, "undelivered": UNDELIVERED + "%",
        "recent": now - POLL_EVERY, "limit": limit}).fetchall()
    for message_id, name, provider_id in rows:
        module = importlib.import_module(backends.get(name).module)
        counts["asked"] += 1
        found = module.status(provider_id, backends.config(name, settings), http)
        if found is None:
            counts["no_answer"] += 1
            continue
        words = found.status
        if found.final and not found.delivered:
            words = UNDELIVERED + words
            counts["undelivered"] += 1
        elif found.delivered:
            counts["delivered"] += 1
        outbox.delivery(conn, message_id, status=words, delivered=found.delivered,
                        answer=found.answer)
        if found.cost is not None:  # a price the send answer did not give
            conn.execute("UPDATE messages SET cost = %s WHERE id = %s AND cost IS NULL",
                         (found.cost, message_id))
    return counts
