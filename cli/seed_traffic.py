"""The traffic statistics of ``ebs seed --history``, as COPY text: the shape of a home ISP.

What the rater and the roll-up would have left (flow/rater.py, flow/stats_rollup.py):
``traffic_stats_hourly`` for the last :data:`HOURLY_DAYS` local days (today included,
whole UTC hours that have ended) and ``traffic_stats_daily`` for the local days of the
history window before them; a byte is in one table or the other. No row starts before
its account existed.

The shape, chosen to be plausible and still load with the rest of the history in minutes
at 500,000 accounts (docs/benchmarks.md has the figures):

- **Not everyone is online every day.** Each account has its own share of days with
  traffic, uniform between :data:`ONLINE_SHARE` bounds (a fifth of the accounts on an
  average day); the days it is online are a Bernoulli walk (drawn as geometric gaps, so
  idle days cost nothing to generate).
- **Evening hours.** An online day is one block of consecutive local hours (one to
  seven, most often one or two: ``1 + 7·u²``) whose first hour is drawn by
  :data:`HOUR_WEIGHTS`, peaking 19:00–22:00 and lowest at 03:00–05:00; the block ends at
  local midnight. A daily row is that day's block summed.
- **Heavy-tailed volume.** An account's appetite (bytes in per online hour) is Pareto
  with shape :data:`APPETITE_SHAPE` above :data:`APPETITE_MIN` (capped at
  :data:`APPETITE_CAP` times it): most subscribers use a few hundred megabytes an hour,
  a few use tens of gigabytes. Each hour varies around it by ``0.2 + 1.6·u``.
- **In above out.** A home subscriber sends :data:`HOME_UPLOAD` of what he receives;
  :data:`SYMMETRIC_SHARE` of the accounts (small offices, home servers) send about as
  much as they receive.
- **Two groups.** Every online hour counts in the first group (the Internet); a share of
  the accounts (:data:`LOCAL_USERS`) also reaches the operator's local resources in some
  of their hours (:data:`LOCAL_HOURS`), with a tenth of the volume.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

HOUR = 3600
HOURLY_DAYS = 30  # local days kept hourly, today included (stats_rollup.hourly_from)

# The groups the seed creates when absent (name, direction, rule); the first is everyone's.
GROUPS = (("Интернет", "both", "sum"), ("Локальная сеть", "both", "sum"))

ONLINE_SHARE = (0.02, 0.38)  # an account's share of days online, uniform in this range
# Relative weight of each local hour as the start of the day's online block.
HOUR_WEIGHTS = (6, 4, 2, 1, 1, 1, 2, 4, 6, 7, 8, 8, 9, 9, 9, 10, 12, 15, 20, 26, 30, 28,
                20, 12)
MAX_BLOCK = 7  # hours online in a day, at most
APPETITE_MIN = 40 * 1024 * 1024  # bytes in per online hour, the Pareto's scale
APPETITE_SHAPE = 1.2
APPETITE_CAP = 400
HOME_UPLOAD = (0.04, 0.20)  # bytes out as a share of bytes in, uniform in this range
SYMMETRIC_SHARE = 0.04
LOCAL_USERS = 0.15
LOCAL_HOURS = 0.35
LOCAL_VOLUME = 0.1


@dataclass(frozen=True)
class Day:
    """A local day of the window: its date as COPY text, and its whole UTC hours as
    ``[first, first + hours·HOUR)`` (the hours that start on it)."""

    text: str
    start: int
    first: int
    hours: int


class TrafficShape:
    """The window's local days, fixed for a seed run; :meth:`account` writes one account.

    ``groups``: the ids of :data:`GROUPS`, in order. Days before ``hourly_from`` are
    written daily, the others hourly; an hour is written once it has ended by ``now``.
    """

    def __init__(self, groups: tuple[int, ...], zone, window_start: int, now: int) -> None:
        self.groups = groups
        self.now = now
        today = datetime.fromtimestamp(now, zone).date()
        first = datetime.fromtimestamp(window_start, zone).date()
        hourly_date = max(first, today - timedelta(days=HOURLY_DAYS - 1))
        days = []
        day = first
        while day <= today:
            start = _midnight(day, zone)
            end = _midnight(day + timedelta(days=1), zone)
            first_hour = -(-start // HOUR) * HOUR
            days.append(Day(day.isoformat(), start, first_hour,
                            (-(-end // HOUR) * HOUR - first_hour) // HOUR))
            day += timedelta(days=1)
        self.days = days
        self.hourly_index = (hourly_date - first).days  # days[i] hourly from here on
        self.hourly_from = days[self.hourly_index].start
        # Hour starts as COPY text, from the first hourly one to now.
        base = days[self.hourly_index].first
        self.hour_base = base
        self.hour_text = [
            datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S+00")
            for t in range(base, now + HOUR, HOUR)
        ]
        self.starts = tuple(h for h, w in enumerate(HOUR_WEIGHTS) for _ in range(w))

    def account(self, r, aid: int, since: int, hourly: list[str], daily: list[str]) -> int:
        """Append the rows of account ``aid``, in existence from ``since`` (epoch
        seconds); return how many."""
        low, high = ONLINE_SHARE
        online = low + (high - low) * r()
        skip = math.log1p(-online)
        appetite = min(APPETITE_MIN * (1.0 - r()) ** (-1 / APPETITE_SHAPE),
                       APPETITE_MIN * APPETITE_CAP)
        if r() < SYMMETRIC_SHARE:
            upload = 0.6 + 0.5 * r()
        else:
            upload = HOME_UPLOAD[0] + (HOME_UPLOAD[1] - HOME_UPLOAD[0]) * r()
        local = r() < LOCAL_USERS and len(self.groups) > 1
        internet = f"\t{aid}\t{self.groups[0]}\t"
        nearby = f"\t{aid}\t{self.groups[1]}\t" if local else ""
        days, starts, now = self.days, self.starts, self.now
        hourly_from, hour_base, hour_text = self.hourly_from, self.hour_base, self.hour_text
        rows = 0
        i = int(math.log(1.0 - r()) / skip)
        while i < len(days):
            day = days[i]
            i += 1 + int(math.log(1.0 - r()) / skip)
            start = starts[int(r() * len(starts))]
            if start >= day.hours:
                continue
            block = min(1 + int(MAX_BLOCK * r() * r()), day.hours - start)
            first = day.first + start * HOUR
            if first < since:
                continue
            if day.start < hourly_from:
                if day.start < since:
                    continue
                bytes_in = int(appetite * block * (0.2 + 1.6 * r()))
                daily.append(f"{day.text}{internet}{bytes_in}\t{int(bytes_in * upload)}\n")
                rows += 1
                if local and r() < 1 - (1 - LOCAL_HOURS) ** block:
                    local_in = int(appetite * LOCAL_VOLUME * block * (0.2 + 1.6 * r()))
                    daily.append(f"{day.text}{nearby}{local_in}\t{int(local_in * upload)}\n")
                    rows += 1
                continue
            for t in range(first, first + block * HOUR, HOUR):
                if t + HOUR > now:
                    break
                text = hour_text[(t - hour_base) // HOUR]
                bytes_in = int(appetite * (0.2 + 1.6 * r()))
                hourly.append(f"{text}{internet}{bytes_in}\t{int(bytes_in * upload)}\n")
                rows += 1
                if local and r() < LOCAL_HOURS:
                    local_in = int(appetite * LOCAL_VOLUME * (0.2 + 1.6 * r()))
                    hourly.append(f"{text}{nearby}{local_in}\t{int(local_in * upload)}\n")
                    rows += 1
        return rows


def _midnight(day, zone) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=zone).timestamp())


HOURLY_COLUMNS = "hour, account_id, group_id, bytes_in, bytes_out"
DAILY_COLUMNS = "day, account_id, group_id, bytes_in, bytes_out"
