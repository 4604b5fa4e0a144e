"""Settlement periods, as pure calendar arithmetic: the spans a tariff charges by.

A period steps on the local wall clock of the ISP's timezone (``billing.wallclock`` holds
what that means on the days the clocks change):

* A DAY is a calendar day: 23 or 25 hours when the clocks change. WEEK is 7 calendar days,
  MONTH keeps the anchor's day of month (clamped to the month's length, and always counted
  from the anchor so 31 Jan -> 28 Feb -> 31 Mar), YEAR clamps 29 Feb to 28 Feb.
* SECONDS periods ignore the calendar: anchor + k * length in UTC.
* Settlement periods extend backwards before the anchor too (k < 0): a fixed anchor set in
  the future must still place an earlier assignment in a period. Callers that must not
  charge before an assignment check that themselves.

Time-of-day windows (nights, access hours) are not periods: ``billing.time_windows``.
Everything returns aware UTC datetimes, because that is how time is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from billing.wallclock import Series, local_wall, require_aware, resolve, to_utc

__all__ = [
    "PeriodUnit",
    "SettlementPeriod",
    "day_bounds",
    "local_days",
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
            require_aware(self.anchor, "anchor")


# ---------------------------------------------------------------------------------------
# Settlement periods


def _settlement_series(
    period: SettlementPeriod, tz: ZoneInfo, assigned_at: datetime | None
) -> Series:
    if period.autostart:
        if assigned_at is None:
            raise ValueError("an autostart period needs assigned_at")
        require_aware(assigned_at, "assigned_at")
        origin = assigned_at
    else:
        if period.anchor is None:
            raise ValueError("a fixed settlement period needs an anchor")
        origin = period.anchor
    return Series(period.unit, origin, tz, period.length_seconds)


def period_bounds(
    period: SettlementPeriod,
    at: datetime,
    tz: ZoneInfo,
    assigned_at: datetime | None = None,
) -> tuple[datetime, datetime]:
    """[start, end) in UTC of the settlement period containing ``at``.

    A moment exactly on a boundary belongs to the period that starts there.
    """
    at = to_utc(at, "at")
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
    start = to_utc(start, "start")
    end = to_utc(end, "end")
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
    at = to_utc(at, "at")
    midnight = local_wall(at, tz).replace(hour=0, minute=0, second=0, microsecond=0)
    return resolve(midnight, tz), resolve(midnight + timedelta(days=1), tz)


def local_days(start: datetime, end: datetime, tz: ZoneInfo) -> int:
    """Local calendar days in [start, end): how many times the local date changes.

    Proration divides a period by days, and a DST day is still one day, so the same
    tariff costs the same in every timezone. A period shorter than a day may count 0.
    """
    start = to_utc(start, "start")
    end = to_utc(end, "end")
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    return (end.astimezone(tz).date() - start.astimezone(tz).date()).days


