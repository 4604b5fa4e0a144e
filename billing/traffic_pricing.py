"""A tariff's traffic service: the price of a group's megabyte at a moment, the settlement
periods usage is accumulated over, and the prepaid allowance granted for one of them.

The rater (``flow/``) prices one-minute bins and RADIUS-counter usage will price session
deltas by the same rules, so they live here, as pure functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, localcontext
from zoneinfo import ZoneInfo

from billing.periods import PeriodUnit, SettlementPeriod, periods_between
from billing.time_windows import TimeNode, node_occurrence
from billing.wallclock import resolve

__all__ = [
    "BYTE_PRICE_FACTOR",
    "MEGABYTE",
    "TrafficPrice",
    "price_at",
    "usage_periods",
]

# ExpertBilling prices a megabyte of 1024 x 1024 bytes.
MEGABYTE = 1024 * 1024

# The price of one byte is price_per_mb times this; 2**-20 is a finite decimal, so bytes
# times price times this factor is exact in NUMERIC and Decimal alike (no rounding until
# the cumulative total is rounded to money).
with localcontext() as _ctx:
    _ctx.prec = 50
    BYTE_PRICE_FACTOR = Decimal(1) / Decimal(MEGABYTE)


@dataclass(frozen=True, slots=True)
class TrafficPrice:
    """One price row of a tariff's group: ``nodes`` None is "any time"."""

    price_per_mb: Decimal
    nodes: tuple[TimeNode, ...] | None = None


def price_at(prices: Sequence[TrafficPrice], at: datetime, tz: ZoneInfo) -> Decimal:
    """The price per MB in force at ``at``.

    Among the rows whose time period is in force, the node whose occurrence started most
    recently wins (a night inside a weekend is priced as night), as ``active_node``
    decides for speeds; on equal starts the later row wins. Outside every time period the
    any-time row applies, and with none the traffic is free (prepaid and statistics
    still count it).
    """
    best: Decimal | None = None
    best_start: datetime | None = None
    anytime = Decimal(0)
    for price in prices:
        if price.nodes is None:
            anytime = price.price_per_mb
            continue
        for node in price.nodes:
            occurrence = node_occurrence(node, at, tz)
            if occurrence is not None and (best_start is None or occurrence[0] >= best_start):
                best, best_start = price.price_per_mb, occurrence[0]
    return anytime if best is None else best


def usage_periods(
    period: SettlementPeriod | None,
    start: datetime,
    end: datetime,
    tz: ZoneInfo,
    assigned_at: datetime | None = None,
) -> list[tuple[datetime, datetime]]:
    """The periods usage in [start, end) is accumulated over, oldest first.

    A tariff's settlement period; a tariff without one accumulates per local calendar
    month, so its cumulative rounding still restarts and its entries stay readable.
    """
    if period is None:
        period = SettlementPeriod(PeriodUnit.MONTH, anchor=resolve(datetime(2000, 1, 1), tz))
    return periods_between(period, start, end, tz, assigned_at)
