"""Invariants of the charging rule: a period split anywhere sums to the cost, GRADUAL steps
of a whole period sum to the cost, and ticks at any moments charge what one late tick does."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from billing.charging.schedule import (
    ChargeMethod,
    calendar,
    day_bounds_of_period,
    due_charges,
    piece_amount,
)
from billing.periods import PeriodUnit, SettlementPeriod, period_bounds

ZONES = st.sampled_from([ZoneInfo("UTC"), ZoneInfo("Europe/Moscow"), ZoneInfo("Europe/Berlin")])
COSTS = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999.99"), places=2)
MOMENTS = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31),
                       timezones=st.just(UTC))


def month(tz):
    return SettlementPeriod(PeriodUnit.MONTH, anchor=datetime(2026, 1, 31, 13, 37, tzinfo=tz))


@settings(max_examples=150)
@given(tz=ZONES, cost=COSTS, at=MOMENTS,
       cuts=st.lists(st.floats(min_value=0, max_value=1), max_size=6))
def test_a_period_split_at_any_points_sums_to_the_cost(tz, cost, at, cuts):
    start, end = period_bounds(month(tz), at, tz)
    bounds = day_bounds_of_period(start, end, tz)
    length = end - start
    points = sorted({start, end, *(start + length * c for c in cuts)})
    pieces = [piece_amount(cost, a, b, bounds) for a, b in pairwise(points)]
    assert sum(pieces) == cost
    assert all(p >= 0 and p == p.quantize(Decimal("0.01")) for p in pieces)


@settings(max_examples=60)
@given(tz=ZONES, cost=COSTS, at=MOMENTS, per_day=st.integers(1, 48))
def test_gradual_steps_of_a_whole_period_sum_to_the_cost(tz, cost, at, per_day):
    start, end = period_bounds(month(tz), at, tz)
    rows = calendar(month(tz), ChargeMethod.GRADUAL, cost, per_day, start,
                    end - timedelta(microseconds=1), tz)
    assert len(rows) == rows[0].steps == (len(rows[0].bounds) - 1) * per_day
    assert sum(r.step_amount for r in rows) == cost
    assert [r.step for r in rows] == list(range(1, len(rows) + 1))
    assert all(a.step_start < b.step_start for a, b in pairwise(rows))


@settings(max_examples=60)
@given(tz=ZONES, cost=COSTS, method=st.sampled_from(list(ChargeMethod)),
       start=MOMENTS, length_days=st.integers(0, 120), end_days=st.none() | st.integers(1, 90),
       tick_hours=st.lists(st.integers(1, 24 * 40), min_size=1, max_size=8))
def test_ticks_at_any_moments_charge_what_one_late_tick_charges(
    tz, cost, method, start, length_days, end_days, tick_hours
):
    period = month(tz)
    end = None if end_days is None else start + timedelta(days=end_days, minutes=7)
    last = start + timedelta(days=length_days)
    moments = sorted({start + timedelta(hours=h) for h in tick_hours} | {last})
    moments = [m for m in moments if m <= last]
    split, after = [], None
    for at in moments:
        split += due_charges(period, method, cost, 2, start, end, after, at, tz)
        after = at
    assert split == due_charges(period, method, cost, 2, start, end, None, last, tz)
