"""A mailing: one template to a selection of subscribers (billing/notifications/
selection.py), now or at a set time, queued a chunk at a time.

:func:`create` writes the ``message_batches`` row under the form's one-time key, so the
same form submitted twice is one batch. :func:`queue_next` queues the next chunk through
the mailing's one queueing function and records the progress (queued and skipped of the
total, and the last account walked) in the same transaction: the caller commits after each
chunk, so the batch's page shows the progress while it runs, and a batch interrupted
half-way goes on from where it stopped. Each message's key is the batch's and the
account's, so even a chunk queued twice is one message per account.

A batch of an event (the day's balance alerts: :func:`for_event`) is queued at once
and lazily: its accounts are the array ``waiting`` of its row
(``mailing.queue_recipients``), and :func:`materialize`, which the sender runs before
it claims, makes them into messages a few hundred at a time by the same
:func:`queue_chunk`, moving ``made`` on in the same transaction.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace

import psycopg
from psycopg.rows import class_row

from billing.notifications import selection as selections
from billing.notifications.mailing import MailingRefused, queue_template
from billing.notifications.templates import TemplateRefused

log = logging.getLogger(__name__)

CHUNK = 2000


@dataclass(frozen=True)
class Batch:
    id: int
    template_code: str
    channel: str
    selection: dict
    due_at: datetime
    total: int
    queued: int
    skipped: int
    state: str
    walked_to: int


def get(conn: psycopg.Connection, batch_id: int, *, lock: bool = False) -> Batch | None:
    with conn.cursor(row_factory=class_row(Batch)) as cur:
        return cur.execute(
            "SELECT id, template_code, channel, selection, due_at, total, queued, skipped,"
            " state, walked_to FROM message_batches WHERE id = %s"
            + (" FOR UPDATE" if lock else ""), (batch_id,)).fetchone()


def create(conn: psycopg.Connection, *, template_code: str, channel: str,
           selection: selections.Selection, due_at: datetime, request_key: str,
           staff_user_id: int | None = None) -> tuple[int, bool]:
    """(the batch's id, whether it is new): a key seen before answers its batch."""
    row = conn.execute(
        "INSERT INTO message_batches (template_code, channel, selection, due_at, total,"
        "                             staff_user_id, request_key)"
        " VALUES (%s, %s, %s::jsonb, %s, %s, %s, %s)"
        " ON CONFLICT (request_key) DO NOTHING RETURNING id",
        (template_code, channel, json.dumps(selection.as_json()), due_at,
         selections.count(conn, selection), staff_user_id, request_key)).fetchone()
    if row is not None:
        return row[0], True
    found = conn.execute("SELECT id FROM message_batches WHERE request_key = %s",
                         (request_key,)).fetchone()
    return found[0], False


def for_event(conn: psycopg.Connection, *, template_code: str, channel: str,
              due_at: datetime, request_key: str) -> int:
    """The batch of an event's pass under ``request_key`` (one a day for the balance
    alerts), made ``queued`` when new: a second pass of the day adds to it."""
    return conn.execute(
        "INSERT INTO message_batches (template_code, channel, selection, due_at, state,"
        "                             request_key)"
        " VALUES (%s, %s, %s::jsonb, %s, 'queued', %s)"
        " ON CONFLICT (request_key) DO UPDATE SET state = message_batches.state"
        " RETURNING id",
        (template_code, channel, json.dumps({"event": template_code}), due_at,
         request_key)).fetchone()[0]


def counted(conn: psycopg.Connection, batch_id: int, *, selected: int, queued: int,
            skipped: int) -> None:
    conn.execute("UPDATE message_batches SET total = total + %s, queued = queued + %s,"
                 " skipped = skipped + %s WHERE id = %s",
                 (selected, queued, skipped, batch_id))


_DUE_LAZY = """
    SELECT b.id FROM message_batches b
     WHERE b.state = 'queued' AND b.due_at <= %(now)s AND b.id <> ALL(%(refused)s)
       AND b.made < cardinality(b.waiting)
     ORDER BY b.due_at, b.id
     LIMIT 1
       FOR UPDATE OF b SKIP LOCKED
"""


def waiting(conn: psycopg.Connection, batch_id: int) -> int:
    """The accounts of a lazy batch whose messages are not made yet."""
    return conn.execute("SELECT cardinality(waiting) - made FROM message_batches"
                        " WHERE id = %s", (batch_id,)).fetchone()[0]


def materialize(conn: psycopg.Connection, now: datetime, limit: int,
                settings: SimpleNamespace | None = None) -> int:
    """Make messages of up to ``limit`` waiting accounts of the batches due at ``now``;
    the number of accounts taken. Each chunk is one transaction with the batch's row
    locked: two senders take turns, and an account is made once (its message's key is
    the batch's and the account's besides). A subscriber who opted out or lost the
    number since the batch was queued is skipped now and counted so. A batch made to
    the end gives its array up. A batch whose template cannot be made (deleted, or
    refused by the renderer) is left as it is and logged; the others go on."""
    taken, refused = 0, []
    while taken < limit:
        batch_id = None
        try:
            with conn.transaction():
                row = conn.execute(_DUE_LAZY, {"now": now, "refused": refused}).fetchone()
                if row is None:
                    break
                batch_id = row[0]
                ids, left = conn.execute(
                    "SELECT waiting[made + 1 : made + %s], cardinality(waiting) - made"
                    " FROM message_batches WHERE id = %s", (limit - taken, batch_id)
                ).fetchone()
                _queued, skipped = queue_chunk(conn, get(conn, batch_id), ids, settings)
                conn.execute(
                    "UPDATE message_batches SET queued = queued - %(skipped)s,"
                    " skipped = skipped + %(skipped)s,"
                    " waiting = CASE WHEN %(done)s THEN '{}' ELSE waiting END,"
                    " made = CASE WHEN %(done)s THEN 0 ELSE made + %(n)s END"
                    " WHERE id = %(id)s",
                    {"skipped": skipped, "done": len(ids) == left, "n": len(ids),
                     "id": batch_id})
                taken += len(ids)
        except (MailingRefused, TemplateRefused) as exc:
            log.error("mailing %s cannot be sent: %s", batch_id, exc)
            refused.append(batch_id)
    return taken


def queue_chunk(conn: psycopg.Connection, batch: Batch, account_ids: list[int],
                settings: SimpleNamespace | None = None) -> tuple[int, int]:
    """(queued, skipped) for one chunk, by the one queueing every event takes (rendering
    in the operator's language, numbers to E.164, opt-outs, quiet hours), keyed per batch
    and account."""
    return queue_template(conn, batch.template_code, account_ids, batch.due_at,
                          f"batch:{batch.id}:", channel=batch.channel, batch_id=batch.id,
                          settings=settings)


def queue_next(conn: psycopg.Connection, batch_id: int, limit: int | None = None, *,
               settings: SimpleNamespace | None = None) -> bool:
    """Queue the batch's next chunk; False when nothing is left (the batch is then
    ``queued``) or it was cancelled. The batch's row is locked meanwhile: two runners
    of one batch take turns, never the same chunk. A refusal (``MailingRefused``: the
    template or the SMS backend is missing) leaves the batch where it stood."""
    batch = get(conn, batch_id, lock=True)
    if batch is None or batch.state != "selecting":
        return False
    limit = limit or CHUNK
    ids = selections.chunk(conn, selections.Selection.from_json(batch.selection),
                           batch.walked_to, limit)
    if not ids:
        conn.execute("UPDATE message_batches SET state = 'queued' WHERE id = %s",
                     (batch_id,))
        return False
    queued, skipped = queue_chunk(conn, batch, ids, settings)
    last = len(ids) < limit  # a short chunk is the selection's end
    conn.execute(
        "UPDATE message_batches SET queued = queued + %s, skipped = skipped + %s,"
        " walked_to = %s, state = CASE WHEN %s THEN 'queued' ELSE state END"
        " WHERE id = %s", (queued, skipped, ids[-1], last, batch_id))
    return not last


def cancel(conn: psycopg.Connection, batch_id: int) -> int | None:
    """Stop a batch and cancel its messages not yet handed to a provider (and those not
    made yet); the number cancelled, or None when the batch was cancelled already (or
    is not there)."""
    row = conn.execute(
        "UPDATE message_batches b SET state = 'cancelled', waiting = '{}', made = 0"
        "  FROM (SELECT id, cardinality(waiting) - made AS left FROM message_batches"
        "         WHERE id = %s FOR UPDATE) o"
        " WHERE b.id = o.id AND b.state <> 'cancelled' RETURNING o.left",
        (batch_id,)).fetchone()
    if row is None:
        return None
    return row[0] + conn.execute(
        "UPDATE messages SET state = 'cancelled' WHERE batch_id = %s AND state = 'queued'",
        (batch_id,)).rowcount
