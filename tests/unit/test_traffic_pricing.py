"""The price of a megabyte at a moment: the most recently started node in force wins, the
any-time row applies outside every time period, and with no row traffic is free."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from billing.time_windows import TimeNode
from billing.traffic_pricing import (
    BYTE_PRICE_FACTOR,
    MEGABYTE,
    TrafficPrice,
    price_at,
    usage_periods,
)

MSK = ZoneInfo("Europe/Moscow")
# Saturday 2026-03-07 00:00 local, two days long, weekly; nights 23:00-07:00 daily.
WEEKEND = TimeNode(datetime(2026, 3, 7, tzinfo=MSK), timedelta(days=2), "WEEK")
NIGHT = TimeNode(datetime(2026, 3, 1, 23, tzinfo=MSK), timedelta(hours=8), "DAY")
PRICES = [TrafficPrice(Decimal("2")), TrafficPrice(Decimal("1"), (WEEKEND,)),
          TrafficPrice(Decimal("0.25"), (NIGHT,))]


def at(day, hour, minute=0):
    return datetime(2026, 3, day, hour, minute, tzinfo=MSK)


def test_day_weekend_and_night_inside_the_weekend():
    assert price_at(PRICES, at(10, 12), MSK) == Decimal("2")        # Tuesday noon
    assert price_at(PRICES, at(10, 23, 30), MSK) == Decimal("0.25")  # Tuesday night
    assert price_at(PRICES, at(7, 12), MSK) == Decimal("1")          # Saturday noon
    # Saturday 23:30: the night started after the weekend did, so the night wins.
    assert price_at(PRICES, at(7, 23, 30), MSK) == Decimal("0.25")
    # Saturday 00:30: the weekend (00:00) started after Friday's night (23:00).
    assert price_at(PRICES, at(7, 0, 30), MSK) == Decimal("1")


def test_no_any_time_row_is_free_outside_the_periods_and_an_empty_list_is_free():
    assert price_at(PRICES[1:], at(10, 12), MSK) == Decimal(0)
    assert price_at([], at(10, 12), MSK) == Decimal(0)
    # A time period without nodes is never in force.
    assert price_at([TrafficPrice(Decimal("5"), ())], at(10, 12), MSK) == Decimal(0)


def test_the_byte_factor_is_exact():
    assert BYTE_PRICE_FACTOR * MEGABYTE == 1
    assert str(BYTE_PRICE_FACTOR) == "9.5367431640625E-7"


def test_a_tariff_without_settlement_period_accumulates_per_local_month():
    periods = usage_periods(None, datetime(2026, 3, 31, 20, 59, tzinfo=UTC),
                            datetime(2026, 3, 31, 21, 1, tzinfo=UTC), MSK)
    march, april, may = (datetime(2026, m, d, 21, tzinfo=UTC) for m, d in ((2, 28), (3, 31),
                                                                           (4, 30)))
    assert periods == [(march, april), (april, may)]
