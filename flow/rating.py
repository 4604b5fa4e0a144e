"""Charges for the group deltas of a rating run (``rate_deltas``), per tariff's traffic
service: prepaid first, then per MB at the price in force at the usage time.

Usage accumulates per account, group, tariff assignment and settlement period in
``traffic_usage`` at full precision (bytes, and cost as bytes x price x 2**-20 in
NUMERIC, which is exact); each posting is the change of the rounded cumulative cost
(DESIGN.md), so thousands of tiny bins lose nothing and create no phantom kopecks. A
posting's idempotency key is the usage row and its posting number, both moved in the
same statement that inserts the entry; a key met twice would mean the usage and the
ledger parted, so it fails the run (no ON CONFLICT) rather than skip a posting.

The calendar (settlement periods, time-of-day prices) is computed in Python by
``billing.usage_calendar`` once per settlement period (per assignment for autostart
periods) and per price list and bin, copied to temporary tables, and joined by
set-based statements: never a statement per account.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

import psycopg

from billing.traffic_pricing import BYTE_PRICE_FACTOR, MEGABYTE
from billing.usage_calendar import MINUTE, fill_periods, fill_prices, price_lists

BIN = MINUTE


@dataclass(frozen=True, slots=True)
class Charged:
    entries: int = 0
    amount: Decimal = Decimal(0)
    rated_bytes: int = 0


# The deltas a tariff of the account prices, grants prepaid for or limits per period,
# with the assignment in force at the bin (billing/assignments.py's rule, in SQL as
# ebs_assignment_in_force).
_USAGE_ROWS = """
    CREATE TEMP TABLE rate_usage_rows ON COMMIT DROP AS
    SELECT d.bin, d.account_id, d.group_id, (d.bytes_in + d.bytes_out)::numeric AS bytes,
           a.id AS assignment_id, a.tariff_id, a.assigned_at, t.settlement_period_id,
           CASE WHEN sp.autostart THEN 'a' || a.id
                ELSE 's' || coalesce(t.settlement_period_id, 0) END AS period_key
      FROM rate_deltas d
      CROSS JOIN LATERAL ebs_assignment_in_force(d.account_id, d.bin) a
      JOIN tariffs t ON t.id = a.tariff_id
      LEFT JOIN settlement_periods sp ON sp.id = t.settlement_period_id
     WHERE d.bytes_in + d.bytes_out <> 0
       AND (EXISTS (SELECT 1 FROM tariff_traffic_prices p
                     WHERE p.tariff_id = a.tariff_id AND p.group_id = d.group_id)
            OR EXISTS (SELECT 1 FROM tariff_traffic_prepaid q
                        WHERE q.tariff_id = a.tariff_id AND q.group_id = d.group_id)
            -- a limit per settlement period counts this usage (flow/limits.py)
            OR EXISTS (SELECT 1 FROM tariff_traffic_limits l
                        WHERE l.tariff_id = a.tariff_id AND l.group_id = d.group_id
                          AND l.window_seconds IS NULL))
"""

# Each delta with its period; stage numbers a key's periods in this run, so a period's
# usage is complete before the next one's row reads it for rollover.
_STAGED = """
    CREATE TEMP TABLE rate_staged ON COMMIT DROP AS
    SELECT u.*, p.period_start, p.period_end,
           dense_rank() OVER (PARTITION BY u.account_id, u.group_id, u.assignment_id
                              ORDER BY p.period_start) AS stage
      FROM rate_usage_rows u
      JOIN rate_periods p
        ON p.period_key = u.period_key
       AND u.bin >= p.period_start AND u.bin < p.period_end
"""

# A period's row: the prepaid megabytes in whole bytes (the local days' share of the
# first period of an assignment that started inside it, as billing.periods.local_days
# counts them), plus the unused rest of the period just before, with rollover.
_OPEN_USAGE = """
    INSERT INTO traffic_usage
        (account_id, group_id, assignment_id, period_start, period_end, prepaid_bytes)
    SELECT k.account_id, k.group_id, k.assignment_id, k.period_start, k.period_end,
           coalesce(round(q.megabytes * %(megabyte)s
                    * CASE WHEN q.prorate_first_period AND k.assigned_at > k.period_start
                           THEN (k.period_end AT TIME ZONE %(tz)s)::date
                                - (k.assigned_at AT TIME ZONE %(tz)s)::date
                           ELSE 1 END
                    / CASE WHEN q.prorate_first_period AND k.assigned_at > k.period_start
                           THEN greatest((k.period_end AT TIME ZONE %(tz)s)::date
                                         - (k.period_start AT TIME ZONE %(tz)s)::date, 1)
                           ELSE 1 END), 0)
           + coalesce(rest.bytes, 0)
      FROM (SELECT DISTINCT account_id, group_id, assignment_id, tariff_id, assigned_at,
                   period_start, period_end
              FROM rate_staged WHERE stage = %(stage)s) k
      LEFT JOIN tariff_traffic_prepaid q
             ON q.tariff_id = k.tariff_id AND q.group_id = k.group_id
      LEFT JOIN LATERAL (
            SELECT greatest(prev.prepaid_bytes - prev.used_bytes, 0) AS bytes
              FROM traffic_usage prev
             WHERE prev.assignment_id = k.assignment_id AND prev.group_id = k.group_id
               AND prev.account_id = k.account_id AND prev.period_end = k.period_start
      ) rest ON q.rollover
    ON CONFLICT (account_id, group_id, assignment_id, period_start) DO NOTHING
"""

# Prepaid is consumed first, in bin order, even inside one bin: a delta bills only what
# its running total takes past the allowance.
_CHARGE = """
    WITH d AS (
        SELECT u.id AS usage_id, s.bin, s.bytes, coalesce(p.price, 0) AS price,
               u.prepaid_bytes AS prepaid,
               u.used_bytes + sum(s.bytes) OVER (PARTITION BY u.id ORDER BY s.bin) AS after
          FROM rate_staged s
          JOIN traffic_usage u
            ON u.account_id = s.account_id AND u.group_id = s.group_id
           AND u.assignment_id = s.assignment_id AND u.period_start = s.period_start
          LEFT JOIN rate_prices p
            ON p.tariff_id = s.tariff_id AND p.group_id = s.group_id AND p.bin = s.bin
         WHERE s.stage = %(stage)s
    ),
    billed AS (
        SELECT usage_id, bin, bytes, price,
               greatest(after - prepaid, 0) - greatest(after - bytes - prepaid, 0) AS billed
          FROM d
    ),
    totals AS (
        SELECT b.usage_id, sum(b.bytes) AS used, sum(b.billed) AS billed,
               u.cost + sum(b.billed * b.price) * %(factor)s AS cost,
               round(u.cost + sum(b.billed * b.price) * %(factor)s, 2) AS charged,
               u.charged AS was_charged, max(b.bin) + interval '1 minute' AS usage_end
          FROM billed b JOIN traffic_usage u ON u.id = b.usage_id
         GROUP BY b.usage_id, u.cost, u.charged
    ),
    moved AS (
        UPDATE traffic_usage u
           SET used_bytes = u.used_bytes + t.used,
               billed_bytes = u.billed_bytes + t.billed,
               cost = t.cost,
               charged = t.charged,
               postings = u.postings + (t.charged <> t.was_charged)::int
          FROM totals t
         WHERE u.id = t.usage_id
        RETURNING u.id, u.account_id, u.group_id, u.period_start, u.period_end, u.postings,
                  u.used_bytes, u.billed_bytes, t.charged - t.was_charged AS posting,
                  t.used, t.usage_end
    ),
    posted AS (
        INSERT INTO ledger_entries
            (account_id, kind, amount, idempotency_key, effective_at, description, details)
        SELECT m.account_id, 'charge_traffic', -m.posting,
               'traffic:' || m.id || ':' || m.postings, m.usage_end, g.name,
               jsonb_build_object('usage_id', m.id, 'group_id', m.group_id,
                                  'period_start', m.period_start, 'period_end', m.period_end,
                                  'used_bytes', m.used_bytes, 'billed_bytes', m.billed_bytes)
          FROM moved m JOIN traffic_groups g ON g.id = m.group_id
         WHERE m.posting <> 0
         ORDER BY m.account_id, m.id
        RETURNING amount
    )
    SELECT (SELECT count(*) FROM posted), (SELECT coalesce(-sum(amount), 0) FROM posted),
           (SELECT coalesce(sum(used), 0) FROM moved)
"""


def _fill_prices(conn: psycopg.Connection, tz: ZoneInfo) -> None:
    """The price per MB of each priced (tariff, group) at each bin of the run."""
    rows = conn.execute(
        """
        SELECT p.tariff_id, p.group_id, p.id, p.price_per_mb, p.time_period_id,
               n.starts_at, n.length, n.repeat, n.name
          FROM tariff_traffic_prices p
          LEFT JOIN time_period_nodes n ON n.time_period_id = p.time_period_id
         WHERE (p.tariff_id, p.group_id) IN
               (SELECT DISTINCT tariff_id, group_id FROM rate_usage_rows)
         ORDER BY p.tariff_id, p.group_id, p.id, n.id
        """
    ).fetchall()
    lists = price_lists(((tariff_id, group_id), *rest) for tariff_id, group_id, *rest in rows)
    bins = [r[0] for r in conn.execute("SELECT DISTINCT bin FROM rate_usage_rows ORDER BY 1")]
    fill_prices(conn, tz, lists, bins, "rate_prices", ("tariff_id", "group_id"))


def charge_deltas(conn: psycopg.Connection, tz: ZoneInfo) -> Charged:
    """Price the run's ``rate_deltas`` and post the changes of the rounded totals."""
    conn.execute(_USAGE_ROWS)
    if not conn.execute("SELECT EXISTS (SELECT 1 FROM rate_usage_rows)").fetchone()[0]:
        return Charged()
    conn.execute("ANALYZE rate_usage_rows")
    fill_periods(conn, tz, "rate_usage_rows", "rate_periods")
    _fill_prices(conn, tz)
    conn.execute(_STAGED)
    stages = conn.execute("SELECT coalesce(max(stage), 0) FROM rate_staged").fetchone()[0]
    entries, amount, rated = 0, Decimal(0), 0
    for stage in range(1, stages + 1):
        params = {"stage": stage, "tz": str(tz), "megabyte": MEGABYTE,
                  "factor": BYTE_PRICE_FACTOR}
        conn.execute(_OPEN_USAGE, params)
        count, total, used = conn.execute(_CHARGE, params).fetchone()
        entries, amount, rated = entries + count, amount + total, rated + int(used)
    return Charged(entries, amount, rated)
