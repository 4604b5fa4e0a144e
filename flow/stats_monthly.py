"""The traffic statistics per local month (``traffic_stats_monthly``): what the top
consumers of whole months are read from.

Every writer of the hourly statistics adds its change to the month in the same
transaction (flow/groups.py), so a month's row is its total at any time. The months are
cut in one zone, named in ``traffic_stats_monthly_zone``; :func:`ensure` (re)builds them
from the hourly and daily rows when that zone is not ``TIME_ZONE`` — after the upgrade
that brings the table, after a seed, or when the operator changes the zone — and readers
use the months only while the zone matches (webapp/reports.py).
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import psycopg

from flow import locks

# Rows of the hourly and daily statistics, each added to its local month.
_REBUILD = """
    INSERT INTO traffic_stats_monthly (month, account_id, group_id, bytes_in, bytes_out)
    SELECT s.month, s.account_id, s.group_id, sum(s.bytes_in)::bigint,
           sum(s.bytes_out)::bigint
      FROM (SELECT date_trunc('month', h.hour AT TIME ZONE %(tz)s)::date AS month,
                   h.account_id, h.group_id, h.bytes_in, h.bytes_out
              FROM traffic_stats_hourly h
            UNION ALL
            SELECT date_trunc('month', d.day)::date, d.account_id, d.group_id, d.bytes_in,
                   d.bytes_out
              FROM traffic_stats_daily d) s
     GROUP BY 1, 2, 3
"""

_ZONE = """
    INSERT INTO traffic_stats_monthly_zone (zone) VALUES (%(tz)s)
    ON CONFLICT (only_row) DO UPDATE SET zone = EXCLUDED.zone, built_at = now()
"""


def built_zone(conn: psycopg.Connection) -> str | None:
    row = conn.execute("SELECT zone FROM traffic_stats_monthly_zone").fetchone()
    return row[0] if row else None


def rebuild(conn: psycopg.Connection, tz: ZoneInfo) -> int:
    """Cut the months again from the hourly and daily rows in ``tz``; returns the rows
    written. Holds the usage lock (every writer of the statistics takes it), inside the
    caller's transaction."""
    locks.hold(conn, locks.USAGE)
    conn.execute("DELETE FROM traffic_stats_monthly")
    written = conn.execute(_REBUILD, {"tz": tz.key}).rowcount
    conn.execute(_ZONE, {"tz": tz.key})
    return written


def ensure(conn: psycopg.Connection, tz: ZoneInfo) -> int | None:
    """Rebuild the months when they are not cut in ``tz``; the rows written, or None
    when they were already. Its own transaction when ``conn`` is in autocommit mode."""
    with conn.transaction():
        if built_zone(conn) == tz.key:
            return None
        # Another run (a seed, a hand-run roll-up) may have cut them while we waited.
        locks.hold(conn, locks.USAGE)
        if built_zone(conn) == tz.key:
            return None
        return rebuild(conn, tz)
