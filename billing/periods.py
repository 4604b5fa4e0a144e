"""Settlement periods and time periods (nodes), as pure calendar arithmetic.

Operators think in local wall-clock time: "the 1st of every month", "nights from 22:00 to
07:00". So every calendar step is taken on the local wall time of the ISP's timezone, and
only then turned into a UTC instant. That choice decides what happens on the days the
clocks change, and this module settles it once, for everyone:

* A DAY is a calendar day: 23 or 25 hours when the clocks change. WEEK is 7 calendar days,
  MONTH keeps the anchor's day of month (clamped to the month's length, and always counted
  from the anchor so 31 Jan -> 28 Feb -> 31 Mar), YEAR clamps 29 Feb to 28 Feb.
* A wall time skipped by spring-forward resolves to the moment the clocks jump (02:30 on
  a Berlin spring-forward day is 03:00 CEST): the first instant the clock shows that time
  or later. This keeps the mapping monotonic, so periods always tile time.
* A wall time that occurs twice (fall-back) takes the first occurrence, unless the anchor
  itself sits in the second one: then the whole series follows the anchor, so period 0
  starts exactly at the anchor.
* SECONDS periods ignore the calendar: anchor + k * length in UTC.
* Settlement periods extend backwards before the anchor too (k < 0): a fixed anchor set in
  the future must still place an earlier assignment in a period. Callers that must not
  charge before an assignment check that themselves.

Everything returns aware UTC datetimes, because that is how time is stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

__all__ = [
    "PeriodUnit",
    "Repeat",
    "SettlementPeriod",
    "TimeNode",
    "active_node",
    "day_bounds",
    "in_time_period",
    "last_edge",
    "local_days",
    "next_boundary",
    "node_occurrence",
    "period_bounds",
    "periods_between",
]


class PeriodUnit(StrEnum):
    """Length unit of a settlement period; the values are stored in the database."""

    DAY = "DAY"
    WEEK = "WEEK"
    MONTH = "MONTH"
    YEAR = "YEAR"
    SECONDS = "SECONDS"


class Repeat(StrEnum):
    """How a time-period node repeats; the values are stored in the database."""

    DAY = "DAY"
    WEEK = "WEEK"
    MONTH = "MONTH"
    YEAR = "YEAR"
    NEVER = "NEVER"


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")


def _utc(value: datetime, name: str) -> datetime:
    """``value`` in UTC, so comparisons and sums are on instants.

    Python compares and adds two datetimes of the same zone by wall clock, ignoring fold:
    02:30 CET (second time) + 1 s would be 02:30:01 CEST, an hour earlier.
    """
    _require_aware(value, name)
    return value.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class SettlementPeriod:
    """A tariff's settlement period.

    ``anchor`` is the fixed start used when ``autostart`` is False; with ``autostart`` each
    assignment starts its own series and the functions take ``assigned_at`` instead (the
    anchor, if any, is then ignored). ``length_seconds`` only matters for SECONDS periods.
    """

    unit: PeriodUnit
    length_seconds: int | None = None
    anchor: datetime | None = None
    autostart: bool = False

    def __post_init__(self) -> None:
        # Rows from the database carry plain strings; accept them once, here.
        object.__setattr__(self, "unit", PeriodUnit(self.unit))
        if self.unit is PeriodUnit.SECONDS and (
            self.length_seconds is None or self.length_seconds <= 0
        ):
            raise ValueError(
                f"a SECONDS period needs length_seconds > 0, got {self.length_seconds!r}"
            )
        if self.anchor is not None:
            _require_aware(self.anchor, "anchor")


@dataclass(frozen=True, slots=True)
class TimeNode:
    """One node of a time period: an occurrence starting at ``start`` lasting ``length``.

    The length is wall-clock time, like the start: a 22:00-07:00 night stays 22:00-07:00
    on the nights the clocks change (it then lasts 8 or 10 hours), which is what an
    operator who typed those times means.
    """

    start: datetime
    length: timedelta
    repeat: Repeat
    name: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "repeat", Repeat(self.repeat))
        _require_aware(self.start, "start")
        if self.length <= timedelta(0):
            raise ValueError(f"a node needs a positive length, got {self.length!r}")


# ---------------------------------------------------------------------------------------
# Local wall time <-> UTC

_MICROSECOND = timedelta(microseconds=1)
_DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _days_in_month(year: int, month: int) -> int:
    if month == 2 and _is_leap(year):
        return 29
    return _DAYS_IN_MONTH[month - 1]


def _offset(instant: datetime, tz: ZoneInfo) -> timedelta:
    """UTC offset of ``tz`` at a naive-UTC instant."""
    offset = instant.replace(tzinfo=UTC).astimezone(tz).utcoffset()
    assert offset is not None
    return offset


def _resolve(wall: datetime, tz: ZoneInfo, fold: int = 0) -> datetime:
    """The aware-UTC instant of a naive local wall time (rules in the module docstring)."""
    if wall.fold:
        wall = wall.replace(fold=0)
    before = tz.utcoffset(wall)
    after = tz.utcoffset(wall.replace(fold=1))
    assert before is not None and after is not None
    if before == after:
        return (wall - before).replace(tzinfo=UTC)
    if before > after:  # repeated (fall-back): fold picks the occurrence
        return (wall - (after if fold else before)).replace(tzinfo=UTC)
    # Skipped (spring-forward): the jump happened in (wall - after, wall - before];
    # find it to the microsecond. Rare (once a year per series), so bisection is fine.
    low, high = wall - after, wall - before
    while high - low > _MICROSECOND:
        middle = low + (high - low) // 2
        if _offset(middle, tz) == after:
            high = middle
        else:
            low = middle
    return high.replace(tzinfo=UTC)


def _local_wall(at: datetime, tz: ZoneInfo) -> datetime:
    return at.astimezone(tz).replace(tzinfo=None)


# ---------------------------------------------------------------------------------------
# A series of starts: origin + k units


class _Series:
    """Starts of a repeating period, origin + k units; start(k) never decreases with k.

    Several starts may coincide where a zone skipped a whole day; the periods between
    them are empty and nothing ever falls in them.
    """

    __slots__ = ("_fold", "_origin", "_step", "_tz", "_unit", "_wall")

    def __init__(
        self, unit: str, origin: datetime, tz: ZoneInfo, length_seconds: int | None = None
    ) -> None:
        self._unit = unit
        self._tz = tz
        self._origin = origin.astimezone(UTC)
        if unit == PeriodUnit.SECONDS:
            assert length_seconds is not None
            self._step = timedelta(seconds=length_seconds)
        else:
            local = origin.astimezone(tz)
            self._wall = local.replace(tzinfo=None, fold=0)
            self._fold = local.fold

    def wall(self, k: int) -> datetime:
        """Local wall time of start k: calendar steps from the origin, never chained."""
        wall = self._wall
        unit = self._unit
        if k == 0:
            return wall
        if unit == PeriodUnit.DAY:
            return wall + timedelta(days=k)
        if unit == PeriodUnit.WEEK:
            return wall + timedelta(days=7 * k)
        if unit == PeriodUnit.MONTH:
            months = wall.month - 1 + k
            year, month = wall.year + months // 12, months % 12 + 1
        elif unit == PeriodUnit.YEAR:
            year, month = wall.year + k, wall.month
        else:
            raise ValueError(f"no calendar steps for unit {unit!r}")
        day = min(wall.day, _days_in_month(year, month))
        return wall.replace(year=year, month=month, day=day)

    def start(self, k: int) -> datetime:
        if self._unit == PeriodUnit.SECONDS:
            return self._origin + k * self._step
        if k == 0:
            return self._origin
        return _resolve(self.wall(k), self._tz, self._fold)

    def end_after(self, k: int, length: timedelta) -> datetime:
        """End of occurrence k lasting ``length`` of wall-clock time."""
        return _resolve(self.wall(k) + length, self._tz, self._fold)

    def locate(self, at: datetime) -> tuple[int, datetime, datetime]:
        """The k with start(k) <= at < start(k + 1), and those two starts.

        The estimate from the wall-clock difference is off by at most a step or two
        (offset changes are hours, units are days or more), so the fix-up loops are short
        and the cost does not grow with the distance from the origin.
        """
        unit = self._unit
        if unit == PeriodUnit.SECONDS:
            k = (at - self._origin) // self._step
            return k, self.start(k), self.start(k + 1)
        local = _local_wall(at, self._tz)
        wall = self._wall
        if unit == PeriodUnit.DAY:
            k = (local - wall) // timedelta(days=1)
        elif unit == PeriodUnit.WEEK:
            k = (local - wall) // timedelta(days=7)
        elif unit == PeriodUnit.MONTH:
            k = (local.year - wall.year) * 12 + local.month - wall.month
        else:
            k = local.year - wall.year
        low = self.start(k)
        if low > at:
            high = low
            while low > at:
                k -= 1
                high, low = low, self.start(k)
            return k, low, high
        high = self.start(k + 1)
        while high <= at:
            k += 1
            low, high = high, self.start(k + 1)
        return k, low, high


# ---------------------------------------------------------------------------------------
# Settlement periods


def _settlement_series(
    period: SettlementPeriod, tz: ZoneInfo, assigned_at: datetime | None
) -> _Series:
    if period.autostart:
        if assigned_at is None:
            raise ValueError("an autostart period needs assigned_at")
        _require_aware(assigned_at, "assigned_at")
        origin = assigned_at
    else:
        if period.anchor is None:
            raise ValueError("a fixed settlement period needs an anchor")
        origin = period.anchor
    return _Series(period.unit, origin, tz, period.length_seconds)


def period_bounds(
    period: SettlementPeriod,
    at: datetime,
    tz: ZoneInfo,
    assigned_at: datetime | None = None,
) -> tuple[datetime, datetime]:
    """[start, end) in UTC of the settlement period containing ``at``.

    A moment exactly on a boundary belongs to the period that starts there.
    """
    at = _utc(at, "at")
    series = _settlement_series(period, tz, assigned_at)
    _, start, end = series.locate(at)
    return start, end


def periods_between(
    period: SettlementPeriod,
    start: datetime,
    end: datetime,
    tz: ZoneInfo,
    assigned_at: datetime | None = None,
) -> list[tuple[datetime, datetime]]:
    """Settlement periods overlapping [start, end), oldest first.

    Catching up missed charges walks this list, so it must neither skip nor repeat one.
    """
    start = _utc(start, "start")
    end = _utc(end, "end")
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    series = _settlement_series(period, tz, assigned_at)
    periods: list[tuple[datetime, datetime]] = []
    if end == start:
        return periods
    k, begin, _ = series.locate(start)
    while begin < end:
        finish = series.start(k + 1)
        if finish > begin:  # a day skipped by the zone (Samoa 2011) gives an empty period
            periods.append((begin, finish))
        k += 1
        begin = finish
    return periods


def day_bounds(at: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) in UTC of the local calendar day containing ``at``."""
    at = _utc(at, "at")
    midnight = _local_wall(at, tz).replace(hour=0, minute=0, second=0, microsecond=0)
    return _resolve(midnight, tz), _resolve(midnight + timedelta(days=1), tz)


def local_days(start: datetime, end: datetime, tz: ZoneInfo) -> int:
    """Local calendar days in [start, end): how many times the local date changes.

    Proration divides a period by days, and a DST day is still one day, so the same
    tariff costs the same in every timezone. A period shorter than a day may count 0.
    """
    start = _utc(start, "start")
    end = _utc(end, "end")
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    return (end.astimezone(tz).date() - start.astimezone(tz).date()).days


# ---------------------------------------------------------------------------------------
# Time periods (nodes)

# The longest gap between consecutive occurrence starts, in wall-clock time: a node at
# least this long covers every moment after its first start.
_LONGEST_STEP = {
    Repeat.DAY: timedelta(days=1),
    Repeat.WEEK: timedelta(days=7),
    Repeat.MONTH: timedelta(days=31),
    Repeat.YEAR: timedelta(days=366),
}

# How far next_boundary follows overlapping nodes before calling the state permanent.
_LOOKAHEAD = timedelta(days=366)


def _occurrence(node: TimeNode, at: datetime, tz: ZoneInfo) -> tuple[datetime, datetime] | None:
    if at < node.start:
        return None
    series = _Series(node.repeat, node.start, tz)
    if node.repeat is Repeat.NEVER:
        k, begin = 0, series.start(0)
    else:
        k, begin, _ = series.locate(at)
    finish = series.end_after(k, node.length)
    return (begin, finish) if at < finish else None


def node_occurrence(node: TimeNode, at: datetime, tz: ZoneInfo) -> tuple[datetime, datetime] | None:
    """The occurrence [start, end) in UTC of ``node`` that contains ``at``, if any.

    Only the most recent occurrence starting at or before ``at`` is considered: all
    occurrences last the same wall-clock time, so it also ends last. A node at least as
    long as its repeat step therefore covers everything after its first start. Nodes do
    not extend before their start.
    """
    at = _utc(at, "at")
    return _occurrence(node, at, tz)


def active_node(nodes: Iterable[TimeNode], at: datetime, tz: ZoneInfo) -> TimeNode | None:
    """The node containing ``at`` whose occurrence started most recently.

    So a narrow rule (a night) overrides a broad one (a weekend) while it lasts; among
    equal starts the later node in the list wins, letting the operator order them.
    """
    at = _utc(at, "at")
    best: TimeNode | None = None
    best_start: datetime | None = None
    for node in nodes:
        occurrence = _occurrence(node, at, tz)
        if occurrence is not None and (best_start is None or occurrence[0] >= best_start):
            best, best_start = node, occurrence[0]
    return best


def in_time_period(nodes: Iterable[TimeNode], at: datetime, tz: ZoneInfo) -> bool:
    """Whether ``at`` falls inside any node of the time period."""
    at = _utc(at, "at")
    return any(_occurrence(node, at, tz) is not None for node in nodes)


def _next_start(node: TimeNode, at: datetime, tz: ZoneInfo) -> datetime | None:
    """The first non-empty occurrence of ``node`` starting after ``at``."""
    series = _Series(node.repeat, node.start, tz)
    if node.repeat is Repeat.NEVER:
        return series.start(0) if node.start > at else None
    k = 0 if at < node.start else series.locate(at)[0] + 1
    while series.end_after(k, node.length) <= series.start(k):  # swallowed by a DST gap
        k += 1
    return series.start(k)


def next_boundary(nodes: Sequence[TimeNode], at: datetime, tz: ZoneInfo) -> datetime | None:
    """The first moment after ``at`` where ``in_time_period`` changes; None if it never does.

    RADIUS uses it as the Session-Timeout, so a session is re-authorised when its access
    window opens or closes. Overlapping nodes are followed until coverage really ends;
    coverage that lasts beyond a year (nodes that together cover every hour) counts as
    permanent. A hand-over between two nodes inside one covered stretch is not a change
    here: to catch a speed switch, ask once per rule's nodes and take the earliest.
    """
    at = _utc(at, "at")
    if not in_time_period(nodes, at, tz):
        starts = [s for node in nodes if (s := _next_start(node, at, tz)) is not None]
        return min(starts, default=None)
    moment, horizon = at, at + _LOOKAHEAD
    while True:
        ends = []
        for node in nodes:
            occurrence = _occurrence(node, moment, tz)
            if occurrence is None:
                continue
            if node.repeat is not Repeat.NEVER and node.length >= _LONGEST_STEP[node.repeat]:
                return None
            ends.append(occurrence[1])
        if not ends:
            return moment
        moment = max(ends)
        if moment > horizon:
            return None


def last_edge(nodes: Iterable[TimeNode], at: datetime, tz: ZoneInfo) -> datetime | None:
    """The latest moment at or before ``at`` where an occurrence of any node started or
    ended; None while every node is still to come.

    Whatever follows from the nodes alone (``active_node``, a tariff's speed in force) has
    been the same from that moment to ``at``: it can only change at such an edge. The live
    sessions' time-of-day speed uses it to leave sessions that began after it alone. A
    node at least as long as its repeat step covers everything after its first start, so
    that start is its only edge.
    """
    at = _utc(at, "at")
    latest: datetime | None = None
    for node in nodes:
        if at < node.start:
            continue
        series = _Series(node.repeat, node.start, tz)
        if node.repeat is Repeat.NEVER:
            k, edge = 0, series.start(0)
        else:
            k, edge, _ = series.locate(at)
            if node.length >= _LONGEST_STEP[node.repeat]:
                k, edge = -1, node.start
        # Ends grow with k; shorter than the longest step, only the last two or three
        # occurrences can still be running, so this walk is short.
        while k >= 0:
            end = series.end_after(k, node.length)
            if end <= at:
                edge = max(edge, end)
                break
            k -= 1
        latest = edge if latest is None else max(latest, edge)
    return latest
