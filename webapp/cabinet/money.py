"""The subscriber's money actions besides paying: a promised payment, a balance transfer
to another subscriber, an express card.

A promise and a transfer are shown before they are made. The promise is tried by
``billing.promise.take_promise`` and rolled back, so its expiry is the service's own; the
transfer's recipient is named by contract and shown masked (``webapp.display.masked_name``:
enough to catch a typo, not enough to learn who holds a contract), its rules checked by
``billing.transfer.check_transfer``. The confirmation form carries a key made for it, which
``transfer_balance`` keeps: a confirmation posted twice transfers once. A card has nothing
to show before its PIN is checked, so it is activated at once by
``billing.express_cards.activate``, whose PIN-guessing throttle counts this subscriber and
the address the attempt came from.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

from flask import flash, redirect, url_for
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import text
from wtforms import HiddenField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, Regexp

from billing import express_cards, promise, transfer
from webapp import localtime
from webapp.cabinet.acting import (
    Fact,
    attempt,
    confirm_page,
    confirming,
    form_page,
    money_fact,
    preview,
    words,
)
from webapp.cabinet.blueprint import bp, menu_entry
from webapp.cabinet.sessions import login_required
from webapp.card_refusals import NO_KEY, text_of
from webapp.credential_checks import host_key
from webapp.display import masked_name
from webapp.extensions import db
from webapp.money_field import MoneyField
from webapp.numbers import format_amount, format_money
from webapp.staff_networks import client_address
from webapp.validators import PositiveMoney
from webapp.views.cashier_cards import CardActivationForm
from webapp.views.ledger import raw_connection

menu_entry(45, "promise", "Promise and transfer", also=("transfer",))
menu_entry(55, "card", "Express card")

PROMISE_REFUSALS = {
    "not_allowed": _l("Promised payments are not offered on your tariff."),
    "over_max_sum": _l("A promised payment is at most %(max_sum)s."),
    "already_open": _l("You already have an open promised payment."),
    "balance_below_minimum": _l("A promised payment needs a balance of at least "
                                "%(min_balance)s."),
    "too_soon": _l("The next promised payment is possible from %(next_at)s."),
}
TRANSFER_REFUSALS = {
    "same_account": _l("This is your own contract."),
    "not_allowed": _l("Your tariff does not allow balance transfers."),
    "insufficient_balance": _l("The amount is more than your balance, %(balance)s."),
    "request_reused": _l("This confirmation was made for another transfer; please start "
                         "again."),
}
NO_RECIPIENT = _l("No subscriber has this contract.")

_BALANCE = text("SELECT balance FROM accounts WHERE id = :id")
_PROMISES = text(
    """
    SELECT (SELECT amount FROM promised_payments
             WHERE account_id = :id AND closed_at IS NULL) AS open_amount,
           (SELECT expires_at FROM promised_payments
             WHERE account_id = :id AND closed_at IS NULL) AS open_until,
           (SELECT max(taken_at) FROM promised_payments WHERE account_id = :id) AS last_taken
    """
)
_RECIPIENT = text("SELECT id, contract, full_name FROM accounts WHERE contract = :contract")


def _now() -> datetime:
    return datetime.now(UTC)


def _tabs() -> dict:
    return {"tabs": [("cabinet.promise", _l("Promised payment"), "cabinet-tab-promise"),
                     ("cabinet.transfer", _l("Transfer"), "cabinet-tab-transfer")]}


def _balance(account_id: int):
    return db.session.execute(_BALANCE, {"id": account_id}).scalar_one()


# --- promised payment -----------------------------------------------------------------


class PromiseForm(FlaskForm):
    amount = MoneyField(_l("Amount"),
                        validators=[InputRequired(message=_l("Enter the amount.")),
                                    PositiveMoney()])


@bp.route("/promise", methods=["GET", "POST"], endpoint="promise")
@login_required
def promise_page(subscriber):
    now = _now()
    settings = promise.promise_settings(raw_connection(db.session), subscriber.id, now)
    taken = db.session.execute(_PROMISES, {"id": subscriber.id}).mappings().one()
    if settings is None or not settings.allowed:
        return form_page("promise", _l("Promised payment"), None, None,
                         note=PROMISE_REFUSALS["not_allowed"], **_tabs(),
                         template="cabinet/tabbed.html")
    if taken["open_amount"] is not None:
        return form_page(
            "promise", _l("Promised payment"), None, None, **_tabs(),
            template="cabinet/tabbed.html",
            rows=[money_fact("cabinet-promise-open", _l("Open promised payment"),
                             taken["open_amount"]),
                  Fact("cabinet-promise-open-until", _l("Until"),
                       localtime.format_minute(taken["open_until"]))],
            note=_l("It is taken back when your payments cover it, or when it ends."))
    next_at = (taken["last_taken"] + timedelta(days=settings.cooldown_days)
               if taken["last_taken"] else now)
    figures = {"max_sum": format_amount(settings.max_sum),
               "min_balance": format_amount(settings.min_balance),
               "next_at": localtime.format_minute(next_at)}
    form = PromiseForm()
    refused = None
    if form.validate_on_submit():
        amount = form.amount.data

        def take(conn):
            return promise.take_promise(conn, subscriber.id, amount, at=now)

        if confirming():
            done, refusal = attempt(take)
            if refusal is None:
                flash(str(_l("A promised payment of %(amount)s is on your balance until "
                             "%(when)s.", amount=format_amount(done.amount),
                             when=localtime.format_minute(done.expires_at))), "success")
                return redirect(url_for("cabinet.promise"), code=303)
        else:
            trial, refusal = preview(take)
            if refusal is None:
                return confirm_page(
                    _l("Take a promised payment?"),
                    [money_fact("cabinet-confirm-amount", _l("Amount"), trial.amount),
                     Fact("cabinet-confirm-until", _l("Until"),
                          localtime.format_minute(trial.expires_at),
                          trial.expires_at.isoformat()),
                     money_fact("cabinet-confirm-balance", _l("Balance now"),
                                _balance(subscriber.id))],
                    {"amount": format_money(amount)}, _l("Take it"),
                    url_for("cabinet.promise"),
                    note=_l("It is taken back when your payments cover it, or when it "
                            "ends."))
        refused = words(refusal, PROMISE_REFUSALS, **figures)
    elif not form.is_submitted():
        form.amount.data = settings.max_sum
    rows = [money_fact("cabinet-promise-max", _l("At most"), settings.max_sum),
            Fact("cabinet-promise-days", _l("For days"), str(settings.days), settings.days)]
    if settings.min_balance:
        rows.append(money_fact("cabinet-promise-min-balance", _l("Balance needed"),
                               settings.min_balance))
    return form_page("promise", _l("Promised payment"), form, _l("Continue"), rows=rows,
                     refused=refused, template="cabinet/tabbed.html", **_tabs())


# --- balance transfer -----------------------------------------------------------------


class TransferForm(FlaskForm):
    # Not "contract": the recipient is another subscriber's on purpose, which the
    # vocabulary of object parameters (each refused for another's object) must not cover.
    recipient_contract = StringField(
        _l("Recipient's contract"),
        validators=[DataRequired(message=_l("Enter the recipient's contract.")),
                    Length(max=64)])
    amount = MoneyField(_l("Amount"),
                        validators=[InputRequired(message=_l("Enter the amount.")),
                                    PositiveMoney()])
    request_key = HiddenField(validators=[Regexp(r"^([0-9a-f]{32})?$")])


@bp.route("/transfer", methods=["GET", "POST"], endpoint="transfer")
@login_required
def transfer_page(subscriber):
    now = _now()
    conn = raw_connection(db.session)
    balance = _balance(subscriber.id)
    rows = [money_fact("cabinet-transfer-balance", _l("Your balance"), balance)]
    if not transfer.transfer_allowed(conn, subscriber.id, now):
        return form_page("transfer", _l("Balance transfer"), None, None, rows=rows,
                         note=TRANSFER_REFUSALS["not_allowed"], **_tabs(),
                         template="cabinet/tabbed.html")
    form = TransferForm()
    refused = None
    if form.validate_on_submit():
        typed = form.recipient_contract.data.strip()
        recipient = db.session.execute(_RECIPIENT, {"contract": typed}).mappings().first()
        amount = form.amount.data
        if recipient is None:
            form.recipient_contract.errors.append(str(NO_RECIPIENT))
        elif confirming() and re.fullmatch(r"[0-9a-f]{32}", form.request_key.data or ""):
            key = f"cabinet:{subscriber.id}:{form.request_key.data}"
            done, refusal = attempt(lambda conn: transfer.transfer_balance(
                conn, subscriber.id, recipient["id"], amount, request_key=key, at=now))
            if refusal is None:
                flash(str(_l("%(amount)s is transferred to contract %(contract)s.",
                             amount=format_amount(done.amount),
                             contract=recipient["contract"]) if done.created else
                          _l("This transfer is already made.")), "success")
                return redirect(url_for("cabinet.transfer"), code=303)
            refused = words(refusal, TRANSFER_REFUSALS, balance=format_amount(balance))
        else:
            try:
                transfer.check_transfer(allowed=True, amount=amount, balance=balance,
                                        same_account=recipient["id"] == subscriber.id)
            except transfer.TransferError as exc:
                refusal = exc
            else:
                return confirm_page(
                    _l("Transfer the money?"),
                    [Fact("cabinet-confirm-contract", _l("Recipient's contract"),
                          recipient["contract"]),
                     Fact("cabinet-confirm-recipient", _l("Recipient"),
                          masked_name(recipient["full_name"])),
                     money_fact("cabinet-confirm-amount", _l("Amount"), amount),
                     money_fact("cabinet-confirm-balance-after", _l("Your balance after"),
                                balance - amount)],
                    {"recipient_contract": recipient["contract"],
                     "amount": format_money(amount), "request_key": uuid.uuid4().hex},
                    _l("Transfer"), url_for("cabinet.transfer"))
            refused = words(refusal, TRANSFER_REFUSALS, balance=format_amount(balance))
    return form_page("transfer", _l("Balance transfer"), form, _l("Continue"), rows=rows,
                     refused=refused, template="cabinet/tabbed.html", **_tabs())


# --- express card ---------------------------------------------------------------------


@bp.route("/card", methods=["GET", "POST"])
@login_required
def card(subscriber):
    form = CardActivationForm()
    refused = None
    if form.validate_on_submit():
        key = host_key()
        if key is None:
            refused = str(NO_KEY)
        else:
            session = db.session
            try:
                done = express_cards.activate(
                    raw_connection(session), subscriber.id, form.number.data,
                    form.pin.data, source=client_address(), key=key)
            except express_cards.CardRefused as exc:
                session.commit()  # the wrong PIN's count: the refusal wrote nothing else
                refused = text_of(exc)
            else:
                session.commit()
                flash(str(_l("Card %(number)s: %(amount)s is on the balance.",
                             number=done.number, amount=format_amount(done.nominal))),
                      "success")
                return redirect(url_for("cabinet.card"), code=303)
    return form_page("card", _l("Express card"), form, _l("Activate the card"),
                     refused=refused,
                     note=_l("The number is printed on the card; the PIN is under its "
                             "scratch layer."))
