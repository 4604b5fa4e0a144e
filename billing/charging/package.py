"""Package cost of a tariff: the settlement-period calendar both package rules share, and
"require package cost" (block at a period's start until the cost is covered).

"Require package cost": at each start of the tariff's settlement period (and at an
assignment's start, for its first, prorated period) an account whose balance + credit
does not cover the period's package cost gets ``blocked_by_balance``. "Covered" counts
what the period's periodic charges of that assignment took from the checked moment on
as paid toward the package, so an AT_START or GRADUAL fee charged at the same start does
not make the account pay twice. The block lifts as soon as the money is there: the
ledger's trigger calls ``ebs_package_unblock`` after every posting that brings money (a
payment), and the tick calls it for all (a raised credit, a tariff that no longer
requires it).

Suspensions. ExpertBilling's self-suspension "freezes" the service: no access and no
charges while it lasts. So the rule follows the charges, which the tick already cuts at
both ends of a suspension (``billing.suspension.cut_spans``):

* a period start inside a suspension is not checked: nothing is charged for that time,
  so there is nothing to require, and a subscriber away for the summer is not found
  blocked for a month that was never billed;
* the end of a suspension (a resume on request, or its maximum reached) is checked like
  a period start, for the period in force: the subscriber is back and will be charged
  from that moment, so the money must cover the package's share from there to the
  period's end (prorated like a first period), counting the charges made from the
  resume on (the rest of an AT_START fee is charged at the resume). What was charged
  before the suspension paid for the time before it and does not count again. A block
  pending from before the suspension is replaced by this check, so the resumed
  subscriber owes the period in force, not an older one; the payment that covers it
  lifts it at once, like any other.

Both fall out of one rule: a check happens where a charge span begins (an assignment's
start or a suspension's end) or where a period begins inside a span.

Fill-up to package cost is in ``fillup.py``; both read the calendar built here.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg

from billing.accounts import record_actor
from billing.charging.schedule import day_bounds_of_period
from billing.periods import SettlementPeriod, periods_between

_TICK = timedelta(microseconds=1)

_TARIFFS = """
    SELECT t.id, p.unit, p.length_seconds, p.anchor, p.autostart
      FROM tariffs t JOIN settlement_periods p ON p.id = t.settlement_period_id
     WHERE (t.require_package_cost OR t.fill_up_to_package_cost) AND t.package_cost > 0
     ORDER BY t.id
"""


def package_tariffs(conn: psycopg.Connection) -> dict[int, SettlementPeriod]:
    """Tariffs with a package rule and a cost, with their settlement periods."""
    return {r[0]: SettlementPeriod(r[1], r[2], r[3], r[4]) for r in conn.execute(_TARIFFS)}


_CALENDAR_TABLE = """
    CREATE TEMP TABLE IF NOT EXISTS package_calendar (
        tariff_id integer, assignment_id bigint, period_start timestamptz,
        period_end timestamptz, bounds timestamptz[]
    )
"""


def fill_calendar(
    conn: psycopg.Connection,
    tariffs: dict[int, SettlementPeriod],
    after: datetime | None,
    at: datetime,
    tz: ZoneInfo,
) -> int:
    """The settlement periods of package tariffs overlapping the tick's window, for the
    spans in ``charge_spans``: shared rows for fixed anchors, per assignment for
    autostart periods (as for periodic services)."""
    conn.execute(_CALENDAR_TABLE)
    conn.execute("DELETE FROM package_calendar")
    if not tariffs:
        return 0
    spans = conn.execute(
        "SELECT tariff_id, assignment_id, assigned_at FROM charge_spans"
        " WHERE tariff_id = ANY(%s) GROUP BY 1, 2, 3",
        (list(tariffs),),
    ).fetchall()
    series: dict[tuple[int, int | None], datetime] = {}
    assigned = {assignment_id: assigned_at for _, assignment_id, assigned_at in spans}
    for tariff_id, assignment_id, assigned_at in spans:
        period = tariffs[tariff_id]
        key = (tariff_id, assignment_id if period.autostart else None)
        start = assigned_at if after is None else max(assigned_at, after)
        series[key] = min(series.get(key, start), start)
    rows = []
    for (tariff_id, assignment_id), start in series.items():
        if start > at:
            continue
        period = tariffs[tariff_id]
        assigned_at = assigned.get(assignment_id)
        for ps, pe in periods_between(period, start, at + _TICK, tz, assigned_at):
            rows.append((tariff_id, assignment_id, ps, pe, list(day_bounds_of_period(ps, pe, tz))))
    with conn.cursor().copy(
        "COPY package_calendar (tariff_id, assignment_id, period_start, period_end, bounds)"
        " FROM STDIN"
    ) as copy:
        for row in rows:
            copy.write_row(row)
    return len(rows)


# The latest moment in the window at which a period of a package-requiring assignment
# begins for a charge span (a period start inside the span, or the span's own start:
# the assignment's start, or a suspension's end) and the share of the package cost from
# there to the period end.
_CHECKS = """
    INSERT INTO package_blocks (account_id, assignment_id, period_start, required, blocked_at)
    SELECT DISTINCT ON (account_id) account_id, assignment_id, period_start, required, starts
      FROM (SELECT s.account_id, s.assignment_id, c.period_start,
                   greatest(c.period_start, s.started_at) AS starts,
                   ebs_period_piece(t.package_cost, greatest(c.period_start, s.started_at),
                                    c.period_end, c.bounds) AS required
              FROM charge_spans s
              JOIN tariffs t ON t.id = s.tariff_id
                            AND t.require_package_cost AND t.package_cost > 0
              JOIN package_calendar c ON c.tariff_id = s.tariff_id
                   AND (c.assignment_id IS NULL OR c.assignment_id = s.assignment_id)
             WHERE greatest(c.period_start, s.started_at) < c.period_end
               AND greatest(c.period_start, s.started_at) < s.ended_at) x
     WHERE starts > %(after)s AND starts <= %(at)s AND required > 0
     ORDER BY account_id, starts DESC
    ON CONFLICT (account_id) DO UPDATE
       SET assignment_id = EXCLUDED.assignment_id, period_start = EXCLUDED.period_start,
           required = EXCLUDED.required, blocked_at = EXCLUDED.blocked_at
    RETURNING account_id
"""

_BLOCK = """
    UPDATE accounts a SET blocked_by_balance = true
      FROM package_blocks b
     WHERE b.account_id = a.id AND b.account_id = ANY(%s) AND NOT a.blocked_by_balance
"""

# Blocks whose assignment is no longer the current one, or whose tariff stopped
# requiring the package cost, lift whatever the money.
_STALE = """
    WITH stale AS (
        DELETE FROM package_blocks b
         WHERE NOT EXISTS (
                   SELECT 1 FROM account_tariffs x JOIN tariffs t ON t.id = x.tariff_id
                    WHERE x.id = b.assignment_id AND t.require_package_cost)
            OR EXISTS (
                   SELECT 1 FROM account_tariffs x JOIN account_tariffs y
                          ON y.account_id = x.account_id AND y.assigned_at > x.assigned_at
                    WHERE x.id = b.assignment_id AND y.assigned_at <= %(at)s)
        RETURNING b.account_id
    )
    UPDATE accounts a SET blocked_by_balance = false
      FROM stale s WHERE a.id = s.account_id AND a.blocked_by_balance
"""


def check_period_starts(
    conn: psycopg.Connection, after: datetime | None, at: datetime
) -> tuple[int, int]:
    """The tick's package check for the accounts of its ``charge_spans``, after their
    charges: block those whose period started in the window without the cost covered
    (and lift the checked ones that are covered). Returns (blocked, unblocked). One
    transaction, set-based."""
    floor = after if after is not None else datetime.min.replace(tzinfo=at.tzinfo)
    if not conn.execute("SELECT EXISTS (SELECT 1 FROM package_calendar)").fetchone()[0]:
        return 0, 0
    with conn.transaction():
        record_actor(conn, at=at, actor="system",
                     reason="package cost not covered at period start")
        checked = [r[0] for r in conn.execute(_CHECKS, {"after": floor, "at": at})]
        unblocked = conn.execute("SELECT ebs_package_unblock(%s)", (checked,)).fetchone()[0]
        blocked = conn.execute(_BLOCK, (checked,)).rowcount
    return blocked, unblocked


def lift_blocks(conn: psycopg.Connection, at: datetime) -> int:
    """The tick's last package step, for all accounts: lift every block that is covered
    now (a raised credit) or stale (another tariff, or one that stopped requiring the
    cost). Returns how many were lifted."""
    if not conn.execute("SELECT EXISTS (SELECT 1 FROM package_blocks)").fetchone()[0]:
        return 0
    with conn.transaction():
        record_actor(conn, at=at, actor="system", reason="package cost no longer required")
        unblocked = conn.execute(_STALE, {"at": at}).rowcount
        unblocked += conn.execute("SELECT ebs_package_unblock(NULL)").fetchone()[0]
    return unblocked
