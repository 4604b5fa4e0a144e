"""The hourly traffic statistics rolled up to local days once older than the retention.

``traffic_stats_hourly`` holds a row per account, group and UTC hour: with hundreds of
thousands of subscribers that is millions of rows a day, worth keeping for the recent
months only (``TRAFFIC_STATS_HOURLY_KEEP_DAYS``). Older hours are summed per local day of
``TIME_ZONE`` (the hours starting on it, as every reader counts a day) into
``traffic_stats_daily`` and deleted, one whole local day per transaction, oldest first.

The move is one statement: a DELETE … RETURNING feeds the INSERT … ON CONFLICT DO
UPDATE that adds to the day, so the bytes added are exactly the bytes deleted. A rater
adding to an hour being moved waits for the move and then inserts a new hourly row
(its conflict is gone); under READ COMMITTED the DELETE itself takes the newest version of
a row updated while it waited. No byte is lost or counted twice, whatever runs beside it.
Hours that old are written only by a rater catching up on kept flows (FLOW_RETENTION_DAYS)
or by late accounting; re-rating changes charges, never statistics. Such a row stays
hourly until the next run moves it, and readers add both tables in the meantime.

Runs exclude each other by an advisory lock (``flow.locks``); a second run at once gives
way or, waiting, finds nothing left to move. Run twice, the second moves nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import psycopg

from flow import locks, stats_monthly

_OLDEST = "SELECT min(hour) FROM traffic_stats_hourly WHERE hour < %(before)s"

_MOVE = """
    WITH rolled AS (
        DELETE FROM traffic_stats_hourly
         WHERE hour >= %(since)s AND hour < %(until)s
        RETURNING hour, account_id, group_id, bytes_in, bytes_out
    ),
    added AS (
        INSERT INTO traffic_stats_daily AS d (day, account_id, group_id, bytes_in, bytes_out)
        SELECT (hour AT TIME ZONE %(tz)s)::date, account_id, group_id,
               sum(bytes_in)::bigint, sum(bytes_out)::bigint
          FROM rolled
         GROUP BY 1, 2, 3
        ON CONFLICT (day, account_id, group_id) DO UPDATE
           SET bytes_in = d.bytes_in + EXCLUDED.bytes_in,
               bytes_out = d.bytes_out + EXCLUDED.bytes_out
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM rolled), (SELECT count(*) FROM added)
"""


def keep_hourly_days(settings) -> int:
    """Whole local days (today included) kept hourly: ``TRAFFIC_STATS_HOURLY_KEEP_DAYS``."""
    return int(settings.TRAFFIC_STATS_HOURLY_KEEP_DAYS)


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The moment ``day`` starts on the ISP's clock."""
    return datetime.combine(day, time(), tz)


def hourly_from(today: date, keep_days: int) -> date:
    """The first local day still kept hourly: ``keep_days`` days counting today."""
    if keep_days < 1:
        raise ValueError("TRAFFIC_STATS_HOURLY_KEEP_DAYS must be at least 1")
    return today - timedelta(days=keep_days - 1)


@dataclass
class RollupResult:
    """Local days rolled up, hourly rows moved, daily rows written (added or new), and
    the first day kept hourly; ``skipped`` when another run held the lock."""

    days: int = 0
    hourly_rows: int = 0
    daily_rows: int = 0
    hourly_from: date | None = None
    skipped: bool = False
    months_rebuilt: int | None = None  # monthly rows cut again in TIME_ZONE, if they were

    def as_dict(self) -> dict:
        return {"days": self.days, "hourly_rows": self.hourly_rows,
                "daily_rows": self.daily_rows,
                "hourly_from": self.hourly_from.isoformat() if self.hourly_from else None,
                "skipped": self.skipped, "months_rebuilt": self.months_rebuilt}


def roll_up(conn: psycopg.Connection, today: date, tz: ZoneInfo, keep_days: int, *,
            wait: bool = True) -> RollupResult:
    """Move every hour before the first local day kept hourly (``keep_days`` counting
    ``today``) into its local day, a day per transaction. ``conn`` is in autocommit mode
    (each day commits on its own)."""
    if not conn.autocommit:
        raise ValueError("roll_up() needs a connection in autocommit mode")
    first_kept = hourly_from(today, keep_days)
    result = RollupResult(hourly_from=first_kept)
    # The months are cut in one zone: again in this one if they are not (an upgrade
    # brought the table, or the operator changed TIME_ZONE).
    result.months_rebuilt = stats_monthly.ensure(conn, tz)
    before = local_midnight(first_kept, tz)
    while True:
        with conn.transaction():
            if not locks.hold(conn, locks.STATS_ROLLUP, wait=wait):
                result.skipped = True
                return result
            oldest = conn.execute(_OLDEST, {"before": before}).fetchone()[0]
            if oldest is None:
                return result
            day = oldest.astimezone(tz).date()
            since = local_midnight(day, tz)
            until = min(local_midnight(day + timedelta(days=1), tz), before)
            moved, written = conn.execute(
                _MOVE, {"since": since, "until": until, "tz": tz.key}).fetchone()
        result.days += 1
        result.hourly_rows += moved
        result.daily_rows += written
