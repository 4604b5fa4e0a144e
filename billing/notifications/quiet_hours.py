"""Quiet hours: a message due at night waits for the morning.

``SENDSMS_QUIET_HOURS`` is a local-time span of the operator's zone, ``"22:00-09:00"``
(across midnight) or ``"00:00-07:30"``; empty: messages leave at any hour.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time

    def contains(self, at: datetime, tz: ZoneInfo) -> bool:
        local = at.astimezone(tz).time()
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def next_allowed(self, at: datetime, tz: ZoneInfo) -> datetime:
        """``at`` itself outside the quiet hours, else the local moment they end."""
        if not self.contains(at, tz):
            return at
        local = at.astimezone(tz)
        end = datetime.combine(local.date(), self.end, tzinfo=tz)
        if end <= local:
            end = datetime.combine(local.date() + timedelta(days=1), self.end, tzinfo=tz)
        return end


def parse(text: str | None) -> QuietHours | None:
    """``"22:00-09:00"`` → QuietHours; empty → None; anything else → ValueError."""
    if not text or not str(text).strip():
        return None
    try:
        first, second = (part.strip() for part in str(text).split("-"))
        start, end = time.fromisoformat(first), time.fromisoformat(second)
    except ValueError:
        raise ValueError(f"quiet hours {text!r}: write them as HH:MM-HH:MM") from None
    if start == end:
        raise ValueError(f"quiet hours {text!r}: the span is empty")
    return QuietHours(start, end)
