"""The cabinet's first page: the account's money, tariff and state at a glance."""

from __future__ import annotations

from flask import render_template
from sqlalchemy import text

from webapp import labels
from webapp.cabinet.blueprint import bp, menu_entry
from webapp.cabinet.sessions import login_required
from webapp.extensions import db
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

menu_entry(10, "overview", "Overview")


@bp.route("/")
@login_required
def overview(subscriber):
    account = account_with_tariff(db.session, _ACCOUNT, subscriber.id)
    tariff = None
    if account["tariff_id"] is not None:
        tariff = db.session.execute(_TARIFF, {"id": account["tariff_id"]}).mappings().one()
    return render_template("cabinet/overview.html", account=account, tariff=tariff,
                           status_label=labels.label(labels.ACCOUNT_STATUSES, account["status"]))
