"""The cabinet's traffic: the subscriber's bytes in and out per day (the last 30) and
per hour (the last 48), drawn and tabled as on the account card's Traffic tab (the same
``webapp.traffic_series`` figures and template), each traffic group's share of the
month, and the figures per group as CSV (the card's CSV statements).
"""

from __future__ import annotations

from datetime import datetime

from flask import abort, render_template, request
from sqlalchemy import text

from webapp import localtime, traffic_series
from webapp.cabinet.blueprint import bp, menu_entry
from webapp.cabinet.sessions import login_required
from webapp.report_db import report_session
from webapp.reports import traffic_stats_rows
from webapp.views.reports import csv_flavour, csv_response

# The day chart's range per group, read as the series are (the account's indexes).
_GROUPS = text(
    f"""
    SELECT g.name AS group_name, sum(s.bytes_in)::bigint AS bytes_in,
           sum(s.bytes_out)::bigint AS bytes_out
      FROM {traffic_stats_rows(":since", ":until", ":id")} s
      JOIN traffic_groups g ON g.id = s.group_id
     GROUP BY g.name
     ORDER BY g.name
    """
)

menu_entry(30, "traffic", "Traffic")


@bp.route("/traffic")
@login_required
def traffic(subscriber):
    zone = localtime.zone()
    now = datetime.now(zone)
    session = report_session()
    groups = session.execute(
        _GROUPS, traffic_series.csv_params("day", subscriber.id, zone, now)).mappings().all()
    return render_template(
        "cabinet/traffic.html", groups=groups, days=traffic_series.DAYS,
        traffic=traffic_series.figures(session, subscriber.id, zone, now))


@bp.route("/traffic.csv")
@login_required
def traffic_csv(subscriber):
    """``?series=day`` (the last 30 local days) or ``hour`` (the last 48 hours), per
    group in bytes; ``?format=excel`` as on the other CSV downloads."""
    name = request.args.get("series", "day")
    report = traffic_series.CSV_SERIES.get(name)
    if report is None:
        abort(404)
    zone = localtime.zone()
    params = traffic_series.csv_params(name, subscriber.id, zone, datetime.now(zone))
    return csv_response(report_session().get_bind(), report, params, f"traffic_{name}.csv",
                        csv_flavour(request.args.get("format", "csv")))
