"""What a periodic service charges, as pure calendar arithmetic (no database).

A settlement period is cut into its local calendar days (``periods.local_days``; a DST day
is one day) and each day counts 86400 *units* however long it really lasts, so the same
tariff costs the same in every timezone:

* GRADUAL: days × ``charges_per_day`` steps; step k (1-based) costs
  ``step_charge(cost, k, n)`` and is due at its start. Steps split their day equally in
  real time. An assignment pays the steps that *start* inside it: the step running when a
  tariff is assigned was already paid by the previous assignment (or is free), so a
  switch never charges one step twice.
* AT_START / AT_END: one charge per period, due at the start (or end) of the part of the
  period the assignment covers; a partial part costs
  ``prorate_piece(cost, position(a), position(b), days·86400)`` (the cumulative rule, so
  the parts of a period always add up to the cost).

``calendar`` lists the periods and steps of one settlement series in a window; the SQL
in ``periodic.py`` joins it with every assignment at once. ``due_charges`` is the same
rule for one assignment, in plain Python: the reference the tests hold the SQL against.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from itertools import pairwise
from zoneinfo import ZoneInfo

from billing.money import prorate_piece, step_charge
from billing.periods import PeriodUnit, SettlementPeriod, local_days, periods_between

DAY_UNITS = 86400
_TICK = timedelta(microseconds=1)


class ChargeMethod(StrEnum):
    AT_START = "AT_START"
    AT_END = "AT_END"
    GRADUAL = "GRADUAL"


@dataclass(frozen=True, slots=True)
class CalendarRow:
    """One chargeable slot of a series: a whole period (step 0) or one GRADUAL step."""

    period_start: datetime
    period_end: datetime
    bounds: tuple[datetime, ...]  # day starts, then the period end
    step: int
    steps: int
    step_start: datetime
    step_amount: Decimal  # GRADUAL only; whole periods are priced against the span in SQL


@dataclass(frozen=True, slots=True)
class DueCharge:
    period_start: datetime
    step: int
    due: datetime
    amount: Decimal


@lru_cache(maxsize=4096)  # pure, and asked for the same few periods by every tick
def day_bounds_of_period(start: datetime, end: datetime, tz: ZoneInfo) -> tuple[datetime, ...]:
    """Starts of the local calendar days of [start, end) counted from ``start``, then ``end``.

    Days run from the period's own wall-clock time (a period starting at 13:37 has days
    13:37-13:37). There are ``local_days(start, end)`` of them (at least one); the last one
    ends at the period end.
    """
    days = periods_between(SettlementPeriod(PeriodUnit.DAY, anchor=start), start, end, tz)
    count = max(1, min(local_days(start, end, tz), len(days)))
    return (*(day[0] for day in days[:count]), end)


def _micros(delta: timedelta) -> int:
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def position(at: datetime, bounds: tuple[datetime, ...]) -> int:
    """Units of the period elapsed at ``at`` (0 .. days·86400); twin of SQL
    ``ebs_charging_position``."""
    if at <= bounds[0]:
        return 0
    if at >= bounds[-1]:
        return (len(bounds) - 1) * DAY_UNITS
    d = bisect_right(bounds, at) - 1
    elapsed = _micros(at - bounds[d])
    length = _micros(bounds[d + 1] - bounds[d])
    return d * DAY_UNITS + elapsed * DAY_UNITS // length


def piece_amount(
    cost: Decimal, start: datetime, end: datetime, bounds: tuple[datetime, ...]
) -> Decimal:
    """The cost of [start, end) of a period, by the cumulative rule over day units; twin
    of SQL ``ebs_period_piece``."""
    total = (len(bounds) - 1) * DAY_UNITS
    return prorate_piece(cost, position(start, bounds), position(end, bounds), total)


def calendar(
    period: SettlementPeriod,
    method: ChargeMethod,
    cost: Decimal,
    charges_per_day: int,
    start: datetime,
    at: datetime,
    tz: ZoneInfo,
    assigned_at: datetime | None = None,
) -> list[CalendarRow]:
    """The periods (and GRADUAL steps) of a series that touch [start, at].

    GRADUAL lists only steps starting in [start, at]; whole-period methods list every
    period overlapping the window, and the caller keeps those whose due moment is in it.
    """
    method = ChargeMethod(method)
    rows: list[CalendarRow] = []
    for ps, pe in periods_between(period, start, at + _TICK, tz, assigned_at):
        bounds = day_bounds_of_period(ps, pe, tz)
        if method is not ChargeMethod.GRADUAL:
            rows.append(CalendarRow(ps, pe, bounds, 0, 1, ps, cost))
            continue
        steps = (len(bounds) - 1) * charges_per_day
        k = 0
        for day_start, day_end in pairwise(bounds):
            length = day_end - day_start
            for j in range(charges_per_day):
                k += 1
                step_start = day_start + length * j // charges_per_day
                if start <= step_start <= at:
                    rows.append(
                        CalendarRow(ps, pe, bounds, k, steps, step_start,
                                    step_charge(cost, k, steps))
                    )
    return rows


def due_charges(
    period: SettlementPeriod,
    method: ChargeMethod,
    cost: Decimal,
    charges_per_day: int,
    span_start: datetime,
    span_end: datetime | None,
    after: datetime | None,
    at: datetime,
    tz: ZoneInfo,
    assigned_at: datetime | None = None,
) -> list[DueCharge]:
    """Charges of one assignment active over [span_start, span_end) due in (after, at].

    ``span_start``/``span_end`` are the assignment's bounds already cut to the service's
    activation dates; ``after`` None means from the beginning. An autostart series runs
    from ``assigned_at`` (default: ``span_start``).
    """
    method = ChargeMethod(method)
    end = span_end if span_end is not None else datetime.max.replace(tzinfo=at.tzinfo)
    window_start = span_start if after is None else max(span_start, after)
    if window_start > at:
        return []
    assigned_at = (assigned_at or span_start) if period.autostart else None
    charges: list[DueCharge] = []
    for row in calendar(period, method, cost, charges_per_day, window_start, at, tz, assigned_at):
        if method is ChargeMethod.GRADUAL:
            due, amount = row.step_start, row.step_amount
            if not span_start <= due < end:
                continue
        else:
            a, b = max(span_start, row.period_start), min(end, row.period_end)
            if a >= b:
                continue
            due = a if method is ChargeMethod.AT_START else b
            amount = piece_amount(cost, a, b, row.bounds)
        if (after is None or due > after) and due <= at and amount != 0:
            charges.append(DueCharge(row.period_start, row.step, due, amount))
    return charges
