"""The account card's Traffic tab: what the card shows of it (:func:`traffic_tab`) and
its CSV downloads (:class:`AccountTrafficView`). The figures are
``webapp.traffic_series``'; staff who read the card read its traffic, as they read its
sessions."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from flask import abort, request
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from sqlalchemy import text

from webapp import labels, localtime, traffic_series
from webapp.numbers import format_decimal_text
from webapp.report_db import report_session
from webapp.views.reports import CSV_FLAVOURS, csv_flavour, csv_response
from webapp.views.tariff_limits import window_label

_EXISTS = text("SELECT 1 FROM accounts WHERE id = :id")
GRANT = ("can_traffic",)


def minutes(seconds) -> Decimal:
    """Seconds online as minutes with two decimals, for a person to read."""
    return (Decimal(seconds or 0) / 60).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def limit_effect(row: dict) -> str:
    """What a limit in force does, in the operator's words: a block, or the speed it
    leaves (``This speed: 1M/2M``, ``A percentage of the tariff's speed: 50``)."""
    if row["action"] != "speed":
        return labels.label(labels.LIMIT_ACTIONS, row["action"])
    value = (format_decimal_text(row["percent"]) if row["speed_mode"] == "percent"
             else row["speed"])
    return f"{labels.label(labels.LIMIT_SPEED_MODES, row['speed_mode'])}: {value}"


def traffic_tab(session, account_id: int) -> dict:
    """The tab's figures for the card: usage, time and limits now, both series and the
    chart's JSON."""
    zone = localtime.zone()
    now = datetime.now(zone)
    period = traffic_series.period_figures(session, account_id, now)
    return {**traffic_series.figures(session, account_id, zone, now),
            "usage": period["traffic"], "time": period["time"], "limits": period["limit"],
            "minutes": minutes, "limit_effect": limit_effect,
            "window_label": window_label}


class AccountTrafficView(BaseView):
    """The tab's figures per group as CSV: ``day`` (the last 30 local days) or ``hour``
    (the last 48 hours); ``?format=excel`` for the spreadsheet of the operator's
    language, plain RFC 4180 otherwise (webapp/views/reports.py)."""

    route_base = "/account-traffic"
    default_view = "csv"
    role_grants = {"Cashier": GRANT, "ReadOnly": GRANT}

    @expose("/<int:account_id>/<name>.csv")
    @has_access
    @permission_name("traffic")
    def csv(self, account_id: int, name: str):
        report = traffic_series.CSV_SERIES.get(name)
        session = report_session()
        if report is None:
            abort(404)
        if session.execute(_EXISTS, {"id": account_id}).scalar() is None:
            abort(404)
        zone = localtime.zone()
        params = traffic_series.csv_params(name, account_id, zone, datetime.now(zone))
        wanted = request.args.get("format")
        flavour = csv_flavour(wanted if wanted in CSV_FLAVOURS else "csv")
        filename = f"traffic_{name}_{account_id}.csv"
        return csv_response(session.get_bind(), report, params, filename, flavour)
