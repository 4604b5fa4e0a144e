"""One account's traffic for the card's Traffic tab: this period's usage per group, its
time online and the traffic limits in force, and the bytes in and out per local day (the
last 30) and per hour (the last 48), with the same figures per group as CSV.

Everything comes from what the raters keep (flow/): ``traffic_usage`` and ``time_usage``
(one row per account, [group,] assignment and settlement period, read by their unique
keys' ``account_id`` prefix), ``account_traffic_limits`` (by its primary key's) and
the statistics (``webapp.reports.traffic_stats_rows``: ``traffic_stats_hourly`` read by
``traffic_stats_hourly_account_idx``, (account_id, hour), and the days rolled up from it,
``traffic_stats_daily`` by ``traffic_stats_daily_account_idx``). The card reads both
series in one statement and the period's figures in another, whatever the account's
history: at most 30 × 24 hourly rows per group are summed, in SQL.

Hours are the statistics' own UTC hours, walked in UTC and labelled on the ISP's clock,
so a change of summer time neither repeats nor skips one; a day is the ISP's calendar day
(the hours starting on it: exact wherever the offset is whole hours). A day older than
TRAFFIC_STATS_HOURLY_KEEP_DAYS has no hours any more (flow/stats_rollup.py): the hour
series and its CSV show it as one day total, so every figure still adds up.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import text

from webapp.numbers import megabytes
from webapp.reports import COUNT, DATE, TEXT, Column, Report, traffic_stats_rows

DAYS = 30
HOURS = 48

# This period's figures in one round trip, one kind of row each: the traffic usage per
# group, the time online, and the limits in force (since when, and what they do). Each
# part reads by the account's key: traffic_usage's and time_usage's unique keys start
# with account_id, account_traffic_limits' primary key too.
_PERIOD = text(
    """
    SELECT 'traffic' AS kind, g.name AS group_name, u.period_start, u.period_end,
           u.used_bytes AS used, u.prepaid_bytes AS prepaid,
           greatest(u.prepaid_bytes - u.used_bytes, 0) AS prepaid_left, u.charged,
           NULL::timestamptz AS since, NULL::text AS action, NULL::text AS speed_mode,
           NULL::text AS speed, NULL::numeric AS percent, NULL::numeric AS megabytes,
           NULL::integer AS window_seconds
      FROM traffic_usage u
      JOIN traffic_groups g ON g.id = u.group_id
     WHERE u.account_id = :id AND u.period_start <= :now AND u.period_end > :now
    UNION ALL
    SELECT 'time', NULL, t.period_start, t.period_end, t.used_seconds, t.prepaid_seconds,
           greatest(t.prepaid_seconds - t.used_seconds, 0), t.charged,
           NULL, NULL, NULL, NULL, NULL, NULL, NULL
      FROM time_usage t
     WHERE t.account_id = :id AND t.period_start <= :now AND t.period_end > :now
    UNION ALL
    SELECT 'limit', g.name, NULL, NULL, a.used_bytes, NULL, NULL, NULL, a.since, l.action,
           l.speed_mode, l.speed, l.percent, l.megabytes, l.window_seconds
      FROM account_traffic_limits a
      JOIN tariff_traffic_limits l ON l.id = a.limit_id
      JOIN traffic_groups g ON g.id = l.group_id
     WHERE a.account_id = :id
     ORDER BY 1, 2, 3, 9
    """
)
# Both series in one round trip: the days of the last month, the hours of the last two
# days (a rolled-up day's one row among them, its hour NULL), summed over the groups.
_ACCOUNT = ":id"
_SERIES = text(
    f"""
    SELECT 'day' AS series, s.day, NULL::timestamptz AS hour,
           sum(s.bytes_in)::bigint AS bytes_in, sum(s.bytes_out)::bigint AS bytes_out
      FROM {traffic_stats_rows(":days_since", ":days_until", _ACCOUNT)} s
     GROUP BY s.day
    UNION ALL
    SELECT 'hour', s.day, s.hour, sum(s.bytes_in)::bigint, sum(s.bytes_out)::bigint
      FROM {traffic_stats_rows(":hours_since", ":until", _ACCOUNT)} s
     GROUP BY s.day, s.hour
    """
)


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone)


def period_figures(session, account_id: int, now: datetime) -> dict[str, list[dict]]:
    """The settlement periods in force now and the limits in force, as three lists:
    ``traffic`` per group (bytes used, prepaid bytes left, what the ledger holds of the
    period's traffic charge), ``time`` (seconds used, prepaid seconds left, charged) and
    ``limit`` (the group, since when, the usage that put it there, what it does)."""
    found: dict[str, list[dict]] = {"traffic": [], "time": [], "limit": []}
    for row in session.execute(_PERIOD, {"id": account_id, "now": now}).mappings():
        found[row["kind"]].append(dict(row))
    return found


def series(session, account_id: int, zone: ZoneInfo, now: datetime,
           days: int = DAYS, hours: int = HOURS) -> tuple[list[dict], list[dict]]:
    """``(by_day, by_hour)``, oldest first, every day and hour present (zeros where the
    rater wrote nothing): ``{"day" | "hour", "bytes_in", "bytes_out"}``, ``hour`` a naive
    local datetime. The hours of a day rolled up are one row of ``by_hour`` instead, its
    ``hour`` None and its ``day`` set, holding the whole day."""
    today = now.astimezone(zone).date()
    first_day = today - timedelta(days=days - 1)
    this_hour = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    first_hour = this_hour - timedelta(hours=hours - 1)
    tomorrow = _midnight(today + timedelta(days=1), zone)
    found_days, found_hours, rolled = {}, {}, {}
    for row in session.execute(_SERIES, {
            "id": account_id, "tz": zone.key, "days_since": _midnight(first_day, zone),
            "days_until": tomorrow, "hours_since": first_hour,
            "until": max(tomorrow.astimezone(UTC), this_hour + timedelta(hours=1)),
            }).mappings():
        if row["series"] == "day":
            found_days[row["day"]] = row
        elif row["hour"] is None:
            rolled[row["day"]] = row
        else:
            found_hours[row["hour"].astimezone(UTC)] = row

    def figures(row) -> dict:
        return {"bytes_in": row["bytes_in"] if row else 0,
                "bytes_out": row["bytes_out"] if row else 0}

    by_day = []
    for n in range(days):
        day = first_day + timedelta(days=n)
        by_day.append({"day": day, **figures(found_days.get(day))})
    by_hour: list[dict] = []
    for n in range(hours):
        hour = first_hour + timedelta(hours=n)
        local = hour.astimezone(zone)
        shown = figures(found_hours.get(hour))
        if local.date() not in rolled:
            by_hour.append({"hour": local.replace(tzinfo=None), "day": None, **shown})
        elif by_hour and by_hour[-1]["day"] == local.date():
            # An hour written after its day was rolled up (late accounting): the day
            # holds it until the next roll-up moves it.
            by_hour[-1]["bytes_in"] += shown["bytes_in"]
            by_hour[-1]["bytes_out"] += shown["bytes_out"]
        else:
            whole = figures(rolled[local.date()])
            by_hour.append({"hour": None, "day": local.date(),
                            "bytes_in": whole["bytes_in"] + shown["bytes_in"],
                            "bytes_out": whole["bytes_out"] + shown["bytes_out"]})
    return by_day, by_hour


def hour_label(row: dict) -> str:
    """An hour of the hour series as the chart and the table name it; a rolled-up day's
    row names the day as a whole."""
    if row["hour"] is None:
        return str(_l("%(day)s, whole day", day=row["day"].strftime("%d.%m")))
    return row["hour"].strftime("%d.%m %H:00")


def chart_data(by_day: list[dict], by_hour: list[dict]) -> dict:
    """What the chart script reads (webapp/static/ebs_charts.js): labels and megabytes as
    strings, as the dashboard's series."""
    return {
        "traffic_days": [row["day"].strftime("%d.%m") for row in by_day],
        "traffic_day_in": [str(megabytes(row["bytes_in"])) for row in by_day],
        "traffic_day_out": [str(megabytes(row["bytes_out"])) for row in by_day],
        "traffic_hours": [hour_label(row) for row in by_hour],
        "traffic_hour_in": [str(megabytes(row["bytes_in"])) for row in by_hour],
        "traffic_hour_out": [str(megabytes(row["bytes_out"])) for row in by_hour],
    }


def figures(session, account_id: int, zone: ZoneInfo, now: datetime) -> dict:
    """What a page draws of an account's traffic (templates/traffic_charts.html: the
    account card's tab and the subscriber's cabinet): both series, the chart's JSON, and
    how to name an hour and write bytes."""
    by_day, by_hour = series(session, account_id, zone, now)
    return {"by_day": by_day, "by_hour": by_hour,
            "hours_rolled": any(row["hour"] is None for row in by_hour),
            "hour_label": hour_label, "chart": chart_data(by_day, by_hour),
            "megabytes": megabytes}


# The CSV of the tab: per group, in bytes, the same ranges as the charts (:since/:until,
# :id, :tz), read through reports' CSV writer.
_CSV_COLUMNS_TAIL = (Column("group_name", _l("Traffic group"), TEXT),
                     Column("bytes_in", _l("Bytes in"), COUNT),
                     Column("bytes_out", _l("Bytes out"), COUNT))
CSV_SERIES = {
    "day": Report(
        "traffic_by_day", _l("Traffic by day"),
        f"""
        SELECT s.day, g.name AS group_name,
               sum(s.bytes_in)::bigint AS bytes_in, sum(s.bytes_out)::bigint AS bytes_out
          FROM {traffic_stats_rows(":since", ":until", _ACCOUNT)} s
          JOIN traffic_groups g ON g.id = s.group_id
         GROUP BY 1, g.name ORDER BY 1, g.name
        """,
        (Column("day", _l("Day"), DATE), *_CSV_COLUMNS_TAIL)),
    # A rolled-up day (no hours kept) is a row named by its date alone.
    "hour": Report(
        "traffic_by_hour", _l("Traffic by hour"),
        f"""
        SELECT coalesce(to_char(s.hour AT TIME ZONE :tz, 'YYYY-MM-DD HH24:00'),
                        to_char(s.day, 'YYYY-MM-DD')) AS hour,
               g.name AS group_name, s.bytes_in, s.bytes_out
          FROM {traffic_stats_rows(":since", ":until", _ACCOUNT)} s
          JOIN traffic_groups g ON g.id = s.group_id
         ORDER BY s.day, s.hour NULLS FIRST, g.name
        """,
        (Column("hour", _l("Hour"), TEXT), *_CSV_COLUMNS_TAIL)),
}


def csv_params(name: str, account_id: int, zone: ZoneInfo, now: datetime) -> dict:
    """The range of the chart the CSV ``name`` goes with."""
    if name == "day":
        today = now.astimezone(zone).date()
        return {"id": account_id, "tz": zone.key,
                "since": _midnight(today - timedelta(days=DAYS - 1), zone),
                "until": _midnight(today + timedelta(days=1), zone)}
    this_hour = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return {"id": account_id, "tz": zone.key,
            "since": this_hour - timedelta(hours=HOURS - 1),
            "until": this_hour + timedelta(hours=1)}
