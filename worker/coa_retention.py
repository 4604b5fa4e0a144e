"""``ebs.prune_coa``: keep ``coa_requests`` from growing without end.

Every Disconnect and CoA adds or reclaims a row, so the table grows with every debtor,
every night speed and every admin's kick. Rows older than ``COA_RETENTION_DAYS``
(finished: ACK, NAK, timeout or error) are deleted in batches, oldest first, one
committed statement per batch, so a first run over years of rows neither holds long
locks nor one huge transaction. Two kinds of row are never deleted:

* a claim still 'sending': a request in flight, or a dead worker's claim that
  ``worker.coa_store`` takes over;
* the latest row of a session that is still open: the enforcement reads it to know what
  the NAS was last asked (``worker.live_sessions``); without it a session we disconnected
  or re-speeded would look as if its login had made it so.

Older rows of an open session can go: a newer request superseded them, and the claim
lets a superseded state be sent again anyway.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg

from billing import settings as settings_mod
from billing.db import connect
from worker import arguments
from worker.app import celery

__all__ = ["BATCH", "prune", "prune_coa"]

BATCH = 5000

# One batch: the next BATCH finished rows older than the cut-off in (finished_at, id)
# order after the previous batch's last one (coa_requests_finished_idx), then the
# deletion of those that are not the latest row of an open session. The conditions are
# repeated on the deleted row, so a row reclaimed meanwhile (state 'sending' again) stays.
_BATCH = """
WITH scan AS (
    SELECT c.id, c.finished_at
      FROM coa_requests c
     WHERE c.state = 'done' AND c.finished_at < %(before)s
       AND (c.finished_at, c.id) > (%(after_at)s, %(after_id)s)
     ORDER BY c.finished_at, c.id
     LIMIT %(batch)s
), gone AS (
    DELETE FROM coa_requests d
     USING scan s
     WHERE d.id = s.id AND d.state = 'done' AND d.finished_at < %(before)s
       AND NOT (EXISTS (SELECT 1 FROM sessions_open so
                         WHERE so.acct_unique_id = d.acct_unique_id)
                AND NOT EXISTS (SELECT 1 FROM coa_requests o
                                 WHERE o.acct_unique_id = d.acct_unique_id
                                   AND (o.requested_at, o.id) > (d.requested_at, d.id)))
    RETURNING d.id
)
SELECT (SELECT count(*) FROM gone), last.finished_at, last.id
  FROM (SELECT finished_at, id FROM scan ORDER BY finished_at DESC, id DESC LIMIT 1) last
"""


def prune(conn: psycopg.Connection, before: datetime, batch: int = BATCH) -> tuple[int, int]:
    """Delete finished requests that ended before ``before`` (module docstring), ``batch``
    rows scanned per committed statement; ``conn`` autocommits. Returns (deleted, batches).
    """
    deleted = batches = 0
    after_at, after_id = datetime.min.replace(tzinfo=UTC), 0
    while True:
        row = conn.execute(_BATCH, {"before": before, "after_at": after_at,
                                    "after_id": after_id, "batch": batch}).fetchone()
        if row is None:
            return deleted, batches
        gone, after_at, after_id = row
        deleted += gone
        batches += 1


@celery.task(name="ebs.prune_coa")
def prune_coa(at: str | None = None) -> dict:
    """Delete CoA/Disconnect records older than ``COA_RETENTION_DAYS`` (beat, daily).
    ``at`` (ISO 8601) replaces the clock for tests and replays, never a moment ahead of
    it (records still kept would go); safe to run twice."""
    settings = settings_mod.load()
    now = arguments.moment(at, settings)
    before = now - timedelta(days=int(settings.COA_RETENTION_DAYS))
    with connect(settings_mod.database_conninfo(settings, component="worker"),
                 autocommit=True) as conn:
        deleted, batches = prune(conn, before)
    return {"before": before.isoformat(), "deleted": deleted, "batches": batches}
