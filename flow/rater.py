"""The traffic rater: the collector's rows to statistics and charges, exactly once.

A run takes the bins from the watermark's late window (``FLOW_RATE_LATE_MINUTES`` before
``rated_to``) up to the current minute, in chunks of ``FLOW_RATE_CHUNK_MINUTES``, one
transaction each. A bin is rated when its rows or bytes differ from what was rated
(``traffic_bin_marks``): a new bin, or an old one that late rows reached; a rated bin is
rated by the change of its group values, so nothing is lost and nothing doubles.

Runs exclude each other with a transaction-scoped advisory lock taken first in each
chunk, under READ COMMITTED: every statement after the lock sees what the previous
holder committed (a REPEATABLE READ snapshot taken before the wait would not). A second
run at once waits and then finds nothing changed, or with ``wait=False`` gives way at
once. A run killed midway loses its open chunk whole.

Rows that arrive later than the late window behind the watermark are not read again:
the collector bins by arrival time and exporters are told to export active flows every
60 s (README), so rows come late only when the collector could not write (a restart, a
database away); the window (15 minutes by default) is what every run reads again, so it
is a cost per minute.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import psycopg

from billing.wallclock import to_utc
from flow import locks
from flow.attribution import attribute
from flow.groups import group_deltas
from flow.limits import group_bins_horizon
from flow.rating import BIN, charge_deltas

SOURCE = "netflow"


_CHANGED_BINS = """
    CREATE TEMP TABLE rate_bins ON COMMIT DROP AS
    SELECT f.bin, f.row_count, f.bytes
      FROM (SELECT bin, count(*) AS row_count, sum(bytes)::numeric AS bytes
              FROM flow_bin_rows
             WHERE bin >= %(lo)s AND bin < %(hi)s
             GROUP BY bin) f
      LEFT JOIN traffic_bin_marks m ON m.bin = f.bin
     WHERE m.bin IS NULL OR m.row_count <> f.row_count OR m.bytes <> f.bytes
"""

_MARK = """
    INSERT INTO traffic_bin_marks (bin, row_count, bytes)
    SELECT bin, row_count, bytes FROM rate_bins
    ON CONFLICT (bin) DO UPDATE SET row_count = EXCLUDED.row_count, bytes = EXCLUDED.bytes
"""

_WATERMARK = """
    INSERT INTO traffic_rating_state AS s (source, rated_to, updated_at)
    VALUES (%(source)s, %(rated_to)s, now())
    ON CONFLICT (source) DO UPDATE
       SET rated_to = greatest(s.rated_to, EXCLUDED.rated_to), updated_at = now()
"""


_GROUP_BINS_FROM = """
    UPDATE traffic_rating_state
       SET group_bins_from = greatest(group_bins_from, %(kept_from)s)
     WHERE source = %(source)s AND group_bins_from IS DISTINCT FROM
           greatest(group_bins_from, %(kept_from)s)
"""


def keep_group_bins(settings) -> timedelta:
    """How long rated minutes are kept for re-rating (``TRAFFIC_GROUP_BINS_KEEP_DAYS``,
    whole days)."""
    return timedelta(days=int(settings.TRAFFIC_GROUP_BINS_KEEP_DAYS))


@dataclass
class RateResult:
    """What a run did; ``skipped`` when another run held the lock and ``wait`` was off."""

    rated_to: datetime | None = None
    chunks: int = 0
    bins: int = 0
    changed: int = 0
    rejected_rows: int = 0
    entries: int = 0
    amount: Decimal = Decimal(0)
    rated_bytes: int = 0
    skipped: bool = False
    chunk_ends: list[datetime] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "rated_to": self.rated_to.isoformat() if self.rated_to else None,
            "chunks": self.chunks, "bins": self.bins, "changed": self.changed,
            "rejected_rows": self.rejected_rows, "entries": self.entries,
            "amount": str(self.amount), "rated_bytes": self.rated_bytes,
            "skipped": self.skipped,
        }


def _minute(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


def watermark(conn: psycopg.Connection, source: str = SOURCE) -> datetime | None:
    row = conn.execute("SELECT rated_to FROM traffic_rating_state WHERE source = %s",
                       (source,)).fetchone()
    return row[0] if row else None


def _chunk(
    conn: psycopg.Connection, result: RateResult, lo: datetime, hi: datetime, late: timedelta,
    tz: ZoneInfo, keep: timedelta,
) -> None:
    conn.execute(_CHANGED_BINS, {"lo": lo, "hi": hi})
    bins = conn.execute("SELECT count(*) FROM rate_bins").fetchone()[0]
    if bins:
        conn.execute("ANALYZE rate_bins")
        result.bins += bins
        result.rejected_rows += attribute(conn, lo, hi)
        changed = group_deltas(conn, tz)
        result.changed += changed
        if changed:
            charged = charge_deltas(conn, tz)
            result.entries += charged.entries
            result.amount += charged.amount
            result.rated_bytes += charged.rated_bytes
        conn.execute(_MARK)
    conn.execute(_WATERMARK, {"source": SOURCE, "rated_to": hi})
    # Bins before the next run's late window are never read again; their group values
    # are kept for the limits' sliding windows and re-rating (flow/limits.py).
    horizon = watermark(conn) - late
    conn.execute("DELETE FROM traffic_bin_marks WHERE bin < %s", (horizon,))
    kept_from = group_bins_horizon(conn, horizon, keep)
    if conn.execute("DELETE FROM traffic_group_bins WHERE bin < %s", (kept_from,)).rowcount:
        conn.execute(_GROUP_BINS_FROM, {"source": SOURCE, "kept_from": kept_from})


def rate(
    conn: psycopg.Connection,
    at: datetime,
    tz: ZoneInfo,
    *,
    late_minutes: int = 15,
    chunk_minutes: int = 60,
    wait: bool = True,
    keep_group_bins: timedelta = timedelta(0),
    progress: Callable[[RateResult, datetime, datetime], None] | None = None,
) -> RateResult:
    """Rate every bin up to the minute of ``at`` (that minute included, as far as it has
    arrived: the rest comes as a delta), and the late window's bins again where they
    grew. ``conn`` is in autocommit mode: each chunk is its own transaction.
    ``progress`` is called after each chunk with the result so far, the chunk's end and
    the run's end. ``keep_group_bins``: how long each bin's group values are kept
    behind the late window for re-rating (flow/rerate.py)."""
    if late_minutes < 0 or chunk_minutes < 1:
        raise ValueError("late_minutes must be >= 0 and chunk_minutes >= 1")
    if not conn.autocommit:
        # Each chunk commits (and drops its temporary tables) on its own; inside a
        # caller's transaction nothing would commit until the caller's end.
        raise ValueError("rate() needs a connection in autocommit mode")
    late, step = timedelta(minutes=late_minutes), timedelta(minutes=chunk_minutes)
    end = _minute(to_utc(at, "at").astimezone(UTC)) + BIN
    result = RateResult()
    while True:
        with conn.transaction():
            if not locks.hold(conn, locks.USAGE, wait=wait):
                result.skipped = True
                return result
            rated_to = watermark(conn) or end - late
            # Caught up (or asked for an earlier moment): the late window alone.
            lo, hi = rated_to - late, max(min(rated_to + step, end), rated_to)
            _chunk(conn, result, lo, hi, late, tz, keep_group_bins)
            result.chunks += 1
            result.chunk_ends.append(hi)
            result.rated_to = watermark(conn)
        if progress is not None:
            progress(result, hi, end)
        if hi >= end:
            return result
