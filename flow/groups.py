"""Traffic groups per bin and account, the change since a bin was last rated, and the
hourly statistics.

A group's bytes in a bin are the sum of its classes' bytes in its direction(s), or, for
rule ``max``, the largest of its classes (per direction: a ``both`` group of rule max
counts the largest class inbound plus the largest class outbound). Class 0 ("no class")
is in no group.

A bin rated again (late rows arrived) is rated by the change of its group values, not by
its late rows alone: the largest class of a bin may change with them. So the values
rated per bin are kept in ``traffic_group_bins`` for the late window, and the change is
what the statistics and the charges take (``rate_deltas``).
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import psycopg

_GROUP_BINS = """
    CREATE TEMP TABLE rate_group_bins ON COMMIT DROP AS
    WITH per_class AS (
        SELECT r.bin, h.account_id, r.class_id, r.direction, sum(r.bytes) AS bytes
          FROM rate_rows r
          JOIN rate_holders h ON h.bin = r.bin AND h.address = r.address
         WHERE h.account_id IS NOT NULL
         GROUP BY 1, 2, 3, 4
    )
    SELECT c.bin, c.account_id, g.id AS group_id,
           (CASE WHEN g.rule = 'max'
                 THEN coalesce(max(c.bytes) FILTER (WHERE c.direction = 'in'), 0)
                 ELSE coalesce(sum(c.bytes) FILTER (WHERE c.direction = 'in'), 0) END
           )::bigint AS bytes_in,
           (CASE WHEN g.rule = 'max'
                 THEN coalesce(max(c.bytes) FILTER (WHERE c.direction = 'out'), 0)
                 ELSE coalesce(sum(c.bytes) FILTER (WHERE c.direction = 'out'), 0) END
           )::bigint AS bytes_out
      FROM per_class c
      JOIN traffic_group_classes gc ON gc.class_id = c.class_id
      JOIN traffic_groups g ON g.id = gc.group_id AND g.direction IN ('both', c.direction)
     GROUP BY c.bin, c.account_id, g.id, g.rule
"""

_DELTAS = """
    CREATE TEMP TABLE rate_deltas ON COMMIT DROP AS
    SELECT bin, account_id, group_id,
           coalesce(n.bytes_in, 0) - coalesce(o.bytes_in, 0) AS bytes_in,
           coalesce(n.bytes_out, 0) - coalesce(o.bytes_out, 0) AS bytes_out
      FROM rate_group_bins n
      FULL JOIN (SELECT * FROM traffic_group_bins
                  WHERE bin IN (SELECT bin FROM rate_bins)) o
           USING (bin, account_id, group_id)
     WHERE coalesce(n.bytes_in, 0) <> coalesce(o.bytes_in, 0)
        OR coalesce(n.bytes_out, 0) <> coalesce(o.bytes_out, 0)
"""

_KEEP = """
    INSERT INTO traffic_group_bins (bin, account_id, group_id, bytes_in, bytes_out)
    SELECT bin, account_id, group_id, bytes_in, bytes_out FROM rate_group_bins
"""

def _add_deltas(table: str, bucket: str, bucket_of_bin: str) -> str:
    """An upsert adding ``rate_deltas`` to ``table``'s rows of (``bucket``, account,
    group), the bucket of a bin being ``bucket_of_bin`` (of ``d.bin``)."""
    return f"""
    INSERT INTO {table} AS s ({bucket}, account_id, group_id, bytes_in, bytes_out)
    SELECT {bucket_of_bin}, d.account_id, d.group_id, sum(d.bytes_in), sum(d.bytes_out)
      FROM rate_deltas d
      JOIN accounts a ON a.id = d.account_id
     GROUP BY 1, 2, 3
    ON CONFLICT ({bucket}, account_id, group_id) DO UPDATE
       SET bytes_in = s.bytes_in + EXCLUDED.bytes_in,
           bytes_out = s.bytes_out + EXCLUDED.bytes_out
"""


# Hours of UTC: a report in local time sums them (every zone's offset is whole hours
# but a few, which then see their hour split at the half).
_HOUR = "date_trunc('hour', d.bin, 'UTC')"
_STATS = _add_deltas("traffic_stats_hourly", "hour", _HOUR)
# The same change added to the local month of each hour (flow/stats_monthly.py).
_MONTHS = _add_deltas("traffic_stats_monthly", "month",
                      f"date_trunc('month', {_HOUR} AT TIME ZONE %(tz)s)::date")


def group_deltas(conn: psycopg.Connection, tz: ZoneInfo) -> int:
    """Build ``rate_deltas`` (the change of each group value of the bins in ``rate_bins``),
    keep the new values and add the change to the hourly statistics; returns how many
    (bin, account, group) values changed."""
    conn.execute(_GROUP_BINS)
    conn.execute(_DELTAS)
    conn.execute("ANALYZE rate_deltas")
    conn.execute("DELETE FROM traffic_group_bins WHERE bin IN (SELECT bin FROM rate_bins)")
    conn.execute(_KEEP)
    changed = conn.execute("SELECT count(*) FROM rate_deltas").fetchone()[0]
    if changed:
        add_hourly_stats(conn, tz)
    return changed


def add_hourly_stats(conn: psycopg.Connection, tz: ZoneInfo) -> None:
    """Add ``rate_deltas`` to the hourly statistics and to the months of ``tz`` (every
    source of traffic does)."""
    conn.execute(_STATS)
    conn.execute(_MONTHS, {"tz": tz.key})
