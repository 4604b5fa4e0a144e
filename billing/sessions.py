"""Open sessions: the stale-session sweep and the history partitions it relies on.

Accounting itself is applied inside PostgreSQL by ``ebs_acct_apply()`` (called by
FreeRADIUS's rlm_sql); this module holds the set-based work around it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg

STALE_CAUSE = "Stale-Session"
CHUNK = 10_000

# One chunk: lock stale rows (skipping any an Accounting packet holds right now), delete
# them and write them to history in one statement. updated_at has no index on purpose
# (interim updates stay HOT, see sessions_open in sql/migrations/202612060900_baseline.sql):
# each chunk scans the table.
# stopped_at is the last time we heard from the session; a Stop arriving later fills in
# the real counters and cause, and an Interim arriving later reopens the session (see
# ebs_acct_apply).
_SWEEP_CHUNK = """
WITH stale AS (
    SELECT acct_unique_id
      FROM sessions_open
     WHERE updated_at < %(now)s - ebs_session_hold(interim_interval)
     LIMIT %(chunk)s
       FOR UPDATE SKIP LOCKED
), gone AS (
    DELETE FROM sessions_open o USING stale
     WHERE o.acct_unique_id = stale.acct_unique_id
    RETURNING o.*
)
INSERT INTO sessions_history (
    acct_unique_id, acct_session_id, subaccount_id, account_id, nas_id, nas_ip,
    username, framed_ip, calling_station_id, called_station_id, nas_port_id,
    started_at, stopped_at, input_octets, output_octets, session_time, terminate_cause)
SELECT acct_unique_id, acct_session_id, subaccount_id, account_id, nas_id, nas_ip,
       username, framed_ip, calling_station_id, called_station_id, nas_port_id,
       started_at, greatest(started_at, updated_at), input_octets, output_octets,
       session_time, %(cause)s
  FROM gone
ON CONFLICT DO NOTHING
"""


@dataclass(frozen=True)
class SweepResult:
    closed: int
    partitions_created: int


def ensure_history_partitions(conn: psycopg.Connection, now: datetime) -> int:
    """Monthly partitions of sessions_history from last month to three months ahead.

    Made ahead of time (never per packet): a row whose month has no partition yet lands
    in the default partition, which then blocks creating that month's partition.
    """
    row = conn.execute(
        "SELECT ebs_ensure_month_partitions('sessions_history', "
        "%(now)s::timestamptz - interval '1 month', %(now)s::timestamptz + interval '3 months')",
        {"now": now},
    ).fetchone()
    return int(row[0]) if row else 0


def sweep_stale_sessions(
    conn: psycopg.Connection, now: datetime, chunk: int = CHUNK
) -> SweepResult:
    """Close every open session silent for longer than its hold (``ebs_session_hold``:
    3 of its interim intervals).

    Moves them to sessions_history with cause 'Stale-Session', one committed chunk at a
    time, so a sweep after an outage never holds half a million row locks at once.
    Running it twice closes nothing more.
    """
    created = ensure_history_partitions(conn, now)
    conn.commit()
    closed = 0
    params = {"now": now, "chunk": chunk, "cause": STALE_CAUSE}
    while True:
        with conn.transaction():
            cursor = conn.execute(_SWEEP_CHUNK, params)
            moved = cursor.rowcount
        closed += moved
        if moved < chunk:
            return SweepResult(closed=closed, partitions_created=created)
