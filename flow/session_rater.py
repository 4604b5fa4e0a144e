"""The rater's second source: RADIUS accounting. Each session's growth of octets and
seconds since it was last rated (``billing.session_deltas``) is charged as traffic of the
tariff's accounting group (``flow.counter_traffic``) and as time online
(``billing.time_charging``), and the sessions' marks move, all in one transaction: a run
killed midway rates nothing, a run repeated finds nothing grown.

It takes the collector rater's lock (both move the same ``traffic_usage`` rows, whose
cumulative totals a concurrent update would lose), and keeps its own watermark
(source ``radius``): the moment of its last run, behind which history rows stopped in
the late window (``FLOW_RATE_LATE_MINUTES``) are still read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import psycopg

from billing.session_deltas import keep_marks, session_deltas
from billing.time_charging import charge_time
from billing.wallclock import to_utc
from flow import locks
from flow.counter_traffic import charge_counter_traffic
from flow.rater import watermark

SOURCE = "radius"

_WATERMARK = """
    INSERT INTO traffic_rating_state AS s (source, rated_to, updated_at)
    VALUES (%(source)s, %(rated_to)s, now())
    ON CONFLICT (source) DO UPDATE
       SET rated_to = greatest(s.rated_to, EXCLUDED.rated_to), updated_at = now()
"""


@dataclass
class SessionRateResult:
    """What a run did; ``implausible``: sessions whose seconds online went beyond what
    the time since their start allows (the excess is not charged); ``skipped`` when
    another run held the lock and ``wait`` was off."""

    sessions: int = 0
    traffic_entries: int = 0
    traffic_amount: Decimal = Decimal(0)
    rated_bytes: int = 0
    time_entries: int = 0
    time_amount: Decimal = Decimal(0)
    rated_seconds: Decimal = Decimal(0)
    implausible: int = 0
    skipped: bool = False

    def as_dict(self) -> dict:
        return {
            "sessions": self.sessions, "traffic_entries": self.traffic_entries,
            "traffic_amount": str(self.traffic_amount), "rated_bytes": self.rated_bytes,
            "time_entries": self.time_entries, "time_amount": str(self.time_amount),
            "rated_seconds": str(self.rated_seconds), "implausible": self.implausible,
            "skipped": self.skipped,
        }


def rate_sessions(
    conn: psycopg.Connection,
    at: datetime,
    tz: ZoneInfo,
    *,
    late_minutes: int = 15,
    wait: bool = True,
) -> SessionRateResult:
    """Rate what the sessions' counters grew by up to now; ``at`` is the run's moment
    (its watermark; history rows stopped within ``late_minutes`` before the previous
    run's moment are read). ``conn`` is in autocommit mode: the run is one transaction."""
    if late_minutes < 0:
        raise ValueError("late_minutes must be >= 0")
    if not conn.autocommit:
        raise ValueError("rate_sessions() needs a connection in autocommit mode")
    at = to_utc(at, "at").astimezone(UTC)
    result = SessionRateResult()
    with conn.transaction():
        if not locks.hold(conn, locks.USAGE, wait=wait):
            result.skipped = True
            return result
        since = min(watermark(conn, SOURCE) or at, at) - timedelta(minutes=late_minutes)
        result.sessions, result.implausible = session_deltas(conn, since, at)
        if result.sessions:
            traffic = charge_counter_traffic(conn, tz)
            result.traffic_entries = traffic.entries
            result.traffic_amount = traffic.amount
            result.rated_bytes = traffic.rated_bytes
            time = charge_time(conn, tz)
            result.time_entries = time.entries
            result.time_amount = time.amount
            result.rated_seconds = time.rated_seconds
        late = timedelta(minutes=late_minutes)
        keep_marks(conn, max(watermark(conn, SOURCE) or at, at) - late, at)
        conn.execute(_WATERMARK, {"source": SOURCE, "rated_to": at})
    return result
