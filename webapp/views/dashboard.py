"""The start page: subscribers by state, online now, today's money, debtors (their debt
as a positive sum); a cashier is sent on to the desk.

Subscribers by state come from ``account_stats_deltas`` (signed deltas the account
triggers append, summed here: a few rows, never the 500,000 accounts); today's money from
today's buckets of ``ledger_totals`` (the ledger's insert trigger appends them; local
midnight is a bucket boundary; today's reversals net their originals out, as in the
reports: webapp/reports.py); online from the open sessions. Both tables are sums of
their rows, so the figures are right however many rows have piled up; the beat task
``ebs.fold_totals`` (worker/totals_tasks.py) folds them every few minutes to keep them
few, and a page view only reads. Below them, money per day of the last month and sessions
online per hour of the last day (webapp/dashboard_series.py), drawn by Chart.js from
Debian's libjs-chart.js, which this view serves itself: no CDN, the page works on a
management network without internet, and the content security policy names no other
origin.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import current_app, redirect, send_from_directory, url_for
from flask_appbuilder import IndexView, expose
from flask_login import current_user
from sqlalchemy import text

from webapp.dashboard_series import chart_data, money_by_day, online_by_hour
from webapp.report_db import report_session

# Debian's libjs-chart.js (scripts/install-deps.sh): the UMD build, one file.
CHARTJS_DIR = Path("/usr/share/javascript/chart.js")
CHARTJS_FILE = "chart.min.js"

_ACCOUNTS = text(
    """
    SELECT coalesce(sum(total), 0)::bigint AS total, coalesce(sum(active), 0)::bigint AS active,
           coalesce(sum(blocked), 0)::bigint AS blocked,
           coalesce(sum(suspended), 0)::bigint AS suspended,
           coalesce(sum(debtors), 0)::bigint AS debtors, coalesce(sum(debt), 0) AS debt
      FROM account_stats_deltas
    """
)
_TODAY = text(
    """
    SELECT coalesce(sum(amount) FILTER (WHERE kind = 'payment'), 0) AS payments,
           coalesce(sum(entries) FILTER (WHERE kind = 'payment'), 0)::bigint AS payment_count,
           coalesce(-sum(amount) FILTER (WHERE kind LIKE 'charge%'), 0) AS charges
      FROM ledger_totals
     WHERE bucket >= :since
    """
)
_ONLINE = text("SELECT count(*) FROM sessions_open")


class DashboardView(IndexView):
    index_template = "dashboard.html"

    @expose("/")
    def index(self):
        if current_user.is_authenticated and lands_on_desk(current_user):
            return redirect(url_for("CashierView.search"))
        self.update_redirect()
        if not current_user.is_authenticated:
            return self.render_template(self.index_template, appbuilder=self.appbuilder,
                                        stats=None)
        session = report_session()
        zone = ZoneInfo(current_app.config["EBS_SETTINGS"].TIME_ZONE)
        accounts = session.execute(_ACCOUNTS).mappings().one()
        stats = {
            **accounts,
            # The deltas sum negative balances; people read a debt as a positive sum.
            "debt": -accounts["debt"],
            **today_money(session, zone),
            "online": session.execute(_ONLINE).scalar(),
        }
        now = datetime.now(zone)
        money = money_by_day(session, zone, now)
        online = online_by_hour(session, zone, now)
        return self.render_template(self.index_template, appbuilder=self.appbuilder,
                                    stats=stats, bars=state_bars(stats), money=money,
                                    online=online, chart=chart_data(money, online))

    @expose("/vendor/chart.js")
    def chartjs(self):
        """Chart.js from the system's package, for every page that draws a chart; public,
        as any static file is. Without the package: 404, and pages keep their tables."""
        return send_from_directory(CHARTJS_DIR, CHARTJS_FILE, mimetype="text/javascript",
                                   max_age=86400)


def lands_on_desk(user) -> bool:
    """A cashier's day is the desk: the start page (where login leads) sends a cashier
    there; Admin and ReadOnly staff stay on the dashboard."""
    roles = {role.name for role in user.roles}
    return "Cashier" in roles and "Admin" not in roles


def today_money(session, zone: ZoneInfo, now: datetime | None = None) -> dict:
    """Payments (sum and count) and charges since the local midnight of ``now``."""
    since = (now or datetime.now(zone)).astimezone(zone).replace(
        hour=0, minute=0, second=0, microsecond=0)
    return dict(session.execute(_TODAY, {"since": since}).mappings().one())


def state_bars(stats: dict) -> list[dict]:
    """Subscribers by state as bar widths (percent of all subscribers, whole numbers):
    the proportions are what an operator glances at; the exact counts are above."""
    total = max(int(stats["total"]), 1)
    return [{"key": key, "value": int(stats[key]), "width": int(stats[key]) * 100 // total}
            for key in ("active", "blocked", "suspended", "debtors", "online")]
