"""The account card's switch between all messages and only the essential ones (a block, a
payment): ``billing.notifications.optouts``, the same call as the subscriber's own switch
in the cabinet, audited in the same transaction."""

from __future__ import annotations

from flask import abort, flash, redirect, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.forms import DynamicForm
from flask_appbuilder.security.decorators import permission_name
from flask_babel import lazy_gettext as _l
from sqlalchemy import text
from wtforms import RadioField

from billing.notifications import optouts
from webapp import audit
from webapp.views.ledger import raw_connection
from webapp.views.tariff_in_force import account_with_tariff

_ACCOUNT = text("SELECT id, contract, full_name, status, balance FROM accounts WHERE id = :id")
RECEIVES = {"all": _l("All messages"),
            "essential": _l("Only essential ones (a block, a payment)")}


class OptoutForm(DynamicForm):
    receives = RadioField(_l("The subscriber receives"), choices=list(RECEIVES.items()))


class AccountOptoutView(BaseView):
    route_base = "/account-notifications"
    default_view = "switch"

    @expose("/<int:account_id>", methods=["GET", "POST"])
    @has_access
    @permission_name("switch")
    def switch(self, account_id: int):
        db = self.appbuilder.session
        account = account_with_tariff(db, _ACCOUNT, account_id)
        if account is None:
            abort(404)
        back = url_for("AccountView.show", pk=account_id)
        form = OptoutForm()
        if form.validate_on_submit():
            out = form.receives.data == "essential"
            if optouts.set_opted_out(raw_connection(db), account_id, out):
                audit.record_action(db, "edit", "accounts", account_id,
                                    {"receives": form.receives.data})
                db.commit()
                flash(str(_l("The subscriber receives: %(what)s.",
                             what=RECEIVES[form.receives.data])), "success")
            else:
                db.rollback()
                flash(str(_l("Nothing changed: the subscriber receives that already.")),
                      "info")
            return redirect(back)
        now_out = optouts.opted_out(raw_connection(db), account_id)
        db.rollback()
        form.receives.data = "essential" if now_out else "all"
        return self.render_template(
            "accounts/action.html", account=account, form=form,
            title=_l("Messages to the subscriber"), button=_l("Save"), refused=None,
            back=back, chosen=None, more=0,
            note=_l("Essential messages (a block, a payment) are sent whatever is chosen "
                    "here; the subscriber can switch the others in the cabinet too."))
