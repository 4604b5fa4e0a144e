"""The account card's money and session actions that ``account_actions`` lacks: a
payment, a manual correction, a balance transfer and the disconnect of the account's
sessions online.

Each is the ``billing`` entry point every other door uses: ``billing.payments``
(``post_payment``, ``post_correction``: the cashier's desk, the API and ``ebs``),
``billing.transfer.transfer_balance`` (``ebs account transfer``), and the worker's
``ebs.kick_session`` by task name, as the online list and the API send it. A payment or
correction above ``PAYMENT_CONFIRM_ABOVE`` posts only once the operator confirms that
very sum (``payment_confirmation``, the desk's rule), one above ``PAYMENT_MAX_AMOUNT`` is
refused by ``billing.payments``. Every done action leaves its row in the staff audit log
in the same transaction; a refusal is shown on the form and writes nothing. Like the
other account actions these are Admin's (no other role is granted them).
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from flask import abort, flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.forms import DynamicForm
from flask_appbuilder.security.decorators import permission_name
from flask_babel import lazy_gettext as _l
from sqlalchemy import text
from wtforms import HiddenField
from wtforms.validators import DataRequired, InputRequired

from billing import payments, transfer
from billing.errors import Refused
from billing.money import to_money
from webapp import audit, tasks_client
from webapp.forms import CorrectionForm, PaymentForm
from webapp.money_field import MoneyField
from webapp.numbers import currency_sign, format_amount, format_money
from webapp.pickers import account_picker
from webapp.validators import NonNegativeMoney
from webapp.views import payment_confirmation as confirmation
from webapp.views.ledger import raw_connection
from webapp.views.tariff_in_force import account_with_tariff

_ACCOUNT = text(
    "SELECT a.id, a.contract, a.full_name, a.status, a.balance FROM accounts a"
    " WHERE a.id = :id")
_ONLINE = text(
    "SELECT acct_unique_id, username, framed_ip, nas_ip, started_at FROM sessions_open"
    " WHERE account_id = :id ORDER BY started_at")

# The operator's words for refusals the account actions' table does not name.
CARD_REFUSALS = {
    "same_account": _l("An account cannot transfer to itself."),
    "insufficient_balance": _l("The amount is more than the balance."),
    "request_reused": _l("This form was already used for another transfer."),
}


def _refusal(exc: Exception) -> str:
    known = CARD_REFUSALS.get(getattr(exc, "code", ""))
    return str(known) if known is not None else confirmation.refusal(exc, Decimal(0))


class TransferForm(DynamicForm):
    to_account = account_picker(_l("To account"),
                                DataRequired(message=_l("Choose the receiving account.")))
    amount = MoneyField(_l("Amount"),
                        validators=[InputRequired(message=_l("Enter the amount.")),
                                    NonNegativeMoney()])
    nonce = HiddenField(validators=[DataRequired()])

    def fresh(self) -> TransferForm:
        self.nonce.data = uuid.uuid4().hex
        return self


class DisconnectForm(DynamicForm):
    """Only the CSRF token: the sessions are the account's own, read at the POST."""


class AccountCardView(BaseView):
    """The card's actions (pay, correct, transfer, disconnect); Admin only."""

    route_base = "/account-card"
    default_view = "pay"

    def _db(self):
        return self.appbuilder.session

    def _account(self, account_id: int):
        account = account_with_tariff(self._db(), _ACCOUNT, account_id)
        if account is None:
            abort(404)
        return account

    @staticmethod
    def _back(account_id: int) -> str:
        return url_for("AccountView.show", pk=account_id)

    def _money_page(self, account, form, kind: str):
        payment = kind == "payment"
        currency = currency_sign()
        amount, contract = format_money(form.amount.data), account["contract"]
        return self.render_template(
            "accounts/card_money.html", account=account, form=form,
            back=self._back(account["id"]),
            title=_l("Payment") if payment else _l("Manual correction"),
            button=_l("Post payment") if payment else _l("Post correction"),
            confirm_button=_l("Confirm payment") if payment else _l("Confirm correction"),
            prompt=(_l("Confirm the payment of %(amount)s %(currency)s to contract "
                       "%(contract)s.", amount=amount, currency=currency, contract=contract)
                    if payment else
                    _l("Confirm the correction of %(amount)s %(currency)s to contract "
                       "%(contract)s.", amount=amount, currency=currency, contract=contract)))

    def _post(self, account_id: int, form, post, kind: str, default_text: str):
        db = self._db()

        def record(posted, amount):
            audit.record_action(db, kind, "accounts", account_id,
                                {"amount": amount, "entry_id": posted.id,
                                 "comment": form.description.data or ""})

        posted = confirmation.post_from_form(db, account_id, form, post, kind, default_text,
                                             record)
        return posted and redirect(self._back(account_id))

    @expose("/<int:account_id>/pay", methods=["GET", "POST"])
    @has_access
    @permission_name("pay")
    def pay(self, account_id: int):
        account = self._account(account_id)
        form = PaymentForm() if request.method == "POST" else PaymentForm().fresh()
        if request.method == "POST":
            done = self._post(account_id, form, payments.post_payment, "payment",
                              str(_l("Payment on the account card")))
            if done:
                return done
        return self._money_page(account, form, "payment")

    @expose("/<int:account_id>/correct", methods=["GET", "POST"])
    @has_access
    @permission_name("correct")
    def correct(self, account_id: int):
        account = self._account(account_id)
        form = CorrectionForm() if request.method == "POST" else CorrectionForm().fresh()
        if request.method == "POST":
            done = self._post(account_id, form, payments.post_correction, "correction", "")
            if done:
                return done
        return self._money_page(account, form, "correction")

    @expose("/<int:account_id>/transfer", methods=["GET", "POST"])
    @has_access
    @permission_name("transfer")
    def transfer(self, account_id: int):
        account = self._account(account_id)
        form = TransferForm() if request.method == "POST" else TransferForm().fresh()
        refused = None
        if form.validate_on_submit():
            db = self._db()
            to = form.to_account.data
            try:
                done = transfer.transfer_balance(
                    raw_connection(db), account_id, to.id, to_money(form.amount.data),
                    request_key=f"card:{form.nonce.data}", staff_user_id=g.user.id)
            except Refused as exc:
                db.rollback()
                refused = _refusal(exc)
            else:
                if done.created:
                    audit.record_action(db, "transfer", "accounts", account_id, {
                        "to_account_id": to.id, "amount": done.amount,
                        "request": done.request_key})
                db.commit()
                flash(str(_l("Transferred %(amount)s to contract %(contract)s.",
                             amount=format_amount(done.amount), contract=to.contract)),
                      "success")
                return redirect(self._back(account_id))
        return self.render_template(
            "accounts/action.html", account=account, form=form, title=_l("Transfer"),
            button=_l("Transfer"), refused=refused, back=self._back(account_id),
            note=_l("Moves money the account has (credit does not count), if its tariff "
                    "allows transfers."), chosen=None, more=0)

    @expose("/<int:account_id>/disconnect", methods=["GET", "POST"])
    @has_access
    @permission_name("disconnect")
    def disconnect(self, account_id: int):
        """Every session of the account online gets a Disconnect-Request from the worker;
        the audit row commits before the tasks are sent."""
        account = self._account(account_id)
        db = self._db()
        form = DisconnectForm()
        sessions = db.execute(_ONLINE, {"id": account_id}).mappings().all()
        back = self._back(account_id)
        if form.validate_on_submit():
            if not sessions:
                flash(str(_l("The account has no session online.")), "warning")
                return redirect(back)
            ids = [s["acct_unique_id"] for s in sessions]
            audit.record_action(db, "kick", "accounts", account_id, {"sessions": ids})
            db.commit()
            try:
                for session_id in ids:
                    tasks_client.send(tasks_client.KICK_SESSION, session_id)
            except tasks_client.QueueUnavailable:
                flash(str(_l("The task queue is unavailable; nothing more was sent.")),
                      "danger")
            else:
                flash(str(_l("Disconnect requested for %(count)s session(s).",
                             count=len(ids))), "success")
            return redirect(back)
        return self.render_template(
            "accounts/card_disconnect.html", account=account, form=form, back=back,
            sessions=sessions)
