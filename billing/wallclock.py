"""Local wall-clock time and UTC: the one place where calendar steps meet the clocks.

Operators think in local wall-clock time: "the 1st of every month", "nights from 22:00 to
07:00". So every calendar step is taken on the local wall time of the ISP's timezone, and
only then turned into a UTC instant. That choice decides what happens on the days the
clocks change, and this module settles it once, for settlement periods
(``billing.periods``) and time-of-day windows (``billing.time_windows``) alike:

* A DAY step is a calendar day: 23 or 25 hours when the clocks change. WEEK is 7 calendar
  days, MONTH keeps the origin's day of month (clamped to the month's length, and always
  counted from the origin so 31 Jan -> 28 Feb -> 31 Mar), YEAR clamps 29 Feb to 28 Feb.
* A wall time skipped by spring-forward resolves to the moment the clocks jump (02:30 on
  a Berlin spring-forward day is 03:00 CEST): the first instant the clock shows that time
  or later. This keeps the mapping monotonic, so periods always tile time.
* A wall time that occurs twice (fall-back) takes the first occurrence, unless the origin
  itself sits in the second one: then the whole series follows the origin, so step 0
  starts exactly at the origin.
* SECONDS steps ignore the calendar: origin + k * length in UTC.

Everything returns aware UTC datetimes, because that is how time is stored.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

SECONDS = "SECONDS"  # the unit that ignores the calendar

_MICROSECOND = timedelta(microseconds=1)
_DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")


def to_utc(value: datetime, name: str) -> datetime:
    """``value`` in UTC, so comparisons and sums are on instants.

    Python compares and adds two datetimes of the same zone by wall clock, ignoring fold:
    02:30 CET (second time) + 1 s would be 02:30:01 CEST, an hour earlier.
    """
    require_aware(value, name)
    return value.astimezone(UTC)


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


def resolve(wall: datetime, tz: ZoneInfo, fold: int = 0) -> datetime:
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


def local_wall(at: datetime, tz: ZoneInfo) -> datetime:
    """The naive local wall time of an instant."""
    return at.astimezone(tz).replace(tzinfo=None)


class Series:
    """Starts of a repeating period, origin + k units; start(k) never decreases with k.

    ``unit`` is DAY, WEEK, MONTH, YEAR or SECONDS (then ``length_seconds`` long). Several
    starts may coincide where a zone skipped a whole day; the periods between them are
    empty and nothing ever falls in them.
    """

    __slots__ = ("_fold", "_origin", "_step", "_tz", "_unit", "_wall")

    def __init__(
        self, unit: str, origin: datetime, tz: ZoneInfo, length_seconds: int | None = None
    ) -> None:
        self._unit = unit
        self._tz = tz
        self._origin = origin.astimezone(UTC)
        if unit == SECONDS:
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
        if unit == "DAY":
            return wall + timedelta(days=k)
        if unit == "WEEK":
            return wall + timedelta(days=7 * k)
        if unit == "MONTH":
            months = wall.month - 1 + k
            year, month = wall.year + months // 12, months % 12 + 1
        elif unit == "YEAR":
            year, month = wall.year + k, wall.month
        else:
            raise ValueError(f"no calendar steps for unit {unit!r}")
        day = min(wall.day, _days_in_month(year, month))
        return wall.replace(year=year, month=month, day=day)

    def start(self, k: int) -> datetime:
        if self._unit == SECONDS:
            return self._origin + k * self._step
        if k == 0:
            return self._origin
        return resolve(self.wall(k), self._tz, self._fold)

    def end_after(self, k: int, length: timedelta) -> datetime:
        """End of occurrence k lasting ``length`` of wall-clock time."""
        return resolve(self.wall(k) + length, self._tz, self._fold)

    def locate(self, at: datetime) -> tuple[int, datetime, datetime]:
        """The k with start(k) <= at < start(k + 1), and those two starts.

        The estimate from the wall-clock difference is off by at most a step or two
        (offset changes are hours, units are days or more), so the fix-up loops are short
        and the cost does not grow with the distance from the origin.
        """
        unit = self._unit
        if unit == SECONDS:
            k = (at - self._origin) // self._step
            return k, self.start(k), self.start(k + 1)
        local = local_wall(at, self._tz)
        wall = self._wall
        if unit == "DAY":
            k = (local - wall) // timedelta(days=1)
        elif unit == "WEEK":
            k = (local - wall) // timedelta(days=7)
        elif unit == "MONTH":
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
