"""Rate limits: one Speed, parsed from MikroTik's text form, rendered per NAS vendor.

Access-Accept and CoA both render through :func:`render`, so a subscriber gets the same
limit whether the speed was set at login or changed mid-session.

Direction. A Speed keeps MikroTik's point of view, which is the router's: **rx is what the
router receives from the subscriber (the subscriber's upload), tx is what it sends to the
subscriber (the download)**. ``"10M/20M"`` is 10 Mbit/s up, 20 Mbit/s down. Every other
vendor's form is derived from that: Cisco's ``input`` is rx, ``output`` is tx; accel-ppp's
Filter-Id is ``down/up`` = ``tx/rx``.

The text form is MikroTik's ``rate-limit`` (and ``Mikrotik-Rate-Limit``) syntax::

    rx[/tx] [burst-rx[/burst-tx] [threshold-rx[/threshold-tx] [time-rx[/time-tx]
        [priority] [min-rx[/min-tx]]]]]

Rates are bit/s with an optional ``k`` (10^3), ``M`` (10^6) or ``G`` (10^9) suffix
(MikroTik's multipliers are decimal); burst times are whole seconds (an ``s`` suffix is
accepted); the priority is 1 (highest) to 8. A part without ``/tx`` applies to both
directions, as on MikroTik. Trailing parts are optional; a part cannot be given without
the ones before it, since the form is positional. Maximum rates must be positive: an
unlimited tariff simply has no speed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from billing.errors import Refused
from billing.time_windows import TimeNode, active_node, last_edge, next_boundary

__all__ = [
    "VENDORS",
    "Speed",
    "SpeedOverride",
    "TariffSpeeds",
    "format_rate",
    "last_speed_change",
    "next_speed_change",
    "parse_rate",
    "render",
    "speed_for",
]

VENDORS = ("mikrotik", "cisco", "juniper", "accel-ppp", "other")

_MULTIPLIERS = {"": 1, "k": 1_000, "K": 1_000, "M": 1_000_000, "G": 1_000_000_000}
_RATE = re.compile(r"^(\d+(?:\.\d+)?)([kKMG]?)$")
_SECONDS = re.compile(r"^(\d+)s?$")

# Juniper: the QoS profile and parameter names the operator defines on the router
# (see _render_juniper).
JUNIPER_QOS_PROFILE = "ebs-subscriber"
JUNIPER_PARAM_DOWN = "ebs-rate-down"
JUNIPER_PARAM_UP = "ebs-rate-up"


# What is wrong with a speed, by code: the English text of logs and of the API; the admin
# words each code in the operator's language (webapp.labels.speed_error).
SPEED_ERRORS = {
    "not_a_rate": "not a rate: {text!r} (expected digits with an optional k/M/G)",
    "not_whole_bits": "rate {text!r} is not a whole number of bit/s",
    "not_positive": "maximum rates must be positive, got {rx}/{tx}",
    "one_direction": "{part}: give both directions or neither",
    "needs_before": "{part} needs {before} before it",
    "negative": "{part} cannot be negative: {values}",
    "priority_range": "priority must be 1..8, got {priority}",
    "empty": "empty speed",
    "too_many_parts": "too many parts in {text!r}: at most 6",
    "priority_not_number": "priority: not a number: {text!r}",
    "not_seconds": "not a number of seconds: {text!r}",
    "not_a_pair": "{part}: expected rx/tx or one value, got {text!r}",
}


class SpeedError(Refused):
    """A speed text or value that is not a speed: ``code`` (a key of SPEED_ERRORS), its
    ``params``, and ``within``, the part being read when a value inside it was wrong
    ("burst rate" for a bad rate there). ``str()`` is the English text."""

    def __init__(self, code: str, within: str | None = None, **params) -> None:
        self.within, self.params = within, params
        text = SPEED_ERRORS[code].format(**params)
        super().__init__(code, f"{within}: {text}" if within else text)


def parse_rate(text: str) -> int:
    """``"1.5M"`` → 1500000. Raises ValueError for anything that is not whole bit/s."""
    match = _RATE.match(text)
    if match is None:
        raise SpeedError("not_a_rate", text=text)
    number, suffix = match.groups()
    whole, _, fraction = number.partition(".")
    multiplier = _MULTIPLIERS[suffix]
    scaled = int(whole) * multiplier
    if fraction:
        numerator = int(fraction) * multiplier
        denominator = 10 ** len(fraction)
        if numerator % denominator:
            raise SpeedError("not_whole_bits", text=text)
        scaled += numerator // denominator
    return scaled


def format_rate(bits: int) -> str:
    """The shortest exact MikroTik spelling: 20000000 → ``"20M"``, 1500 → ``"1500"``."""
    for suffix, multiplier in (("G", 10**9), ("M", 10**6), ("k", 10**3)):
        if bits and bits % multiplier == 0:
            return f"{bits // multiplier}{suffix}"
    return str(bits)


@dataclass(frozen=True, slots=True)
class Speed:
    """One rate limit, MikroTik's parts in MikroTik's order (rx = subscriber upload).

    Groups are positional: burst rates, then burst thresholds, then burst times, then the
    priority, then minimum (guaranteed) rates; a group is either fully given or None, and
    a later group needs every earlier one.
    """

    max_rx: int
    max_tx: int
    burst_rx: int | None = None
    burst_tx: int | None = None
    threshold_rx: int | None = None
    threshold_tx: int | None = None
    burst_time_rx: int | None = None
    burst_time_tx: int | None = None
    priority: int | None = None
    min_rx: int | None = None
    min_tx: int | None = None

    def __post_init__(self) -> None:
        if self.max_rx <= 0 or self.max_tx <= 0:
            raise SpeedError("not_positive", rx=self.max_rx, tx=self.max_tx)
        groups = self._groups()
        missing_before = None
        for name, values in groups:
            given = [v is not None for v in values]
            if any(given) and not all(given):
                raise SpeedError("one_direction", part=name)
            if all(given):
                if missing_before is not None:
                    raise SpeedError("needs_before", part=name, before=missing_before)
                if any(v < 0 for v in values):
                    raise SpeedError("negative", part=name, values=values)
            elif missing_before is None:
                missing_before = name
        if self.priority is not None and not 1 <= self.priority <= 8:
            raise SpeedError("priority_range", priority=self.priority)

    def _groups(self) -> list[tuple[str, tuple[int | None, ...]]]:
        return [
            ("burst rate", (self.burst_rx, self.burst_tx)),
            ("burst threshold", (self.threshold_rx, self.threshold_tx)),
            ("burst time", (self.burst_time_rx, self.burst_time_tx)),
            ("priority", (self.priority,)),
            ("minimum rate", (self.min_rx, self.min_tx)),
        ]

    @classmethod
    def parse(cls, text: str) -> Speed:
        """Parse MikroTik's form (module docstring); ValueError names the bad part."""
        parts = text.split()
        if not parts:
            raise SpeedError("empty")
        if len(parts) > 6:
            raise SpeedError("too_many_parts", text=text)
        values: list[int | None] = []
        names = ("rate", "burst rate", "burst threshold", "burst time")
        for name, part in zip(names, parts[:4], strict=False):
            values.extend(_pair(part, name, _seconds if name == "burst time" else parse_rate))
        values.extend([None] * (8 - len(values)))
        priority = None
        if len(parts) >= 5:
            if not parts[4].isdigit():
                raise SpeedError("priority_not_number", text=parts[4])
            priority = int(parts[4])
        minimum: tuple[int | None, int | None] = (None, None)
        if len(parts) == 6:
            minimum = _pair(parts[5], "minimum rate", parse_rate)
        return cls(*values, priority, *minimum)  # type: ignore[arg-type]

    def mikrotik(self) -> str:
        """MikroTik's form, up to the last given part, each pair as ``rx/tx``."""
        parts = [f"{format_rate(self.max_rx)}/{format_rate(self.max_tx)}"]
        for name, values in self._groups():
            if values[0] is None:
                break
            if name == "priority":
                parts.append(str(values[0]))
            elif name == "burst time":
                parts.append(f"{values[0]}/{values[1]}")
            else:
                parts.append("/".join(format_rate(v) for v in values))  # type: ignore[arg-type]
        return " ".join(parts)

    def __str__(self) -> str:
        return self.mikrotik()


def _seconds(text: str) -> int:
    match = _SECONDS.match(text)
    if match is None:
        raise SpeedError("not_seconds", text=text)
    return int(match.group(1))


def _pair(part: str, name: str, parse) -> tuple[int, int]:
    pieces = part.split("/")
    if len(pieces) > 2 or not all(pieces):
        raise SpeedError("not_a_pair", part=name, text=part)
    try:
        rx = parse(pieces[0])
        tx = parse(pieces[-1])
    except SpeedError as error:
        raise SpeedError(error.code, name, **error.params) from None
    return rx, tx


# ---------------------------------------------------------------------------------------
# Rendering per vendor


def render(vendor: str, speed: Speed | None) -> list[tuple[str, str]]:
    """Reply attributes carrying ``speed`` for a NAS of ``vendor`` (``nas.vendor``).

    No speed, or a vendor we cannot shape (``other``), gives no attributes. An unknown
    vendor name is a programming error (the schema's CHECK lists them) and raises.
    """
    if vendor not in VENDORS:
        raise ValueError(f"unknown NAS vendor {vendor!r}; expected one of {VENDORS}")
    if speed is None or vendor == "other":
        return []
    return _RENDERERS[vendor](speed)


def _render_mikrotik(speed: Speed) -> list[tuple[str, str]]:
    return [("Mikrotik-Rate-Limit", speed.mikrotik())]


_CISCO_MIN_BPS = 8000


def _cisco_burst_bytes(bits: int) -> int:
    # Cisco's guidance for rate-limit: normal burst = rate/8 * 1.5 s, within the
    # command's 1000..512000000 byte range; extended burst = 2 * normal.
    return min(max(bits * 3 // 16, 1000), 512_000_000)


def _render_cisco(speed: Speed) -> list[tuple[str, str]]:
    """Per-user CAR via ``lcp:interface-config``, one pair per direction.

    The value is the IOS interface command ``rate-limit {input|output} bps normal-burst
    extended-burst conform-action transmit exceed-action drop``, applied to the
    subscriber's virtual-access interface; ``#1``/``#2`` keep the two pairs distinct.
    Input is what the router receives (rx, upload); output is tx (download). Cisco's CAR
    has no MikroTik-style timed burst, so only the maximum rates are carried; the burst
    buckets follow Cisco's 1.5-second rule. ISG installations that prefer QoS policies
    use ``ip:sub-qos-policy-in/out`` with named policies, which needs no rates from us.
    Rates below 8000 bit/s, the least ``rate-limit`` accepts, are raised to it rather than
    making the NAS refuse the whole reply.
    """
    pairs = []
    for index, (direction, rate) in enumerate(
        (("input", speed.max_rx), ("output", speed.max_tx)), start=1
    ):
        bits = max(rate, _CISCO_MIN_BPS)
        normal = _cisco_burst_bytes(bits)
        extended = min(normal * 2, 512_000_000)
        pairs.append(
            (
                "Cisco-AVPair",
                f"lcp:interface-config#{index}=rate-limit {direction} {bits} {normal} "
                f"{extended} conform-action transmit exceed-action drop",
            )
        )
    return pairs


def _render_juniper(speed: Speed) -> list[tuple[str, str]]:
    """JUNOSe/ERX QoS: a profile by name plus the rates as QoS parameter instances.

    ``ERX-Qos-Profile-Name`` (VSA 26-26) attaches the profile ``ebs-subscriber``, which the
    operator defines on the router with two QoS parameters, ``ebs-rate-down`` and
    ``ebs-rate-up`` (bit/s), referenced by its shaping and policing rules.
    ``ERX-Qos-Parameters`` (VSA 26-82) carries each instance as ``"name value"``.
    """
    return [
        ("ERX-Qos-Profile-Name", JUNIPER_QOS_PROFILE),
        ("ERX-Qos-Parameters", f"{JUNIPER_PARAM_DOWN} {speed.max_tx}"),
        ("ERX-Qos-Parameters", f"{JUNIPER_PARAM_UP} {speed.max_rx}"),
    ]


def _render_accel_ppp(speed: Speed) -> list[tuple[str, str]]:
    """accel-ppp's shaper reads ``Filter-Id`` as ``down/up`` in kbit/s (``attr=Filter-Id``).

    Rates are rounded up to whole kbit/s so a tiny limit never becomes 0 (= unlimited).
    """
    return [("Filter-Id", f"{-(-speed.max_tx // 1000)}/{-(-speed.max_rx // 1000)}")]


_RENDERERS = {
    "mikrotik": _render_mikrotik,
    "cisco": _render_cisco,
    "juniper": _render_juniper,
    "accel-ppp": _render_accel_ppp,
}


# ---------------------------------------------------------------------------------------
# A tariff's speed now


@dataclass(frozen=True, slots=True)
class SpeedOverride:
    """A time-of-day speed (a row of ``tariff_speeds`` with a time period)."""

    speed: Speed
    nodes: tuple[TimeNode, ...]


@dataclass(frozen=True, slots=True)
class TariffSpeeds:
    """A tariff's default speed (None = unlimited) and its time-of-day overrides."""

    default: Speed | None = None
    overrides: tuple[SpeedOverride, ...] = field(default_factory=tuple)


def speed_for(speeds: TariffSpeeds, now: datetime, tz: ZoneInfo) -> Speed | None:
    """The speed in force at ``now``: the override whose node started most recently.

    So a night speed inside a weekend speed wins while the night lasts (time_windows.active_node
    decides; among equal starts the later override wins). Outside every override, the
    default.
    """
    owner: dict[int, SpeedOverride] = {}
    nodes: list[TimeNode] = []
    for override in speeds.overrides:
        for node in override.nodes:
            owner[id(node)] = override
            nodes.append(node)
    node = active_node(nodes, now, tz)
    return speeds.default if node is None else owner[id(node)].speed


def next_speed_change(speeds: TariffSpeeds, now: datetime, tz: ZoneInfo) -> datetime | None:
    """The earliest moment after ``now`` at which some override starts or ends.

    A candidate, not a promise: the speed may turn out the same. The CoA scheduler and
    the Session-Timeout take it as "look again then". None if nothing ever changes.
    """
    moments: Sequence[datetime | None] = [
        next_boundary(override.nodes, now, tz) for override in speeds.overrides
    ]
    return min((m for m in moments if m is not None), default=None)


def last_speed_change(speeds: TariffSpeeds, now: datetime, tz: ZoneInfo) -> datetime | None:
    """The latest moment at or before ``now`` at which some override started or ended.

    The speed in force has been the same since then (it may also have been the same
    before); None if no override has started yet, so the default has always held.
    """
    return last_edge([node for o in speeds.overrides for node in o.nodes], now, tz)
