"""Invariants of settlement and time periods for any anchor, moment, unit and timezone."""

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from hypothesis import assume, given, settings
from hypothesis import strategies as st

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

TICK = timedelta(microseconds=1)

# Every zone in the tz database, with its skipped days (Samoa 2011) and half-hour shifts.
zones = st.timezones()
instants = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2099, 12, 31)).map(
    lambda moment: moment.replace(tzinfo=UTC)
)

# Random instants rarely land on a clock change, so half the cases are drawn around one.
CLOCK_CHANGES = [
    ("Europe/Berlin", datetime(2026, 3, 29, 1)),
    ("Europe/Berlin", datetime(2026, 10, 25, 1)),
    ("Europe/Moscow", datetime(2011, 3, 26, 23)),
    ("Europe/Moscow", datetime(2014, 10, 25, 22)),
    ("America/Santiago", datetime(2024, 4, 7, 3)),
    ("America/Santiago", datetime(2024, 9, 8, 4)),  # midnight skipped
    ("America/Havana", datetime(2026, 3, 8, 5)),
    ("Australia/Lord_Howe", datetime(2026, 4, 4, 15)),  # half an hour
    ("Australia/Lord_Howe", datetime(2026, 10, 3, 15, 30)),
    ("Antarctica/Troll", datetime(2026, 3, 29, 1)),  # two hours
    ("Pacific/Apia", datetime(2011, 12, 30, 10)),  # a whole day skipped
    ("Pacific/Kwajalein", datetime(1993, 8, 21, 12)),
]


def near(base: datetime, days: int) -> st.SearchStrategy[datetime]:
    return st.builds(
        lambda d, h, m: base + timedelta(days=d, hours=h, minutes=m),
        st.integers(-days, days),
        st.integers(-48, 48),
        st.sampled_from((0, 15, 30, 45, 59)),
    )


@st.composite
def zone_anchor_moment(draw: st.DrawFn) -> tuple[ZoneInfo, datetime, datetime]:
    if draw(st.booleans()):
        name, base = draw(st.sampled_from(CLOCK_CHANGES))
        base = base.replace(tzinfo=UTC)
        return ZoneInfo(name), draw(near(base, 800)), draw(near(base, 0))
    return draw(zones), draw(instants), draw(instants)


@st.composite
def cases(draw: st.DrawFn) -> tuple[SettlementPeriod, datetime | None, datetime, ZoneInfo]:
    tz, anchor, at = draw(zone_anchor_moment())
    unit = draw(st.sampled_from(PeriodUnit))
    length = draw(st.integers(1, 400 * 86400)) if unit is PeriodUnit.SECONDS else None
    # Moments arrive in local time too, fold and all, as a form field would give them.
    anchor, at = anchor.astimezone(tz), at.astimezone(tz)
    if draw(st.booleans()):
        return SettlementPeriod(unit, length_seconds=length, autostart=True), anchor, at, tz
    return SettlementPeriod(unit, length_seconds=length, anchor=anchor), None, at, tz


@settings(max_examples=300, deadline=None)
@given(cases())
def test_the_period_contains_the_moment_and_tiles_time(
    case: tuple[SettlementPeriod, datetime | None, datetime, ZoneInfo],
) -> None:
    period, assigned_at, at, tz = case
    start, end = period_bounds(period, at, tz, assigned_at)
    assert start.tzinfo is UTC and end.tzinfo is UTC
    assert start <= at < end
    following = period_bounds(period, end, tz, assigned_at)
    assert following[0] == end and following[1] > end
    previous = period_bounds(period, start - TICK, tz, assigned_at)
    assert previous[1] == start


@settings(max_examples=150, deadline=None)
@given(cases(), st.integers(0, 40 * 86400))
def test_periods_between_cover_the_range_without_gap_or_overlap(
    case: tuple[SettlementPeriod, datetime | None, datetime, ZoneInfo], seconds: int
) -> None:
    period, assigned_at, start, tz = case
    assume(period.unit is not PeriodUnit.SECONDS or (period.length_seconds or 0) >= 3600)
    end = start.astimezone(UTC) + timedelta(seconds=seconds)  # local + 1 s is wall time
    periods = periods_between(period, start, end, tz, assigned_at)
    if seconds == 0:
        assert periods == []
        return
    assert periods[0] == period_bounds(period, start, tz, assigned_at)
    assert periods[0][0] <= start and periods[-1][1] >= end
    assert periods[-1][0] < end
    for (_, finish), (begin, _) in pairwise(periods):
        assert finish == begin
    assert all(begin < finish for begin, finish in periods)


@settings(max_examples=200, deadline=None)
@given(zone_anchor_moment())
def test_day_periods_from_a_local_midnight_are_local_days(
    case: tuple[ZoneInfo, datetime, datetime],
) -> None:
    tz, anchor_day, at = case
    anchor = day_bounds(anchor_day, tz)[0]
    assume(anchor.astimezone(tz).time() == datetime.min.time())
    bounds = period_bounds(SettlementPeriod(PeriodUnit.DAY, anchor=anchor), at, tz)
    start, end = day_bounds(at, tz)
    assert bounds == (start, end)
    assert start <= at < end
    assert start.astimezone(tz).date() == at.astimezone(tz).date()
    assert (end - TICK).astimezone(tz).date() == at.astimezone(tz).date()
    assert local_days(start, end, tz) >= 1


@settings(max_examples=200, deadline=None)
@given(zone_anchor_moment())
def test_month_periods_last_28_to_31_local_days(case: tuple[ZoneInfo, datetime, datetime]) -> None:
    tz, anchor, at = case
    period = SettlementPeriod(PeriodUnit.MONTH, anchor=anchor)
    start, end = period_bounds(period, at, tz)
    # A zone that skips a whole day (Kwajalein 1993, Samoa 2011) pushes a start that falls
    # on it to the next date.
    jump = abs(tz.utcoffset(end.astimezone(tz)) - tz.utcoffset(start.astimezone(tz)))
    slack = jump // timedelta(days=1)
    assert 28 - slack <= local_days(start, end, tz) <= 31 + slack


@st.composite
def node_cases(draw: st.DrawFn) -> tuple[ZoneInfo, list[TimeNode], datetime]:
    tz, start, at = draw(zone_anchor_moment())
    nodes = []
    for _ in range(draw(st.integers(0, 3))):
        length = timedelta(minutes=draw(st.integers(1, 40 * 24 * 60)))
        repeat = draw(st.sampled_from(Repeat))
        nodes.append(TimeNode(start.astimezone(tz), length, repeat))
        start = draw(st.one_of(near(start, 30), instants))
    return tz, nodes, at


@settings(max_examples=150, deadline=None)
@given(node_cases())
def test_nodes_agree_with_each_other(case: tuple[ZoneInfo, list[TimeNode], datetime]) -> None:
    tz, nodes, at = case
    inside = in_time_period(nodes, at, tz)
    winner = active_node(nodes, at, tz)
    assert inside == (winner is not None)
    occurrences = [o for node in nodes if (o := node_occurrence(node, at, tz)) is not None]
    assert all(begin <= at < finish for begin, finish in occurrences)
    if winner is not None:
        won = node_occurrence(winner, at, tz)
        assert won is not None
        assert won[0] == max(begin for begin, _ in occurrences)

    boundary = next_boundary(nodes, at, tz)
    if boundary is None:
        later = at + timedelta(days=200)
        assert in_time_period(nodes, later, tz) == inside
        return
    assert boundary > at
    assert in_time_period(nodes, boundary, tz) != inside
    assert in_time_period(nodes, boundary - TICK, tz) == inside
    assert in_time_period(nodes, at + (boundary - at) / 2, tz) == inside
