"""The start page: subscribers by state, online now, today's money, debtors.

One statement over accounts (a single pass with FILTERed counts) and two small ones over
today's ledger entries (the effective-time index) and open sessions.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import current_app
from flask_appbuilder import IndexView, expose
from flask_login import current_user
from sqlalchemy import text

_ACCOUNTS = text(
    """
    SELECT count(*) AS total,
           count(*) FILTER (WHERE status = 'active' AND NOT blocked_by_balance
                            AND NOT blocked_by_limit) AS active,
           count(*) FILTER (WHERE blocked_by_balance OR blocked_by_limit) AS blocked,
           count(*) FILTER (WHERE status = 'suspended') AS suspended,
           count(*) FILTER (WHERE balance + credit < 0) AS debtors,
           coalesce(sum(balance) FILTER (WHERE balance < 0), 0) AS debt
      FROM accounts
    """
)
_TODAY = text(
    """
    SELECT coalesce(sum(amount) FILTER (WHERE kind = 'payment'), 0) AS payments,
           count(*) FILTER (WHERE kind = 'payment') AS payment_count,
           coalesce(-sum(amount) FILTER (WHERE kind LIKE 'charge%'), 0) AS charges
      FROM ledger_entries
     WHERE effective_at >= :since
    """
)
_ONLINE = text("SELECT count(*) FROM sessions_open")


class DashboardView(IndexView):
    index_template = "dashboard.html"

    @expose("/")
    def index(self):
        self.update_redirect()
        if not current_user.is_authenticated:
            return self.render_template(self.index_template, appbuilder=self.appbuilder,
                                        stats=None)
        session = self.appbuilder.session
        zone = ZoneInfo(current_app.config["EBS_SETTINGS"].TIME_ZONE)
        since = datetime.now(zone).replace(hour=0, minute=0, second=0, microsecond=0)
        stats = {
            **session.execute(_ACCOUNTS).mappings().one(),
            **session.execute(_TODAY, {"since": since}).mappings().one(),
            "online": session.execute(_ONLINE).scalar(),
        }
        return self.render_template(self.index_template, appbuilder=self.appbuilder,
                                    stats=stats)
