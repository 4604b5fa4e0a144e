"""The outbox: messages queued once, claimed by one sender, sent at most once.

Exactly once cannot survive a crash between the provider's acceptance and our record of
it, so the rule is **at most once**:

* :func:`enqueue` inserts under the message's idempotency key (an event, a mailing's
  batch and account, an operator's form): queueing it again is one row still.
* :func:`claim` moves due messages from ``queued`` to ``sending`` and commits that before
  any provider is called (``FOR UPDATE SKIP LOCKED``: two workers, or a task Celery
  delivers twice, never claim the same message).
* The provider's answer moves it on: :func:`sent`; :func:`retry` when the failure is
  clearly on the way there (connection refused, a 5xx, the provider's "try later") —
  back to ``queued`` after a backoff, until ``MAX_ATTEMPTS``, then ``failed``;
  :func:`failed` when the provider refused it.
* A message still ``sending`` after :data:`SENDING_TIMEOUT` was left by a crash: the
  provider may or may not have it. :func:`expire_sending` marks it ``unknown`` and it is
  never sent again by itself; an operator decides (:func:`requeue` or :func:`cancel`).

Every call's answer is kept in ``message_attempts`` as it came.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import psycopg
from psycopg.rows import class_row

MAX_ATTEMPTS = 5
BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15),
           timedelta(hours=1))
SENDING_TIMEOUT = timedelta(minutes=10)
ANSWER_LIMIT = 4096


@dataclass(frozen=True)
class Message:
    idempotency_key: str
    channel: str  # "sms" or "email"
    backend: str
    recipient: str
    body: str
    due_at: datetime
    account_id: int | None = None
    subject: str = ""
    essential: bool = False
    template_code: str = ""
    batch_id: int | None = None


@dataclass(frozen=True)
class Claimed:
    id: int
    channel: str
    backend: str
    recipient: str
    subject: str
    body: str
    attempts: int


_INSERT = """
    INSERT INTO messages (idempotency_key, channel, backend, recipient, body, due_at,
                          account_id, subject, essential, template_code, batch_id)
    VALUES (%(idempotency_key)s, %(channel)s, %(backend)s, %(recipient)s, %(body)s,
            %(due_at)s, %(account_id)s, %(subject)s, %(essential)s, %(template_code)s,
            %(batch_id)s)
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id
"""


def enqueue(conn: psycopg.Connection, message: Message) -> int | None:
    """The new message's id; None when its key was queued before (nothing changes)."""
    row = conn.execute(_INSERT, message.__dict__).fetchone()
    return row[0] if row else None


def claim(conn: psycopg.Connection, now: datetime, limit: int = 100,
          backend: str | None = None) -> list[Claimed]:
    """Take up to ``limit`` due messages for sending. ``conn`` is in autocommit (the
    worker's): the claim is committed, on record before the provider hears of it."""
    with conn.transaction(), conn.cursor(row_factory=class_row(Claimed)) as cur:
        cur.execute(
            """
            UPDATE messages m
               SET state = 'sending', sending_since = %(now)s, attempts = m.attempts + 1
              FROM (SELECT id FROM messages
                     WHERE state = 'queued' AND due_at <= %(now)s
                       AND (%(backend)s::text IS NULL OR backend = %(backend)s)
                     ORDER BY due_at, id
                     LIMIT %(limit)s
                       FOR UPDATE SKIP LOCKED) due
             WHERE m.id = due.id
            RETURNING m.id, m.channel, m.backend, m.recipient, m.subject, m.body, m.attempts
            """, {"now": now, "limit": limit, "backend": backend})
        return sorted(cur.fetchall(), key=lambda c: c.id)


def _attempt(conn: psycopg.Connection, message_id: int, outcome: str, answer: str,
             error: str = "") -> None:
    conn.execute(
        "INSERT INTO message_attempts (message_id, outcome, answer, error)"
        " VALUES (%s, %s, %s, %s)",
        (message_id, outcome, (answer or "")[:ANSWER_LIMIT], (error or "")[:ANSWER_LIMIT]))


def _leave_sending(conn: psycopg.Connection, message_id: int, sets: str,
                   params: dict) -> bool:
    """Move a message out of ``sending``; False when it is not there (already moved)."""
    return conn.execute(
        f"UPDATE messages SET sending_since = NULL, {sets}"
        " WHERE id = %(id)s AND state = 'sending'", {"id": message_id, **params}
    ).rowcount == 1


def sent(conn: psycopg.Connection, message_id: int, at: datetime, *, answer: str,
         provider_id: str | None = None, cost: Decimal | None = None,
         parts: int | None = None, provider_status: str = "") -> bool:
    with conn.transaction():
        moved = _leave_sending(
            conn, message_id,
            "state = 'sent', sent_at = %(at)s, provider_id = %(pid)s, cost = %(cost)s,"
            " parts = %(parts)s, provider_status = %(status)s, error = ''",
            {"at": at, "pid": provider_id, "cost": cost, "parts": parts,
             "status": provider_status})
        if moved:
            _attempt(conn, message_id, "sent", answer)
        return moved


def retry(conn: psycopg.Connection, message_id: int, now: datetime, *, answer: str,
          error: str) -> str:
    """Queue the message again after its backoff, or fail it after MAX_ATTEMPTS;
    returns the new state ('' when it was not sending)."""
    with conn.transaction():
        attempts = conn.execute("SELECT attempts FROM messages WHERE id = %s AND"
                                " state = 'sending' FOR UPDATE", (message_id,)).fetchone()
        if attempts is None:
            return ""
        if attempts[0] >= MAX_ATTEMPTS:
            _leave_sending(conn, message_id, "state = 'failed', error = %(error)s",
                           {"error": f"gave up after {attempts[0]} attempts: {error}"})
            _attempt(conn, message_id, "failed", answer, error)
            return "failed"
        delay = BACKOFF[min(attempts[0], len(BACKOFF)) - 1]
        _leave_sending(conn, message_id, "state = 'queued', due_at = %(due)s,"
                       " error = %(error)s", {"due": now + delay, "error": error})
        _attempt(conn, message_id, "retry", answer, error)
        return "queued"


def failed(conn: psycopg.Connection, message_id: int, *, answer: str, error: str) -> bool:
    with conn.transaction():
        moved = _leave_sending(conn, message_id, "state = 'failed', error = %(error)s",
                               {"error": error})
        if moved:
            _attempt(conn, message_id, "failed", answer, error)
        return moved


def expire_sending(conn: psycopg.Connection, now: datetime,
                   timeout: timedelta = SENDING_TIMEOUT) -> int:
    """Messages a crashed sender left ``sending``: ``unknown``, never resent by
    themselves."""
    return conn.execute(
        "UPDATE messages SET state = 'unknown', sending_since = NULL,"
        " error = 'the sender stopped before the provider''s answer was recorded:"
        " it may or may not have been sent'"
        " WHERE state = 'sending' AND sending_since < %s", (now - timeout,)).rowcount


def requeue(conn: psycopg.Connection, message_id: int, now: datetime) -> bool:
    """An operator's decision to send an ``unknown`` or ``failed`` message again."""
    return conn.execute(
        "UPDATE messages SET state = 'queued', due_at = %s, error = ''"
        " WHERE id = %s AND state IN ('unknown', 'failed')", (now, message_id)).rowcount == 1


def cancel(conn: psycopg.Connection, message_id: int) -> bool:
    return conn.execute(
        "UPDATE messages SET state = 'cancelled'"
        " WHERE id = %s AND state IN ('queued', 'unknown', 'failed')",
        (message_id,)).rowcount == 1


def delivery(conn: psycopg.Connection, message_id: int, *, status: str, delivered: bool,
             answer: str) -> None:
    """A delivery status polled from the provider for a sent message."""
    with conn.transaction():
        conn.execute(
            "UPDATE messages SET provider_status = %s,"
            " state = CASE WHEN %s THEN 'delivered' ELSE state END"
            " WHERE id = %s AND state IN ('sent', 'delivered')",
            (status, delivered, message_id))
        _attempt(conn, message_id, "status", answer)
