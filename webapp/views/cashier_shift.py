"""A cashier's shift report: the payments one operator posted on one local day.

A shift is the operator's local calendar day in the ISP's timezone (``TIME_ZONE``): what
the cashier hands over at the end of the day is what they posted since midnight. The
report is one statement on ``ledger_entries (staff_user_id, effective_at)``; the count and
the sums are window aggregates taken before the row limit, so they stay exact however long
the list. A payment an administrator reversed since is listed, marked, and left out of
the net sum: that money was not taken.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import text

from billing.periods import day_bounds

ROW_LIMIT = 2000

_REPORT = text(
    """
    SELECT e.id, e.effective_at, e.amount, e.description, a.id AS account_id, a.contract,
           a.full_name, r.id AS reversed_by,
           count(*) OVER () AS total_count,
           sum(e.amount) OVER () AS total_sum,
           count(r.id) OVER () AS reversed_count,
           coalesce(sum(e.amount) FILTER (WHERE r.id IS NULL) OVER (), 0) AS net_sum
      FROM ledger_entries e
      JOIN accounts a ON a.id = e.account_id
      LEFT JOIN ledger_entries r ON r.reverses_id = e.id
     WHERE e.staff_user_id = :staff AND e.kind = 'payment'
       AND e.effective_at >= :start AND e.effective_at < :end
     ORDER BY e.effective_at, e.id
     LIMIT :limit
    """
)


@dataclass(frozen=True)
class ShiftReport:
    day: date
    start: datetime
    end: datetime
    rows: list
    count: int
    total: Decimal
    reversed_count: int
    net: Decimal

    @property
    def truncated(self) -> bool:
        return self.count > len(self.rows)


def shift_day(raw: str | None, tz: ZoneInfo, now: datetime | None = None) -> date:
    """The day asked for (``YYYY-MM-DD``), or today in the ISP's timezone."""
    if raw:
        try:
            return date.fromisoformat(raw)
        except ValueError:
            pass  # a mistyped day shows today's shift rather than an error page
    return (now or datetime.now(UTC)).astimezone(tz).date()


def shift_report(session, staff_user_id: int, day: date, tz: ZoneInfo) -> ShiftReport:
    noon = datetime.combine(day, time(12), tzinfo=tz)  # inside the day whatever the DST
    start, end = day_bounds(noon, tz)
    rows = session.execute(_REPORT, {"staff": staff_user_id, "start": start, "end": end,
                                     "limit": ROW_LIMIT}).mappings().all()
    first = rows[0] if rows else None
    return ShiftReport(
        day=day, start=start, end=end, rows=list(rows),
        count=first["total_count"] if first else 0,
        total=first["total_sum"] if first else Decimal("0.00"),
        reversed_count=first["reversed_count"] if first else 0,
        net=first["net_sum"] if first else Decimal("0.00"),
    )
