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
belongs to the tariff assignment in force then. Usage accumulates per account,
assignment and settlement period in ``time_usage`` and is charged by the collector
traffic's rule (``billing.metered_usage``: prepaid seconds first in time order, even
inside one interim; each posting the change of the rounded cumulative total), by the
same calendar (``billing.usage_calendar``). The row keeps ``price_seconds`` (seconds x
price per minute) exactly, so the money is price_seconds / 60, rounded only as a total.

Runs inside the rater's transaction over ``rate_sessions`` (``billing.session_deltas``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

import psycopg
from psycopg import sql

from billing.metered_usage import MeteredUsage, charge

TIME = MeteredUsage(
    temp="rate_time",
    usage="time_usage",
    by=(),
    quantity="seconds",
    prices="tariff_time_prices",
    price="price_per_minute",
    allowances="tariff_time_service",
    allowance=sql.SQL("q.prepaid_minutes * 60"),  # prepaid minutes in seconds
    cost_column="price_seconds",
    cost=sql.SQL("{}"),
    money=sql.SQL("({}) / 60"),
    kind="charge_time",
    key_prefix="time",
    names=sql.SQL("JOIN account_tariffs a ON a.id = m.assignment_id"
                  " JOIN tariffs t ON t.id = a.tariff_id"),
    description=sql.SQL("t.name"),
)


@dataclass(frozen=True, slots=True)
class TimeCharged:
    entries: int = 0
    amount: Decimal = Decimal(0)
    rated_seconds: Decimal = Decimal(0)


# The rounded span each session grew by, with the step of the tariff in force at the
# counters' moment; then the span's pieces per minute, each with the assignment in force
# at its start, kept when that tariff charges time.
_ROWS = """
    CREATE TEMP TABLE {} ON COMMIT DROP AS
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

def charge_time(conn: psycopg.Connection, tz: ZoneInfo) -> TimeCharged:
    """Charge the seconds ``rate_sessions`` grew by, for the tariffs that charge time."""
    conn.execute(sql.SQL(_ROWS).format(sql.Identifier(TIME.rows)))
    posted = charge(conn, tz, TIME)
    return TimeCharged(posted.entries, posted.amount, posted.used)
