"""The dashboard's time series: money per local day, sessions online per hour.

Payments and charges per day of the last 30 are summed from ``ledger_totals``, the
15-minute buckets the reports read (webapp/reports.py): a reversal counts on its own day
under its original's kind with the opposite amount, so a payment reversed the same day
nets to zero and one reversed later lowers the later day. Local midnights are bucket
boundaries in every timezone whose offset is a whole quarter hour, so a day here is the
ISP's calendar day. A month is a few thousand bucket rows, read by the bucket index.

Sessions online per hour of the last 24 are the highest of the samples the beat takes
every five minutes (billing/online_samples.py) in each local hour; an hour without a
sample (the worker was down, or the install is new) is a gap, not a zero.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import text

DAYS = 30
HOURS = 24

_MONEY_BY_DAY = text(
    """
    SELECT (bucket AT TIME ZONE :tz)::date AS day,
           coalesce(sum(amount) FILTER (WHERE kind = 'payment'), 0) AS payments,
           coalesce(-sum(amount) FILTER (WHERE kind LIKE 'charge%'), 0) AS charges
      FROM ledger_totals
     WHERE bucket >= :since AND bucket < :until
     GROUP BY 1
    """
)
_ONLINE_BY_HOUR = text(
    """
    SELECT date_trunc('hour', sampled_at AT TIME ZONE :tz) AS hour, max(sessions) AS sessions
      FROM online_samples
     WHERE sampled_at >= :since AND sampled_at < :until
     GROUP BY 1
    """
)


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone)


def money_by_day(session, zone: ZoneInfo, now: datetime, days: int = DAYS) -> list[dict]:
    """``days`` local days up to and including today: ``{"day", "payments", "charges"}``
    (Decimals; charges as a positive sum), a day without entries as zeros."""
    today = now.astimezone(zone).date()
    first = today - timedelta(days=days - 1)
    rows = session.execute(_MONEY_BY_DAY, {
        "tz": zone.key, "since": _midnight(first, zone),
        "until": _midnight(today + timedelta(days=1), zone)}).mappings()
    found = {row["day"]: row for row in rows}
    out = []
    for n in range(days):
        day = first + timedelta(days=n)
        row = found.get(day)
        out.append({"day": day,
                    "payments": row["payments"] if row else Decimal("0.00"),
                    "charges": row["charges"] if row else Decimal("0.00")})
    return out


def online_by_hour(session, zone: ZoneInfo, now: datetime, hours: int = HOURS) -> list[dict]:
    """The last ``hours`` local hours, this one included: ``{"hour", "sessions"}``, the
    hour a naive local datetime and sessions None where no sample was taken."""
    this_hour = now.astimezone(zone).replace(minute=0, second=0, microsecond=0)
    # Hours walked in UTC, so a change of summer time neither repeats nor skips one.
    first = this_hour.astimezone(UTC) - timedelta(hours=hours - 1)
    until = this_hour.astimezone(UTC) + timedelta(hours=1)
    rows = session.execute(_ONLINE_BY_HOUR, {
        "tz": zone.key, "since": first, "until": until}).mappings()
    found = {row["hour"]: row["sessions"] for row in rows}
    out = []
    for n in range(hours):
        hour = (first + timedelta(hours=n)).astimezone(zone).replace(tzinfo=None)
        out.append({"hour": hour, "sessions": found.get(hour)})
    return out


def chart_data(money: list[dict], online: list[dict]) -> dict:
    """What the page's chart script reads (a JSON script tag): labels and values as
    strings, so no amount passes through a float on our side."""
    return {
        "days": [row["day"].strftime("%d.%m") for row in money],
        "payments": [str(row["payments"]) for row in money],
        "charges": [str(row["charges"]) for row in money],
        "hours": [row["hour"].strftime("%H:00") for row in online],
        "online": [row["sessions"] for row in online],
    }
