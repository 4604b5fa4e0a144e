"""The charging calendar as pure arithmetic: steps, proration, windows, DST."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from billing.charging.schedule import (
    DAY_UNITS,
    ChargeMethod,
    calendar,
    day_bounds_of_period,
    due_charges,
    piece_amount,
    position,
)
from billing.periods import PeriodUnit, SettlementPeriod

BERLIN = ZoneInfo("Europe/Berlin")


def monthly(tz=UTC, autostart=False):
    return SettlementPeriod(PeriodUnit.MONTH, anchor=datetime(2026, 1, 1, tzinfo=tz),
                            autostart=autostart)


def test_a_31_day_month_at_one_charge_a_day_is_31_charges_summing_to_the_cost():
    rows = calendar(monthly(), ChargeMethod.GRADUAL, Decimal("100.00"), 1,
                    datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 31, 23, tzinfo=UTC), UTC)
    assert len(rows) == 31
    assert {r.steps for r in rows} == {31}
    assert sum(r.step_amount for r in rows) == Decimal("100.00")
    assert {r.step_amount for r in rows} == {Decimal("3.22"), Decimal("3.23")}
    assert [r.step_start.day for r in rows] == list(range(1, 32))


@pytest.mark.parametrize(("month", "day", "hours"), [(3, 29, 23), (10, 25, 25)])
def test_a_dst_day_in_berlin_is_still_one_day_and_the_month_sums_to_the_cost(month, day, hours):
    start = datetime(2026, month, 1, tzinfo=BERLIN)
    end = datetime(2026, month + 1, 1, tzinfo=BERLIN) - timedelta(seconds=1)
    rows = calendar(monthly(BERLIN), ChargeMethod.GRADUAL, Decimal("310.00"), 4, start, end,
                    BERLIN)
    assert len(rows) == 31 * 4
    assert sum(r.step_amount for r in rows) == Decimal("310.00")
    # Every day's first step is at local midnight, including the day the clocks change.
    midnights = [r.step_start.astimezone(BERLIN) for r in rows[::4]]
    assert all((m.hour, m.minute) == (0, 0) for m in midnights)
    dst_day = [r for r in rows if r.step_start.astimezone(BERLIN).day == day]
    assert dst_day[-1].step_start - dst_day[0].step_start == timedelta(hours=hours) * 3 / 4
    # The same month in UTC charges the same amounts, step by step.
    utc_rows = calendar(monthly(), ChargeMethod.GRADUAL, Decimal("310.00"), 4,
                        datetime(2026, month, 1, tzinfo=UTC),
                        datetime(2026, month + 1, 1, tzinfo=UTC) - timedelta(seconds=1), UTC)
    assert [r.step_amount for r in rows] == [r.step_amount for r in utc_rows]


def test_position_counts_days_not_seconds():
    start, end = datetime(2026, 3, 1, tzinfo=BERLIN), datetime(2026, 4, 1, tzinfo=BERLIN)
    bounds = day_bounds_of_period(start.astimezone(UTC), end.astimezone(UTC), BERLIN)
    assert len(bounds) == 32
    assert position(start, bounds) == 0
    assert position(end, bounds) == 31 * DAY_UNITS
    # Noon of the 23-hour day (29 March) is 11.5 real hours in: half of that day.
    noon = datetime(2026, 3, 29, 12, tzinfo=BERLIN)
    assert position(noon, bounds) == 28 * DAY_UNITS + DAY_UNITS * 11 // 23
    assert position(datetime(2026, 3, 30, tzinfo=BERLIN), bounds) == 29 * DAY_UNITS


def test_pieces_of_a_period_sum_to_the_cost():
    start, end = datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC)
    bounds = day_bounds_of_period(start, end, UTC)
    cuts = [start, datetime(2026, 2, 3, 13, 37, tzinfo=UTC),
            datetime(2026, 2, 17, 0, 0, 1, tzinfo=UTC), end]
    pieces = [piece_amount(Decimal("99.99"), a, b, bounds) for a, b in pairwise(cuts)]
    assert sum(pieces) == Decimal("99.99")
    assert piece_amount(Decimal("99.99"), start, end, bounds) == Decimal("99.99")


def test_at_start_prorates_the_first_partial_period_then_charges_whole_periods():
    got = due_charges(monthly(), ChargeMethod.AT_START, Decimal("310.00"), 1,
                      datetime(2026, 1, 21, tzinfo=UTC), None, None,
                      datetime(2026, 3, 1, tzinfo=UTC), UTC)
    assert [(c.due.date().isoformat(), c.amount) for c in got] == [
        ("2026-01-21", Decimal("110.00")),  # 11 of 31 days
        ("2026-02-01", Decimal("310.00")),
        ("2026-03-01", Decimal("310.00")),
    ]


def test_at_end_charges_at_period_end_and_prorates_both_partial_periods():
    got = due_charges(monthly(), ChargeMethod.AT_END, Decimal("280.00"), 1,
                      datetime(2026, 1, 21, tzinfo=UTC), datetime(2026, 3, 15, tzinfo=UTC), None,
                      datetime(2026, 4, 1, tzinfo=UTC), UTC)
    assert [(c.due.date().isoformat(), c.amount) for c in got] == [
        ("2026-02-01", Decimal("99.35")),   # 11 of 31 days
        ("2026-03-01", Decimal("280.00")),
        ("2026-03-15", Decimal("126.45")),  # 14 of 31 days, charged when the span ends
    ]


def test_windows_split_anywhere_give_the_same_charges_once():
    period = monthly(BERLIN)
    span = datetime(2026, 1, 10, 13, 37, tzinfo=BERLIN)
    end = datetime(2026, 6, 1, tzinfo=UTC)
    for method in ChargeMethod:
        whole = due_charges(period, method, Decimal("123.45"), 3, span, None, None, end, BERLIN)
        cuts = [None, datetime(2026, 2, 1, tzinfo=BERLIN), datetime(2026, 3, 29, 2, tzinfo=UTC),
                datetime(2026, 3, 31, 7, tzinfo=UTC), end]
        parts = []
        for after, at in pairwise(cuts):
            parts += due_charges(period, method, Decimal("123.45"), 3, span, None, after, at,
                                 BERLIN)
        assert parts == whole, method


def test_autostart_periods_start_at_the_assignment():
    period = SettlementPeriod(PeriodUnit.MONTH, autostart=True)
    span = datetime(2026, 1, 31, 10, tzinfo=UTC)
    got = due_charges(period, ChargeMethod.AT_START, Decimal("50.00"), 1, span, None, None,
                      datetime(2026, 4, 1, tzinfo=UTC), UTC)
    assert [(c.due, c.amount) for c in got] == [
        (span, Decimal("50.00")),
        (datetime(2026, 2, 28, 10, tzinfo=UTC), Decimal("50.00")),
        (datetime(2026, 3, 31, 10, tzinfo=UTC), Decimal("50.00")),
    ]


def test_gradual_skips_the_step_already_running_at_the_assignment():
    got = due_charges(monthly(), ChargeMethod.GRADUAL, Decimal("31.00"), 1,
                      datetime(2026, 1, 30, 12, tzinfo=UTC), None, None,
                      datetime(2026, 2, 1, tzinfo=UTC), UTC)
    assert [(c.due.day, c.amount) for c in got] == [(31, Decimal("1.00")), (1, Decimal("1.11"))]
