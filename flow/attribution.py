"""Attribution of the collector's rows to subscribers, at the bin's time.

An address belongs to whoever held it when the bytes flowed: the session (open or in
history) whose framed address it was over [started_at, stopped_at), else the subaccount
it is statically assigned to. Today's holder is never asked: addresses of a pool change
hands all day. Within one minute an address can change hands; the session that started
last before the bin's end takes the whole bin, so a bin is never split by guess.

Rows that belong to nobody, that name no direction, or that carry no bytes (the collector
writes a key whose every record in the minute was a counter-less IPFIX record; one
merged with counted records of the same key is not seen apart) are counted per bin and
reason in ``traffic_rejects`` and rated for nobody.

Everything here runs inside the rater's transaction over the temporary table
``rate_bins`` (the bins to rate) and leaves ``rate_rows`` (the bins' rows summed per
address, class and direction) and ``rate_holders`` (who held each address per bin).
"""

from __future__ import annotations

from datetime import datetime

import psycopg

# The collector may write a key more than once (a restart within a bin): sum them.
_ROWS = """
    CREATE TEMP TABLE rate_rows ON COMMIT DROP AS
    SELECT r.bin, r.address, r.class_id, r.direction,
           sum(r.bytes)::bigint AS bytes, count(*)::bigint AS row_count
      FROM flow_bin_rows r
     WHERE r.bin >= %(lo)s AND r.bin < %(hi)s
       AND r.bin IN (SELECT bin FROM rate_bins)
     GROUP BY r.bin, r.address, r.class_id, r.direction
"""

# One holder per (bin, address): a session beats a static address, and among sessions
# the one started last before the bin's end (the one-minute bins of flow_bin_rows). The
# candidates are looked up once per address over the span of its bins (history by its
# stop, so only an address's recent sessions are read), then matched to each bin.
_HOLDERS = """
    CREATE TEMP TABLE rate_holders ON COMMIT DROP AS
    WITH addresses AS (
        SELECT address, min(bin) AS first_bin, max(bin) + interval '1 minute' AS last_end
          FROM rate_rows WHERE direction IS NOT NULL
         GROUP BY address
    ),
    candidates AS (
        SELECT a.address, h.account_id, h.started_at, h.stopped_at, h.by_session
          FROM addresses a
          CROSS JOIN LATERAL (
                SELECT s.account_id, s.started_at, 'infinity'::timestamptz AS stopped_at,
                       1 AS by_session
                  FROM sessions_open s
                 WHERE s.framed_ip = a.address AND s.account_id IS NOT NULL
                   AND s.started_at < a.last_end
                UNION ALL
                SELECT s.account_id, s.started_at, s.stopped_at, 1
                  FROM sessions_history s
                 WHERE s.framed_ip = a.address AND s.account_id IS NOT NULL
                   AND s.stopped_at > a.first_bin AND s.started_at < a.last_end
                UNION ALL
                SELECT sa.account_id, '-infinity', 'infinity', 0
                  FROM subaccounts sa
                 WHERE sa.ip_address = a.address
          ) h
    )
    SELECT DISTINCT ON (b.bin, b.address) b.bin, b.address, c.account_id
      FROM (SELECT DISTINCT bin, address FROM rate_rows WHERE direction IS NOT NULL) b
      JOIN candidates c
        ON c.address = b.address
       AND c.started_at < b.bin + interval '1 minute' AND c.stopped_at > b.bin
     ORDER BY b.bin, b.address, c.by_session DESC, c.started_at DESC
"""

# A bin rated again is counted again whole, so its figures replace the earlier ones.
_REJECTS = """
    WITH counted AS (
    INSERT INTO traffic_rejects (bin, reason, row_count, bytes)
    SELECT r.bin,
           CASE WHEN r.direction IS NULL THEN 'no_direction'
                WHEN r.bytes = 0 THEN 'zero_bytes' ELSE 'no_holder' END,
           sum(r.row_count), sum(r.bytes)
      FROM rate_rows r
      LEFT JOIN rate_holders h ON h.bin = r.bin AND h.address = r.address
     WHERE r.direction IS NULL OR r.bytes = 0 OR h.account_id IS NULL
     GROUP BY 1, 2
    RETURNING row_count
    )
    SELECT coalesce(sum(row_count), 0)::bigint FROM counted
"""


def attribute(conn: psycopg.Connection, lo: datetime, hi: datetime) -> int:
    """Build ``rate_rows`` and ``rate_holders`` for the bins of ``rate_bins`` in [lo, hi)
    and rewrite their reject counts; returns the rows nobody could take."""
    params = {"lo": lo, "hi": hi}
    conn.execute(_ROWS, params)
    conn.execute("ANALYZE rate_rows")
    conn.execute(_HOLDERS)
    conn.execute("ANALYZE rate_holders")
    conn.execute("DELETE FROM traffic_rejects WHERE bin IN (SELECT bin FROM rate_bins)")
    rejected = conn.execute(_REJECTS).fetchone()[0]
    conn.execute("DELETE FROM rate_rows WHERE bytes = 0")  # counted; nothing to rate
    return rejected
