"""The speed a traffic limit leaves a subscriber: the tariff's speed in force, changed by
the speed limits in force on the account (``account_traffic_limits``, flow/limits.py).

A limit's speed is absolute (its own speed replaces the tariff's), added (its rates are
added to the tariff's maximum and burst rates: a bonus lane past a threshold) or a
percentage of the tariff's speed (every rate scaled, so bursts, thresholds and minimums
keep their proportions; burst times and the priority stay). An unlimited tariff stays
unlimited under an added or a percentage speed: there is nothing to add to or scale.
With several limits in force the slowest result wins (by download, then upload), so a
second limit never lifts the first.

The login (rlm_ebs, from ``ebs_radius_check``'s ``EBS-Limit-Speed`` rows) and the
enforcement (billing/enforcement.py) both apply this to the speed in force, and
billing/speeds.py renders the result, so an Access-Accept and a CoA carry the same
limited speed in the NAS's vendor form.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from billing.speeds import Speed

__all__ = ["LimitSpeed", "limited_speed", "parse_limit_speed"]

MODES = ("absolute", "add", "percent")


@dataclass(frozen=True, slots=True)
class LimitSpeed:
    """One limit's speed action: ``speed`` for absolute and add, ``percent`` for percent."""

    mode: str
    speed: Speed | None = None
    percent: Decimal | None = None

    def apply(self, current: Speed | None) -> Speed | None:
        if self.mode == "absolute":
            return self.speed
        if current is None:
            return None
        if self.mode == "add":
            return _added(current, self.speed)
        return _scaled(current, self.percent)


def parse_limit_speed(text: str) -> LimitSpeed:
    """``absolute:1M/2M``, ``add:512k/512k`` or ``percent:50`` (as the enforcement's query
    spells a limit in force). ValueError names what is wrong."""
    mode, _, value = text.partition(":")
    if mode not in MODES or not value:
        raise ValueError(f"not a limit speed: {text!r}")
    if mode == "percent":
        try:
            percent = Decimal(value)
        except InvalidOperation:
            raise ValueError(f"not a percentage: {text!r}") from None
        if not percent.is_finite() or percent <= 0:
            raise ValueError(f"a percentage must be positive: {text!r}")
        return LimitSpeed(mode, percent=percent)
    return LimitSpeed(mode, speed=Speed.parse(value))


def limited_speed(current: Speed | None, limits: Iterable[str | LimitSpeed]) -> Speed | None:
    """The speed due under ``limits`` (none: ``current`` itself); None is unlimited."""
    results = [(limit if isinstance(limit, LimitSpeed) else parse_limit_speed(limit))
               .apply(current) for limit in limits]
    if not results:
        return current
    return min(results, key=_slowness)


def _slowness(speed: Speed | None) -> tuple[bool, int, int]:
    """Sorts the slowest first; unlimited (None) after every limited speed."""
    if speed is None:
        return (True, 0, 0)
    return (False, speed.max_tx, speed.max_rx)


def _scale(rate: int | None, percent: Decimal) -> int | None:
    if rate is None:
        return None
    scaled = (Decimal(rate) * percent / 100).quantize(Decimal(1), ROUND_HALF_UP)
    return max(int(scaled), 1)


def _scaled(speed: Speed, percent: Decimal) -> Speed:
    names = ("max_rx", "max_tx", "burst_rx", "burst_tx", "threshold_rx", "threshold_tx",
             "min_rx", "min_tx")
    return replace(speed, **{name: _scale(getattr(speed, name), percent) for name in names})


def _added(speed: Speed, extra: Speed) -> Speed:
    def plus(rate: int | None, more: int) -> int | None:
        return None if rate is None else rate + more

    return replace(speed, max_rx=speed.max_rx + extra.max_rx,
                   max_tx=speed.max_tx + extra.max_tx,
                   burst_rx=plus(speed.burst_rx, extra.max_rx),
                   burst_tx=plus(speed.burst_tx, extra.max_tx))
