"""Time-of-day windows: the nodes of a time period (nights, weekends, access hours).

A node is an occurrence starting at a local wall-clock moment and lasting a wall-clock
length, repeated daily, weekly, monthly, yearly or never. Access windows (RADIUS accepts
only inside them) and time-of-day speeds (a night speed) are sets of nodes. The clock
rules they share with settlement periods (DST days, skipped and repeated wall times) live
in ``billing.wallclock``; settlement periods themselves in ``billing.periods``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from billing.wallclock import Series, require_aware, to_utc

__all__ = [
    "Repeat",
    "TimeNode",
    "active_node",
    "in_time_period",
    "last_edge",
    "next_boundary",
    "node_occurrence",
]


class Repeat(StrEnum):
    """How a time-period node repeats; the values are stored in the database."""

    DAY = "DAY"
    WEEK = "WEEK"
    MONTH = "MONTH"
    YEAR = "YEAR"
    NEVER = "NEVER"


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
        require_aware(self.start, "start")
        if self.length <= timedelta(0):
            raise ValueError(f"a node needs a positive length, got {self.length!r}")



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
    series = Series(node.repeat, node.start, tz)
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
    at = to_utc(at, "at")
    return _occurrence(node, at, tz)


def active_node(nodes: Iterable[TimeNode], at: datetime, tz: ZoneInfo) -> TimeNode | None:
    """The node containing ``at`` whose occurrence started most recently.

    So a narrow rule (a night) overrides a broad one (a weekend) while it lasts; among
    equal starts the later node in the list wins, letting the operator order them.
    """
    at = to_utc(at, "at")
    best: TimeNode | None = None
    best_start: datetime | None = None
    for node in nodes:
        occurrence = _occurrence(node, at, tz)
        if occurrence is not None and (best_start is None or occurrence[0] >= best_start):
            best, best_start = node, occurrence[0]
    return best


def in_time_period(nodes: Iterable[TimeNode], at: datetime, tz: ZoneInfo) -> bool:
    """Whether ``at`` falls inside any node of the time period."""
    at = to_utc(at, "at")
    return any(_occurrence(node, at, tz) is not None for node in nodes)


def _next_start(node: TimeNode, at: datetime, tz: ZoneInfo) -> datetime | None:
    """The first non-empty occurrence of ``node`` starting after ``at``."""
    series = Series(node.repeat, node.start, tz)
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
    at = to_utc(at, "at")
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
    at = to_utc(at, "at")
    latest: datetime | None = None
    for node in nodes:
        if at < node.start:
            continue
        series = Series(node.repeat, node.start, tz)
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
