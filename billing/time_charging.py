"""Charging per minute online, by time of day, from the sessions' growth of seconds.

A tariff charges time when it has prices in ``tariff_time_prices`` (per minute, by time
period or any time) or a ``tariff_time_service`` row (the tarification step, prepaid
minutes per settlement period with or without rollover). A session's seconds are rounded
up to the step as a whole: after an interim at s seconds the session has been charged
ceil(s / step) steps, so each run rates the growth of that rounded figure, the span
[start + rounded before, start + rounded now); a session of 61 s at a step of 60 s is
charged two minutes however many interims it had.

The span is cut at minute boundaries and each piece is priced by the price in force at
its minute (a night price takes the night's minutes of a session crossing midnight) and
belongs to the tariff assignment in force then. Prepaid seconds are consumed first, in
time order, even inside one interim. Usage accumulates per account, assignment and
settlement period in ``time_usage`` exactly (``price_seconds``: seconds x price per
minute, so the money is price_seconds / 60), and each posting is the change of the
rounded cumulative total (DESIGN.md), keyed by the usage row and its posting number —
the collector traffic's rules (``flow.rating``), by the same calendar
(``billing.usage_calendar``).

Runs inside the rater's transaction over ``rate_sessions`` (``billing.session_deltas``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

import psycopg

from billing.usage_calendar import fill_periods, fill_prices, price_lists


@dataclass(frozen=True, slots=True)
class TimeCharged:
    entries: int = 0
    amount: Decimal = Decimal(0)
    rated_seconds: Decimal = Decimal(0)


# The rounded span each session grew by, with the step of the tariff in force at the
# counters' moment; then the span's pieces per minute, each with the assignment in force
# at its start, kept when that tariff charges time.
_ROWS = """
    CREATE TEMP TABLE rate_time_rows ON COMMIT DROP AS
    WITH charging AS (
        SELECT tariff_id FROM tariff_time_prices
        UNION SELECT tariff_id FROM tariff_time_service
    ),
    stepped AS (
        SELECT s.account_id, s.started_at, s.seconds_before, s.seconds,
               coalesce(ts.step_seconds, 1) AS step
          FROM rate_sessions s
          CROSS JOIN LATERAL ebs_assignment_in_force(s.account_id, s.moment) a
          LEFT JOIN tariff_time_service ts ON ts.tariff_id = a.tariff_id
         WHERE s.seconds > s.seconds_before
           AND a.tariff_id IN (SELECT tariff_id FROM charging)
    ),
    spans AS (
        SELECT account_id,
               started_at + make_interval(secs => ceil(seconds_before::numeric / step) * step)
                   AS lo,
               started_at + make_interval(secs => ceil(seconds::numeric / step) * step) AS hi
          FROM stepped
    ),
    pieces AS (
        SELECT sp.account_id, m.bin,
               extract(epoch FROM least(m.bin + interval '1 minute', sp.hi)
                                  - greatest(m.bin, sp.lo)) AS seconds,
               greatest(m.bin, sp.lo) AS at
          FROM spans sp
          CROSS JOIN LATERAL generate_series(date_trunc('minute', sp.lo),
                                             sp.hi - interval '1 microsecond',
                                             interval '1 minute') AS m (bin)
         WHERE sp.hi > sp.lo
    )
    SELECT p.bin, p.account_id, sum(p.seconds) AS seconds,
           a.id AS assignment_id, a.tariff_id, a.assigned_at, t.settlement_period_id,
           CASE WHEN sp.autostart THEN 'a' || a.id
                ELSE 's' || coalesce(t.settlement_period_id, 0) END AS period_key
      FROM pieces p
      CROSS JOIN LATERAL ebs_assignment_in_force(p.account_id, p.at) a
      JOIN tariffs t ON t.id = a.tariff_id
      LEFT JOIN settlement_periods sp ON sp.id = t.settlement_period_id
     WHERE a.tariff_id IN (SELECT tariff_id FROM charging)
     GROUP BY p.bin, p.account_id, a.id, a.tariff_id, a.assigned_at, t.settlement_period_id,
              sp.autostart
"""

_STAGED = """
    CREATE TEMP TABLE rate_time_staged ON COMMIT DROP AS
    SELECT r.*, p.period_start, p.period_end,
           dense_rank() OVER (PARTITION BY r.account_id, r.assignment_id
                              ORDER BY p.period_start) AS stage
      FROM rate_time_rows r
      JOIN rate_time_periods p
        ON p.period_key = r.period_key
       AND r.bin >= p.period_start AND r.bin < p.period_end
"""

# The prepaid minutes in seconds (the local days' share of an assignment's first period
# when prorated, as for prepaid traffic), plus the unused rest of the period before.
_OPEN_USAGE = """
    INSERT INTO time_usage (account_id, assignment_id, period_start, period_end,
                            prepaid_seconds)
    SELECT k.account_id, k.assignment_id, k.period_start, k.period_end,
           coalesce(round(q.prepaid_minutes * 60
                    * CASE WHEN q.prorate_first_period AND k.assigned_at > k.period_start
                           THEN (k.period_end AT TIME ZONE %(tz)s)::date
                                - (k.assigned_at AT TIME ZONE %(tz)s)::date
                           ELSE 1 END
                    / CASE WHEN q.prorate_first_period AND k.assigned_at > k.period_start
                           THEN greatest((k.period_end AT TIME ZONE %(tz)s)::date
                                         - (k.period_start AT TIME ZONE %(tz)s)::date, 1)
                           ELSE 1 END), 0)
           + coalesce(rest.seconds, 0)
      FROM (SELECT DISTINCT account_id, assignment_id, tariff_id, assigned_at,
                   period_start, period_end
              FROM rate_time_staged WHERE stage = %(stage)s) k
      LEFT JOIN tariff_time_service q ON q.tariff_id = k.tariff_id
      LEFT JOIN LATERAL (
            SELECT greatest(prev.prepaid_seconds - prev.used_seconds, 0) AS seconds
              FROM time_usage prev
             WHERE prev.assignment_id = k.assignment_id AND prev.account_id = k.account_id
               AND prev.period_end = k.period_start
      ) rest ON q.rollover
    ON CONFLICT (account_id, assignment_id, period_start) DO NOTHING
"""

_CHARGE = """
    WITH d AS (
        SELECT u.id AS usage_id, s.bin, s.seconds, coalesce(p.price, 0) AS price,
               u.prepaid_seconds AS prepaid,
               u.used_seconds + sum(s.seconds) OVER (PARTITION BY u.id ORDER BY s.bin)
                   AS after
          FROM rate_time_staged s
          JOIN time_usage u
            ON u.account_id = s.account_id AND u.assignment_id = s.assignment_id
           AND u.period_start = s.period_start
          LEFT JOIN rate_time_prices p ON p.tariff_id = s.tariff_id AND p.bin = s.bin
         WHERE s.stage = %(stage)s
    ),
    billed AS (
        SELECT usage_id, bin, seconds, price,
               greatest(after - prepaid, 0) - greatest(after - seconds - prepaid, 0)
                   AS billed
          FROM d
    ),
    totals AS (
        SELECT b.usage_id, sum(b.seconds) AS used, sum(b.billed) AS billed,
               u.price_seconds + sum(b.billed * b.price) AS price_seconds,
               round((u.price_seconds + sum(b.billed * b.price)) / 60, 2) AS charged,
               u.charged AS was_charged, max(b.bin) + interval '1 minute' AS usage_end
          FROM billed b JOIN time_usage u ON u.id = b.usage_id
         GROUP BY b.usage_id, u.price_seconds, u.charged
    ),
    moved AS (
        UPDATE time_usage u
           SET used_seconds = u.used_seconds + t.used,
               billed_seconds = u.billed_seconds + t.billed,
               price_seconds = t.price_seconds,
               charged = t.charged,
               postings = u.postings + (t.charged <> t.was_charged)::int
          FROM totals t
         WHERE u.id = t.usage_id
        RETURNING u.id, u.account_id, u.assignment_id, u.period_start, u.period_end,
                  u.postings, u.used_seconds, u.billed_seconds,
                  t.charged - t.was_charged AS posting, t.used, t.usage_end
    ),
    posted AS (
        INSERT INTO ledger_entries
            (account_id, kind, amount, idempotency_key, effective_at, description, details)
        SELECT m.account_id, 'charge_time', -m.posting,
               'time:' || m.id || ':' || m.postings, m.usage_end, t.name,
               jsonb_build_object('usage_id', m.id, 'period_start', m.period_start,
                                  'period_end', m.period_end,
                                  'used_seconds', m.used_seconds,
                                  'billed_seconds', m.billed_seconds)
          FROM moved m
          JOIN account_tariffs a ON a.id = m.assignment_id
          JOIN tariffs t ON t.id = a.tariff_id
         WHERE m.posting <> 0
         ORDER BY m.account_id, m.id
        RETURNING amount
    )
    SELECT (SELECT count(*) FROM posted), (SELECT coalesce(-sum(amount), 0) FROM posted),
           (SELECT coalesce(sum(used), 0) FROM moved)
"""


def _fill_prices(conn: psycopg.Connection, tz: ZoneInfo) -> None:
    """The price per minute of each charging tariff at each minute of the run."""
    rows = conn.execute(
        """
        SELECT p.tariff_id, p.id, p.price_per_minute, p.time_period_id,
               n.starts_at, n.length, n.repeat, n.name
          FROM tariff_time_prices p
          LEFT JOIN time_period_nodes n ON n.time_period_id = p.time_period_id
         WHERE p.tariff_id IN (SELECT DISTINCT tariff_id FROM rate_time_rows)
         ORDER BY p.tariff_id, p.id, n.id
        """
    ).fetchall()
    lists = price_lists(((tariff_id,), *rest) for tariff_id, *rest in rows)
    bins = [r[0] for r in conn.execute("SELECT DISTINCT bin FROM rate_time_rows ORDER BY 1")]
    fill_prices(conn, tz, lists, bins, "rate_time_prices", ("tariff_id",))


def charge_time(conn: psycopg.Connection, tz: ZoneInfo) -> TimeCharged:
    """Charge the seconds ``rate_sessions`` grew by, for the tariffs that charge time."""
    conn.execute(_ROWS)
    if not conn.execute("SELECT EXISTS (SELECT 1 FROM rate_time_rows)").fetchone()[0]:
        return TimeCharged()
    conn.execute("ANALYZE rate_time_rows")
    fill_periods(conn, tz, "rate_time_rows", "rate_time_periods")
    _fill_prices(conn, tz)
    conn.execute(_STAGED)
    stages = conn.execute("SELECT coalesce(max(stage), 0) FROM rate_time_staged").fetchone()[0]
    entries, amount, rated = 0, Decimal(0), Decimal(0)
    for stage in range(1, stages + 1):
        params = {"stage": stage, "tz": str(tz)}
        conn.execute(_OPEN_USAGE, params)
        count, total, used = conn.execute(_CHARGE, params).fetchone()
        entries, amount, rated = entries + count, amount + total, rated + used
    return TimeCharged(entries, amount, rated)
