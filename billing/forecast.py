"""How long the money lasts: an account's rate of charges per day, the days its balance
covers at that rate, and its next periodic charge. Read-only; one answer for the
cabinet's overview and the notifications alike.

The rate of charges (``Forecast.daily_rate``) is, exactly:

    the sum of three parts, each rounded to kopecks (half up):

    * ``periodic_per_day`` — for every periodic service of the tariff in force at ``at``
      that charges now (cost > 0; ``at`` inside its active_from/active_until; its balance
      condition true for balance + credit now), its cost divided by the length in days of
      the settlement period that contains ``at`` (local calendar days of the operator's
      zone, as charging counts them: a DST day is one day; a SECONDS period by its
      seconds / 86400). Zero while the account is not charged (status ``suspended`` or
      ``inactive_uncharged``, the charge tick's rule) or has no tariff;
    * ``traffic_per_day`` and ``time_per_day`` — the account's ledger charges of kinds
      ``charge_traffic`` and ``charge_time`` (with their reversals) effective in the 30
      days up to ``at``, divided by 30 days (by the time since the account's first tariff
      assignment when that is shorter, at least one day).

Balance and credit are the account's as they stand (``accounts``), not as of ``at``:
the forecast is asked about now; ``at`` places the periods, the tariff and the 30 days.

``days_left`` is the whole days ``balance + credit`` covers at that rate: None when the
rate is zero ("no charges"), 0 when balance + credit is zero or below. It is an average:
a fee charged at a period's start takes its money at once, which ``next_charge`` shows.

``next_charge`` is the earliest periodic charge due at or after ``at`` by the charging
rule itself (``billing.charging.schedule.due_charges``): an AT_START fee at the start of
the next settlement period (for a package that is the moment its cost must be on the
balance), an AT_END fee at the end of the period in force, a GRADUAL service's next step.
Services due at the same moment are added up and named together. A tariff change
scheduled after ``at`` is not foreseen.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import psycopg

from billing.assignments import in_force
from billing.charging.periodic import CONDITIONS, PeriodicService, load_services
from billing.charging.schedule import day_bounds_of_period, due_charges
from billing.money import round_money
from billing.periods import PeriodUnit, SettlementPeriod, period_bounds

__all__ = ["USAGE_DAYS", "Forecast", "NextCharge", "PackageDue", "forecast"]

# The usage charges averaged are those of this many days up to the moment asked.
USAGE_DAYS = 30
# The statuses the charge tick charges (billing/charging/tick.py).
CHARGED_STATUSES = frozenset({"active", "inactive_charged"})
# The operators of the services' balance conditions (periodic.CONDITIONS), in Python.
_OPERATORS = {"<": operator.lt, "<=": operator.le, "=": operator.eq,
              ">=": operator.ge, ">": operator.gt}
_DAY = Decimal(86400)
_TICK = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class NextCharge:
    """The next periodic charge: when (in the operator's zone), how much, for what."""

    due_at: datetime
    amount: Decimal
    services: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PackageDue:
    """A tariff that requires its package cost: the next period start, where the cost
    must be on balance + credit, and the cost."""

    due_at: datetime
    cost: Decimal


@dataclass(frozen=True, slots=True)
class Forecast:
    balance: Decimal
    credit: Decimal
    periodic_per_day: Decimal
    traffic_per_day: Decimal
    time_per_day: Decimal
    daily_rate: Decimal
    days_left: int | None
    next_charge: NextCharge | None
    package_due: PackageDue | None


# The account, its assignment in force with its tariff's package rule and period, and
# its usage charges of the last days: index reads of accounts, account_tariffs and
# ledger_entries (account_id, effective_at).
_ACCOUNT = f"""
    SELECT a.balance, a.credit, a.status, x.tariff_id, x.assigned_at,
           t.package_cost, t.require_package_cost,
           p.unit, p.length_seconds, p.anchor, p.autostart,
           (SELECT min(f.assigned_at) FROM account_tariffs f WHERE f.account_id = a.id),
           u.traffic, u.time
      FROM accounts a
      LEFT JOIN LATERAL ({in_force("a.id", "%(at)s")}) x ON true
      LEFT JOIN tariffs t ON t.id = x.tariff_id
      LEFT JOIN settlement_periods p ON p.id = t.settlement_period_id
      CROSS JOIN LATERAL (
            SELECT coalesce(-sum(e.amount) FILTER (
                       WHERE coalesce(r.kind, e.kind) = 'charge_traffic'), 0) AS traffic,
                   coalesce(-sum(e.amount) FILTER (
                       WHERE coalesce(r.kind, e.kind) = 'charge_time'), 0) AS time
              FROM ledger_entries e
              LEFT JOIN ledger_entries r ON r.id = e.reverses_id AND e.kind = 'reversal'
             WHERE e.account_id = a.id
               AND e.effective_at > %(since)s AND e.effective_at <= %(at)s
               AND e.kind IN ('charge_traffic', 'charge_time', 'reversal')) u
     WHERE a.id = %(account)s
"""


def _charges_now(service: PeriodicService, total: Decimal, at: datetime) -> bool:
    if service.active_from is not None and at < service.active_from:
        return False
    if service.active_until is not None and at >= service.active_until:
        return False
    sql_operator = CONDITIONS[service.condition]
    return sql_operator is None or _OPERATORS[sql_operator](total, service.condition_sum)


def _per_day(service: PeriodicService, at: datetime, tz: ZoneInfo,
             assigned_at: datetime) -> Decimal:
    """The service's cost spread over the days of its period in force at ``at``."""
    if service.period.unit is PeriodUnit.SECONDS:
        return service.cost * _DAY / service.period.length_seconds
    start, end = period_bounds(service.period, at, tz, assigned_at)
    return service.cost / (len(day_bounds_of_period(start, end, tz)) - 1)


def _next_due(service: PeriodicService, at: datetime, tz: ZoneInfo,
              assigned_at: datetime) -> tuple[datetime, Decimal] | None:
    """The service's first charge due at or after ``at`` (two periods ahead at most)."""
    _, end = period_bounds(service.period, at, tz, assigned_at)
    _, horizon = period_bounds(service.period, end, tz, assigned_at)
    span_start = max(assigned_at, service.active_from or assigned_at)
    due = due_charges(service.period, service.method, service.cost,
                      service.charges_per_day, span_start, service.active_until,
                      at - _TICK, horizon, tz, assigned_at)
    return (due[0].due, due[0].amount) if due else None


def _next_charge(services: list[PeriodicService], at: datetime, tz: ZoneInfo,
                 assigned_at: datetime) -> NextCharge | None:
    found = [(d, s.name) for s in services if (d := _next_due(s, at, tz, assigned_at))]
    if not found:
        return None
    first = min(due for (due, _), _ in found)
    at_first = [(amount, name) for (due, amount), name in found if due == first]
    return NextCharge(due_at=first.astimezone(tz),
                      amount=sum((amount for amount, _ in at_first), Decimal("0.00")),
                      services=tuple(name for _, name in at_first))


def _usage_days(at: datetime, first_assigned: datetime | None) -> Decimal:
    since = at - timedelta(days=USAGE_DAYS)
    if first_assigned is not None and first_assigned > since:
        since = first_assigned
    return max(Decimal(1), Decimal((at - since).total_seconds()) / _DAY)


def _days_covered(total: Decimal, rate: Decimal) -> int | None:
    if rate <= 0:
        return None  # no charges: the money lasts
    return int(total // rate) if total > 0 else 0


def forecast(conn: psycopg.Connection, account_id: int, at: datetime,
             tz: ZoneInfo) -> Forecast:
    """The account's rate of charges per day, the days its money covers, and its next
    periodic charge (module docstring: the exact meaning of each). LookupError when the
    account does not exist."""
    if at.tzinfo is None:
        raise ValueError("at must be timezone-aware")
    row = conn.execute(_ACCOUNT, {"account": account_id, "at": at,
                                  "since": at - timedelta(days=USAGE_DAYS)}).fetchone()
    if row is None:
        raise LookupError(f"account {account_id} does not exist")
    (balance, credit, status, tariff_id, assigned_at, package_cost, require_package,
     unit, length_seconds, anchor, autostart, first_assigned, traffic, time) = row
    total = balance + credit
    services: list[PeriodicService] = []
    if tariff_id is not None and status in CHARGED_STATUSES:
        services = [s for s in load_services(conn, tariff_id) if _charges_now(s, total, at)]
    periodic = round_money(sum((_per_day(s, at, tz, assigned_at) for s in services),
                               Decimal(0)))
    days = _usage_days(at, first_assigned)
    traffic_per_day = round_money(traffic / days)
    time_per_day = round_money(time / days)
    rate = periodic + traffic_per_day + time_per_day
    package_due = None
    if require_package and package_cost > 0 and status in CHARGED_STATUSES:
        period = SettlementPeriod(unit, length_seconds, anchor, autostart)
        start, end = period_bounds(period, at, tz, assigned_at if autostart else None)
        package_due = PackageDue(due_at=(start if start == at else end).astimezone(tz),
                                 cost=package_cost)
    return Forecast(
        balance=balance, credit=credit, periodic_per_day=periodic,
        traffic_per_day=traffic_per_day, time_per_day=time_per_day, daily_rate=rate,
        days_left=_days_covered(total, rate),
        next_charge=_next_charge(services, at, tz, assigned_at) if services else None,
        package_due=package_due,
    )
