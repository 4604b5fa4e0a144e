"""Settlement periods and time-period nodes: calendar edge cases, one by one."""

import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from billing.periods import (
    PeriodUnit,
    SettlementPeriod,
    day_bounds,
    local_days,
    period_bounds,
    periods_between,
)
from billing.time_windows import (
    Repeat,
    TimeNode,
    active_node,
    in_time_period,
    next_boundary,
    node_occurrence,
)

BERLIN = ZoneInfo("Europe/Berlin")
MOSCOW = ZoneInfo("Europe/Moscow")
SANTIAGO = ZoneInfo("America/Santiago")
UTC_ZONE = ZoneInfo("UTC")
HOUR = timedelta(hours=1)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local(tz: ZoneInfo, *args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=tz, fold=fold)


def fixed(unit: str, anchor: datetime, length_seconds: int | None = None) -> SettlementPeriod:
    return SettlementPeriod(PeriodUnit(unit), length_seconds=length_seconds, anchor=anchor)


def starts(periods: list[tuple[datetime, datetime]], tz: ZoneInfo) -> list[datetime]:
    return [start.astimezone(tz).replace(tzinfo=None) for start, _ in periods]


# --- values and validation ------------------------------------------------------------


def test_enum_values_are_the_stored_strings() -> None:
    assert [u.value for u in PeriodUnit] == ["DAY", "WEEK", "MONTH", "YEAR", "SECONDS"]
    assert [r.value for r in Repeat] == ["DAY", "WEEK", "MONTH", "YEAR", "NEVER"]
    assert PeriodUnit("MONTH") == "MONTH"


def test_period_accepts_unit_strings_from_the_database() -> None:
    period = SettlementPeriod("MONTH", anchor=utc(2026, 1, 1))  # type: ignore[arg-type]
    assert period.unit is PeriodUnit.MONTH
    with pytest.raises(ValueError):
        SettlementPeriod("FORTNIGHT", anchor=utc(2026, 1, 1))  # type: ignore[arg-type]


@pytest.mark.parametrize("length", [None, 0, -60])
def test_seconds_period_needs_a_positive_length(length: int | None) -> None:
    with pytest.raises(ValueError, match="length_seconds"):
        SettlementPeriod(PeriodUnit.SECONDS, length_seconds=length, anchor=utc(2026, 1, 1))


def test_calendar_period_ignores_length_seconds() -> None:
    period = SettlementPeriod(PeriodUnit.DAY, length_seconds=5, anchor=utc(2026, 1, 1))
    assert period_bounds(period, utc(2026, 1, 2, 5), UTC_ZONE) == (utc(2026, 1, 2), utc(2026, 1, 3))


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="anchor"):
        SettlementPeriod(PeriodUnit.DAY, anchor=datetime(2026, 1, 1))
    period = fixed("DAY", utc(2026, 1, 1))
    with pytest.raises(ValueError, match="at"):
        period_bounds(period, datetime(2026, 1, 5), BERLIN)
    autostart = SettlementPeriod(PeriodUnit.DAY, autostart=True)
    with pytest.raises(ValueError, match="assigned_at"):
        period_bounds(autostart, utc(2026, 1, 5), BERLIN, assigned_at=datetime(2026, 1, 1))
    with pytest.raises(ValueError):
        periods_between(period, datetime(2026, 1, 1), utc(2026, 1, 5), BERLIN)
    with pytest.raises(ValueError):
        day_bounds(datetime(2026, 1, 1), BERLIN)
    with pytest.raises(ValueError):
        local_days(utc(2026, 1, 1), datetime(2026, 1, 5), BERLIN)


def test_missing_anchors_are_refused() -> None:
    with pytest.raises(ValueError, match="assigned_at"):
        period_bounds(SettlementPeriod(PeriodUnit.MONTH, autostart=True), utc(2026, 1, 5), BERLIN)
    with pytest.raises(ValueError, match="anchor"):
        period_bounds(SettlementPeriod(PeriodUnit.MONTH), utc(2026, 1, 5), BERLIN)


def test_results_are_in_utc() -> None:
    start, end = period_bounds(fixed("MONTH", local(MOSCOW, 2026, 1, 1)), utc(2026, 2, 3), MOSCOW)
    assert start.tzinfo is UTC and end.tzinfo is UTC
    assert (start, end) == (utc(2026, 1, 31, 21), utc(2026, 2, 28, 21))


# --- months and years ------------------------------------------------------------------


def test_month_end_clamps_from_the_anchor_not_from_the_previous_period() -> None:
    period = fixed("MONTH", utc(2023, 1, 31, 12))
    periods = periods_between(period, utc(2023, 1, 31, 12), utc(2024, 5, 1), UTC_ZONE)
    assert [s.date().isoformat() for s in starts(periods, UTC_ZONE)][:5] == [
        "2023-01-31",
        "2023-02-28",
        "2023-03-31",
        "2023-04-30",
        "2023-05-31",
    ]
    assert period_bounds(period, utc(2024, 3, 1), UTC_ZONE) == (
        utc(2024, 2, 29, 12),
        utc(2024, 3, 31, 12),
    )
    assert period_bounds(period, utc(2023, 3, 30), UTC_ZONE) == (
        utc(2023, 2, 28, 12),
        utc(2023, 3, 31, 12),
    )


def test_monthly_anchor_on_29_february() -> None:
    period = fixed("MONTH", local(MOSCOW, 2024, 2, 29))
    assert period_bounds(period, local(MOSCOW, 2024, 3, 15), MOSCOW) == (
        local(MOSCOW, 2024, 2, 29),
        local(MOSCOW, 2024, 3, 29),
    )
    assert period_bounds(period, local(MOSCOW, 2025, 3, 1), MOSCOW) == (
        local(MOSCOW, 2025, 2, 28),
        local(MOSCOW, 2025, 3, 29),
    )


def test_yearly_period_on_29_february_clamps_in_common_years() -> None:
    period = fixed("YEAR", local(BERLIN, 2024, 2, 29))
    periods = periods_between(period, utc(2024, 3, 1), utc(2028, 3, 1), BERLIN)
    assert [s.date().isoformat() for s in starts(periods, BERLIN)] == [
        "2024-02-29",
        "2025-02-28",
        "2026-02-28",
        "2027-02-28",
        "2028-02-29",
    ]
    assert [local_days(s, e, BERLIN) for s, e in periods] == [365, 365, 365, 366, 365]


def test_year_periods() -> None:
    period = fixed("YEAR", local(BERLIN, 2020, 7, 1, 9, 30))
    start, end = period_bounds(period, utc(2026, 3, 29, 12), BERLIN)
    assert (start, end) == (local(BERLIN, 2025, 7, 1, 9, 30), local(BERLIN, 2026, 7, 1, 9, 30))
    assert local_days(start, end, BERLIN) == 365
    # A leap year inside a year period: 366 days.
    start, end = period_bounds(period, utc(2024, 1, 1), BERLIN)
    assert local_days(start, end, BERLIN) == 366


def test_month_periods_in_berlin_count_calendar_days_across_dst() -> None:
    period = fixed("MONTH", local(BERLIN, 2026, 1, 1))
    march = period_bounds(period, local(BERLIN, 2026, 3, 29, 12), BERLIN)
    assert march == (utc(2026, 2, 28, 23), utc(2026, 3, 31, 22))
    assert local_days(*march, BERLIN) == 31
    assert march[1] - march[0] == timedelta(days=31) - HOUR
    october = period_bounds(period, local(BERLIN, 2026, 10, 25, 12), BERLIN)
    assert october == (utc(2026, 9, 30, 22), utc(2026, 10, 31, 23))
    assert local_days(*october, BERLIN) == 31
    assert october[1] - october[0] == timedelta(days=31) + HOUR


# --- days, DST and timezones ------------------------------------------------------------


@pytest.mark.parametrize(
    ("tz", "day", "hours"),
    [
        (BERLIN, (2026, 3, 29), 23),
        (BERLIN, (2026, 10, 25), 25),
        (BERLIN, (2026, 6, 1), 24),
        (MOSCOW, (2014, 10, 26), 25),  # the last change: back to UTC+3 for good
        (MOSCOW, (2015, 3, 29), 24),  # no DST since
        (MOSCOW, (2026, 10, 25), 24),
        (UTC_ZONE, (2026, 3, 29), 24),
    ],
)
def test_day_periods_follow_the_calendar_day(
    tz: ZoneInfo, day: tuple[int, int, int], hours: int
) -> None:
    period = fixed("DAY", local(tz, 2014, 1, 1))
    noon = local(tz, *day, 12)
    start, end = period_bounds(period, noon, tz)
    assert start == local(tz, *day)
    assert end.astimezone(tz).replace(tzinfo=None) == datetime(*day) + timedelta(days=1)
    assert end - start == timedelta(hours=hours)
    assert local_days(start, end, tz) == 1
    assert day_bounds(noon, tz) == (start, end)


def test_day_bounds_when_midnight_does_not_exist() -> None:
    # Chile moves the clocks from 24:00 to 01:00: the day starts at the jump.
    start, end = day_bounds(local(SANTIAGO, 2024, 9, 8, 12), SANTIAGO)
    assert start == utc(2024, 9, 8, 4)
    assert start.astimezone(SANTIAGO).replace(tzinfo=None) == datetime(2024, 9, 8, 1)
    assert end - start == timedelta(hours=23)
    assert day_bounds(local(SANTIAGO, 2024, 9, 7, 23, 59), SANTIAGO)[1] == start


def test_local_days() -> None:
    assert local_days(local(BERLIN, 2026, 3, 1), local(BERLIN, 2026, 4, 1), BERLIN) == 31
    assert local_days(local(BERLIN, 2026, 3, 5, 1), local(BERLIN, 2026, 3, 5, 23), BERLIN) == 0
    # The same instants are a different number of days elsewhere: days are local.
    assert local_days(utc(2026, 3, 1, 22), utc(2026, 3, 2, 2), UTC_ZONE) == 1
    assert local_days(utc(2026, 3, 1, 22), utc(2026, 3, 2, 2), MOSCOW) == 0
    with pytest.raises(ValueError):
        local_days(utc(2026, 3, 2), utc(2026, 3, 1), BERLIN)


def test_wall_time_skipped_by_spring_forward_resolves_to_the_jump() -> None:
    period = fixed("DAY", local(BERLIN, 2026, 3, 1, 2, 30))
    start, end = period_bounds(period, local(BERLIN, 2026, 3, 29, 12), BERLIN)
    assert start == local(BERLIN, 2026, 3, 29, 3, 0)  # 02:30 does not exist that day
    assert end == local(BERLIN, 2026, 3, 30, 2, 30)
    assert period_bounds(period, start - timedelta(microseconds=1), BERLIN)[1] == start


def test_repeated_wall_time_takes_the_first_occurrence() -> None:
    period = fixed("DAY", local(BERLIN, 2026, 10, 1, 2, 30))
    start, end = period_bounds(period, local(BERLIN, 2026, 10, 25, 12), BERLIN)
    assert start == utc(2026, 10, 25, 0, 30)  # 02:30 CEST, not 02:30 CET
    assert end - start == timedelta(hours=25)


def test_anchor_in_the_repeated_hour_keeps_its_occurrence() -> None:
    anchor = local(BERLIN, 2026, 10, 25, 2, 30, fold=1)  # 02:30 CET, the second time
    # Aware datetimes in a repeated hour never compare equal across zones (PEP 495),
    # so compare in UTC, which is what period_bounds returns anyway.
    assert anchor.astimezone(UTC) == utc(2026, 10, 25, 1, 30)
    period = fixed("DAY", anchor)
    assert period_bounds(period, anchor, BERLIN) == (
        utc(2026, 10, 25, 1, 30),
        utc(2026, 10, 26, 1, 30),
    )
    assert period_bounds(period, utc(2026, 10, 25, 1, 29, 59), BERLIN) == (
        utc(2026, 10, 24, 0, 30),
        utc(2026, 10, 25, 1, 30),
    )


# --- weeks, seconds, autostart, boundaries ---------------------------------------------


def test_week_periods_across_dst() -> None:
    period = fixed("WEEK", local(BERLIN, 2026, 1, 5))  # a Monday
    start, end = period_bounds(period, local(BERLIN, 2026, 3, 29, 12), BERLIN)
    assert (start, end) == (local(BERLIN, 2026, 3, 23), local(BERLIN, 2026, 3, 30))
    assert end - start == timedelta(days=7) - HOUR
    assert local_days(start, end, BERLIN) == 7


def test_seconds_periods_are_plain_utc_arithmetic() -> None:
    period = fixed("SECONDS", local(BERLIN, 2026, 3, 28, 22), length_seconds=5 * 3600)
    # 2026-03-28 21:00Z + 5h steps; the clock change in between changes nothing.
    assert period_bounds(period, utc(2026, 3, 29, 7), BERLIN) == (
        utc(2026, 3, 29, 7),
        utc(2026, 3, 29, 12),
    )
    assert period_bounds(period, utc(2026, 3, 29, 6, 59), BERLIN) == (
        utc(2026, 3, 29, 2),
        utc(2026, 3, 29, 7),
    )


def test_autostart_periods_start_at_the_assignment() -> None:
    period = SettlementPeriod(PeriodUnit.MONTH, anchor=utc(2000, 1, 1), autostart=True)
    assigned = local(MOSCOW, 2026, 1, 31, 15, 20)
    assert period_bounds(period, local(MOSCOW, 2026, 3, 1), MOSCOW, assigned_at=assigned) == (
        local(MOSCOW, 2026, 2, 28, 15, 20),
        local(MOSCOW, 2026, 3, 31, 15, 20),
    )
    assert period_bounds(period, assigned, MOSCOW, assigned_at=assigned)[0] == assigned


def test_a_moment_on_a_boundary_belongs_to_the_new_period() -> None:
    period = fixed("MONTH", local(BERLIN, 2026, 1, 1))
    boundary = local(BERLIN, 2026, 4, 1)
    assert period_bounds(period, boundary, BERLIN) == (boundary, local(BERLIN, 2026, 5, 1))
    assert period_bounds(period, boundary - timedelta(microseconds=1), BERLIN)[1] == boundary


def test_periods_extend_backwards_before_the_anchor() -> None:
    period = fixed("MONTH", local(BERLIN, 2026, 1, 31))
    assert period_bounds(period, local(BERLIN, 2025, 12, 15), BERLIN) == (
        local(BERLIN, 2025, 11, 30),
        local(BERLIN, 2025, 12, 31),
    )
    seconds = fixed("SECONDS", utc(2026, 1, 1), length_seconds=3600)
    assert period_bounds(seconds, utc(2025, 12, 31, 22, 30), UTC_ZONE) == (
        utc(2025, 12, 31, 22),
        utc(2025, 12, 31, 23),
    )


def test_periods_between_lists_overlapping_periods_in_order() -> None:
    period = fixed("DAY", local(BERLIN, 2026, 1, 1))
    periods = periods_between(
        period, local(BERLIN, 2026, 3, 28, 12), local(BERLIN, 2026, 3, 31), BERLIN
    )
    assert periods == [
        (local(BERLIN, 2026, 3, 28), local(BERLIN, 2026, 3, 29)),
        (local(BERLIN, 2026, 3, 29), local(BERLIN, 2026, 3, 30)),
        (local(BERLIN, 2026, 3, 30), local(BERLIN, 2026, 3, 31)),
    ]
    assert [e - s for s, e in periods] == [timedelta(hours=24), timedelta(hours=23), HOUR * 24]
    moment = local(BERLIN, 2026, 3, 28, 12)
    assert periods_between(period, moment, moment, BERLIN) == []
    assert periods_between(period, moment, moment + HOUR, BERLIN) == [periods[0]]
    with pytest.raises(ValueError):
        periods_between(period, moment, moment - HOUR, BERLIN)


def test_far_from_the_anchor_costs_the_same_as_near_it() -> None:
    period = fixed("DAY", local(BERLIN, 1901, 1, 1))
    at = local(BERLIN, 2099, 6, 1, 12)
    begin = time.perf_counter()
    for _ in range(1000):
        bounds = period_bounds(period, at, BERLIN)
    assert bounds == (local(BERLIN, 2099, 6, 1), local(BERLIN, 2099, 6, 2))
    assert time.perf_counter() - begin < 1.0  # iterating 72,000 days would take far longer


def test_100k_accounts_in_a_loop() -> None:
    period = SettlementPeriod(PeriodUnit.MONTH, autostart=True)
    at = utc(2026, 3, 29, 1, 30)
    base = utc(2020, 1, 1)
    begin = time.perf_counter()
    for account in range(100_000):
        assigned = base + timedelta(seconds=account * 1777)
        start, end = period_bounds(period, at, BERLIN, assigned_at=assigned)
        assert start <= at < end
    assert time.perf_counter() - begin < 20.0  # a few seconds at most on a slow machine


# --- time-period nodes -----------------------------------------------------------------

NIGHT = TimeNode(local(MOSCOW, 2026, 1, 1, 22), timedelta(hours=9), Repeat.DAY, "night")


def test_node_validation() -> None:
    with pytest.raises(ValueError):
        TimeNode(local(MOSCOW, 2026, 1, 1), timedelta(0), Repeat.DAY)
    with pytest.raises(ValueError):
        TimeNode(datetime(2026, 1, 1), HOUR, Repeat.DAY)
    node = TimeNode(local(MOSCOW, 2026, 1, 1), HOUR, "WEEK")  # type: ignore[arg-type]
    assert node.repeat is Repeat.WEEK
    with pytest.raises(ValueError):
        node_occurrence(node, datetime(2026, 1, 1), MOSCOW)


def test_daily_node_crossing_midnight() -> None:
    night = (local(MOSCOW, 2026, 3, 9, 22), local(MOSCOW, 2026, 3, 10, 7))
    assert node_occurrence(NIGHT, local(MOSCOW, 2026, 3, 9, 22), MOSCOW) == night
    assert node_occurrence(NIGHT, local(MOSCOW, 2026, 3, 9, 23, 30), MOSCOW) == night
    assert node_occurrence(NIGHT, local(MOSCOW, 2026, 3, 10, 3), MOSCOW) == night
    assert node_occurrence(NIGHT, local(MOSCOW, 2026, 3, 10, 7), MOSCOW) is None
    assert node_occurrence(NIGHT, local(MOSCOW, 2026, 3, 10, 12), MOSCOW) is None
    assert node_occurrence(NIGHT, local(MOSCOW, 2026, 1, 1, 3), MOSCOW) is None  # before start


def test_daily_node_keeps_its_wall_clock_times_across_dst() -> None:
    night = TimeNode(local(BERLIN, 2026, 1, 1, 22), timedelta(hours=9), Repeat.DAY)
    short = node_occurrence(night, local(BERLIN, 2026, 3, 29, 3), BERLIN)
    assert short == (local(BERLIN, 2026, 3, 28, 22), local(BERLIN, 2026, 3, 29, 7))
    assert short[1] - short[0] == timedelta(hours=8)
    long = node_occurrence(night, local(BERLIN, 2026, 10, 25, 3), BERLIN)
    assert long == (local(BERLIN, 2026, 10, 24, 22), local(BERLIN, 2026, 10, 25, 7))
    assert long[1] - long[0] == timedelta(hours=10)


def test_weekly_node_for_weekends() -> None:
    weekend = TimeNode(local(BERLIN, 2026, 1, 3), timedelta(days=2), Repeat.WEEK)  # Saturday
    assert in_time_period([weekend], local(BERLIN, 2026, 3, 28, 0), BERLIN)
    assert in_time_period([weekend], local(BERLIN, 2026, 3, 29, 23, 59), BERLIN)
    assert not in_time_period([weekend], local(BERLIN, 2026, 3, 30, 0), BERLIN)
    assert not in_time_period([weekend], local(BERLIN, 2026, 3, 27, 23, 59), BERLIN)
    assert node_occurrence(weekend, local(BERLIN, 2026, 3, 29, 12), BERLIN) == (
        local(BERLIN, 2026, 3, 28),
        local(BERLIN, 2026, 3, 30),
    )


def test_monthly_node_clamps_like_settlement_periods() -> None:
    node = TimeNode(local(MOSCOW, 2026, 1, 31, 10), 2 * HOUR, Repeat.MONTH)
    assert node_occurrence(node, local(MOSCOW, 2026, 2, 28, 11), MOSCOW) == (
        local(MOSCOW, 2026, 2, 28, 10),
        local(MOSCOW, 2026, 2, 28, 12),
    )
    assert in_time_period([node], local(MOSCOW, 2026, 3, 31, 10, 30), MOSCOW)
    assert not in_time_period([node], local(MOSCOW, 2026, 3, 28, 10, 30), MOSCOW)
    assert not in_time_period([node], local(MOSCOW, 2026, 3, 31, 12), MOSCOW)


def test_yearly_node_on_29_february() -> None:
    node = TimeNode(local(UTC_ZONE, 2024, 2, 29), timedelta(days=1), Repeat.YEAR)
    assert in_time_period([node], utc(2025, 2, 28, 12), UTC_ZONE)
    assert not in_time_period([node], utc(2025, 3, 1, 0), UTC_ZONE)
    assert in_time_period([node], utc(2028, 2, 29, 23), UTC_ZONE)
    assert not in_time_period([node], utc(2028, 2, 28, 23), UTC_ZONE)


def test_node_that_never_repeats() -> None:
    node = TimeNode(local(MOSCOW, 2026, 5, 9, 13), 3 * HOUR, Repeat.NEVER, "parade")
    assert node_occurrence(node, utc(2026, 5, 9, 12), MOSCOW) == (
        utc(2026, 5, 9, 10),
        utc(2026, 5, 9, 13),
    )
    assert node_occurrence(node, utc(2026, 5, 9, 13), MOSCOW) is None
    assert node_occurrence(node, utc(2027, 5, 9, 12), MOSCOW) is None
    assert next_boundary([node], utc(2026, 1, 1), MOSCOW) == utc(2026, 5, 9, 10)
    assert next_boundary([node], utc(2026, 1, 1), MOSCOW).tzinfo is UTC  # type: ignore[union-attr]
    assert next_boundary([node], utc(2026, 5, 9, 11), MOSCOW) == utc(2026, 5, 9, 13)
    assert next_boundary([node], utc(2026, 5, 9, 13), MOSCOW) is None


def test_node_at_least_as_long_as_its_step_covers_everything_after_its_start() -> None:
    always = TimeNode(local(BERLIN, 2026, 1, 1, 8), timedelta(days=1), Repeat.DAY)
    assert not in_time_period([always], local(BERLIN, 2026, 1, 1, 7), BERLIN)
    for day in (2, 3, 28, 29, 30):
        assert in_time_period([always], local(BERLIN, 2026, 3, day, 7, 59), BERLIN)
    assert in_time_period([always], local(BERLIN, 2026, 10, 25, 7, 59), BERLIN)
    assert next_boundary([always], local(BERLIN, 2026, 1, 1, 7), BERLIN) == local(
        BERLIN, 2026, 1, 1, 8
    )
    assert next_boundary([always], local(BERLIN, 2026, 3, 29, 12), BERLIN) is None


def test_most_recently_started_occurrence_wins() -> None:
    weekend = TimeNode(local(BERLIN, 2026, 1, 3), timedelta(days=2), Repeat.WEEK, "weekend")
    night = TimeNode(local(BERLIN, 2026, 1, 1, 22), timedelta(hours=9), Repeat.DAY, "night")
    nodes = [night, weekend]
    assert active_node(nodes, local(BERLIN, 2026, 3, 28, 12), BERLIN) is weekend
    assert active_node(nodes, local(BERLIN, 2026, 3, 28, 23), BERLIN) is night
    # Saturday 03:00: the night began on Friday 22:00, the weekend at midnight.
    assert active_node(nodes, local(BERLIN, 2026, 3, 28, 3), BERLIN) is weekend
    assert active_node(nodes, local(BERLIN, 2026, 3, 25, 12), BERLIN) is None
    assert active_node([], local(BERLIN, 2026, 3, 25, 12), BERLIN) is None


def test_equal_starts_the_later_node_wins() -> None:
    first = TimeNode(local(BERLIN, 2026, 1, 1, 22), 2 * HOUR, Repeat.DAY, "first")
    second = TimeNode(local(BERLIN, 2026, 1, 1, 22), 5 * HOUR, Repeat.DAY, "second")
    at = local(BERLIN, 2026, 3, 3, 23)
    assert active_node([first, second], at, BERLIN) is second
    assert active_node([second, first], at, BERLIN) is first
    assert active_node([second, first], at + 2 * HOUR, BERLIN) is second


def test_next_boundary() -> None:
    assert next_boundary([NIGHT], local(MOSCOW, 2026, 3, 10, 12), MOSCOW) == local(
        MOSCOW, 2026, 3, 10, 22
    )
    assert next_boundary([NIGHT], local(MOSCOW, 2026, 3, 10, 1), MOSCOW) == local(
        MOSCOW, 2026, 3, 10, 7
    )
    assert next_boundary([NIGHT], local(MOSCOW, 2026, 3, 10, 7), MOSCOW) == local(
        MOSCOW, 2026, 3, 10, 22
    )
    assert next_boundary([NIGHT], local(MOSCOW, 2025, 6, 1), MOSCOW) == NIGHT.start
    assert next_boundary([], local(MOSCOW, 2026, 3, 10, 7), MOSCOW) is None


def test_next_boundary_on_a_dst_night() -> None:
    night = TimeNode(local(BERLIN, 2026, 1, 1, 22), timedelta(hours=9), Repeat.DAY)
    assert next_boundary([night], local(BERLIN, 2026, 3, 29, 1), BERLIN) == utc(2026, 3, 29, 5)
    assert next_boundary([night], local(BERLIN, 2026, 10, 25, 1), BERLIN) == utc(2026, 10, 25, 6)


def test_next_boundary_follows_overlapping_nodes() -> None:
    morning = TimeNode(local(MOSCOW, 2026, 1, 1, 6), 3 * HOUR, Repeat.DAY, "morning")
    at = local(MOSCOW, 2026, 3, 9, 23)
    assert next_boundary([NIGHT, morning], at, MOSCOW) == local(MOSCOW, 2026, 3, 10, 9)
    outside = local(MOSCOW, 2026, 3, 10, 12)
    assert next_boundary([NIGHT, morning], outside, MOSCOW) == local(MOSCOW, 2026, 3, 10, 22)


def test_next_boundary_of_nodes_that_together_cover_every_hour() -> None:
    day = TimeNode(local(MOSCOW, 2026, 1, 1, 7), 15 * HOUR, Repeat.DAY, "day")
    assert next_boundary([NIGHT, day], local(MOSCOW, 2026, 3, 10, 12), MOSCOW) is None
