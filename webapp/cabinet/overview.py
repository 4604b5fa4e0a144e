"""The cabinet's first page: money, tariff, state, what is left of the prepaid traffic and
minutes, the limits in force, the next charge, how many days the balance lasts — and,
whenever access is limited, why in plain words with the one action that fixes it.

Every figure comes from one ``billing`` function that others use too: the forecast
(billing/forecast.py, which the notifications use as well), the limitation
(billing/access_state.py, the RADIUS decision's own rule over the account's facts) and
the allowances (billing/allowances.py). The reason is worded as the NAS would word it
to the subscriber (billing/reject_messages.py, with the ISP's own wording from
``RADIUS_REJECT_MESSAGES``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import current_app, render_template
from flask_babel import get_locale
from sqlalchemy import text

from billing import reject_messages
from billing.access_state import limitation
from billing.allowances import allowances
from billing.forecast import forecast
from webapp import labels
from webapp.cabinet.blueprint import bp, menu_entry
from webapp.cabinet.sessions import login_required
from webapp.extensions import db
from webapp.views.ledger import raw_connection
from webapp.views.tariff_in_force import account_with_tariff

_ACCOUNT = text(
    """
    SELECT a.id, a.contract, a.login, a.full_name, a.status, a.balance, a.credit,
           a.blocked_by_balance, a.blocked_by_limit, a.phone, a.email
      FROM accounts a
     WHERE a.id = :id
    """
)
_TARIFF = text("SELECT name, description FROM tariffs WHERE id = :id")
MEGABYTE = 1024 * 1024

menu_entry(10, "overview", "Overview")


def reason_words(reason) -> str:
    settings = current_app.config["EBS_SETTINGS"]
    words = reject_messages.texts(str(get_locale() or "ru"),
                                  getattr(settings, "RADIUS_REJECT_MESSAGES", {}))
    return words.get(str(reason), "")


@bp.route("/")
@login_required
def overview(subscriber):
    session = db.session
    account = account_with_tariff(session, _ACCOUNT, subscriber.id)
    tariff = None
    if account["tariff_id"] is not None:
        tariff = session.execute(_TARIFF, {"id": account["tariff_id"]}).mappings().one()
    conn = raw_connection(session)
    zone = ZoneInfo(current_app.config["EBS_SETTINGS"].TIME_ZONE)
    now = datetime.now(UTC)
    limited = limitation(conn, subscriber.id, now, zone)
    return render_template(
        "cabinet/overview.html", account=account, tariff=tariff,
        status_label=labels.label(labels.ACCOUNT_STATUSES, account["status"]),
        limited=limited, reason=reason_words(limited.reason) if limited else "",
        outlook=forecast(conn, subscriber.id, now, zone),
        left=allowances(conn, subscriber.id, now), megabyte=MEGABYTE,
        endpoints=current_app.view_functions)
