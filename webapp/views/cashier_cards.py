"""The cashier's desk activates an express card for the subscriber in front of it: the
card's number and PIN typed from the card, credited by ``billing.express_cards.activate``
(the API's and the cabinet's entry point too), then the payment's receipt.

Attempts are counted per account and per operator (``staff:<id>``): a desk typing wrong
PINs for many accounts is locked like a subscriber guessing at one.
"""

from __future__ import annotations

from flask import abort, flash, g, redirect, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
from flask_appbuilder.forms import DynamicForm
from flask_appbuilder.security.decorators import permission_name
from flask_babel import lazy_gettext as _l
from sqlalchemy import text
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from billing import express_cards
from billing.errors import Refused
from webapp import audit
from webapp.card_refusals import NO_KEY, text_of
from webapp.credential_checks import host_key
from webapp.numbers import format_amount
from webapp.views.ledger import raw_connection

_ACCOUNT_EXISTS = text("SELECT 1 FROM accounts WHERE id = :id")


class CardActivationForm(DynamicForm):
    number = StringField(_l("Card number"), widget=BS3TextFieldWidget(),
                         render_kw={"autocomplete": "off"},
                         validators=[DataRequired(message=_l("Enter the card's number.")),
                                     Length(max=64)])
    pin = StringField(_l("PIN"), widget=BS3TextFieldWidget(),
                      render_kw={"autocomplete": "off"},
                      validators=[DataRequired(message=_l("Enter the PIN.")),
                                  Length(max=64)])


class CashierCardView(BaseView):
    route_base = "/cashier/card"
    role_grants = {"Cashier": ("can_activate",)}

    @expose("/<int:account_id>", methods=["POST"])
    @has_access
    @permission_name("activate")
    def activate(self, account_id: int):
        db = self.appbuilder.session
        if db.execute(_ACCOUNT_EXISTS, {"id": account_id}).first() is None:
            abort(404)
        back = redirect(url_for("CashierView.account", account_id=account_id))
        form = CardActivationForm()
        if not form.validate_on_submit():
            for errors in form.errors.values():
                for error in errors:
                    flash(str(error), "danger")
            return back
        key = host_key()
        if key is None:
            flash(str(NO_KEY), "danger")
            return back
        try:
            done = express_cards.activate(raw_connection(db), account_id, form.number.data,
                                          form.pin.data, source=f"staff:{g.user.id}",
                                          key=key, staff_user_id=g.user.id)
        except express_cards.CardRefused as exc:
            db.commit()  # the wrong PIN's count: the refusal wrote nothing else
            flash(text_of(exc), "danger")
            return back
        except Refused as exc:
            db.rollback()
            flash(text_of(exc), "danger")
            return back
        audit.record_action(db, "payment", "ledger_entries", done.payment.id,
                            {"account_id": account_id, "amount": done.nominal,
                             "express_card": done.number})
        db.commit()
        flash(str(_l("Card %(number)s: %(amount)s is on the balance.", number=done.number,
                     amount=format_amount(done.nominal))), "success")
        return redirect(url_for("CashierView.receipt", entry_id=done.payment.id))
