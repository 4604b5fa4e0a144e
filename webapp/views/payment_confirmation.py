"""Posting a sum typed at the cashier's desk or on the account card, and asking before a
large one.

Above ``PAYMENT_CONFIRM_ABOVE`` the desk does not post on the first submit: it shows the
amount and the contract and posts only when the form comes back carrying a confirmation of
exactly that posting, a token signed with the app's key over (kind, account, form nonce,
amount). A re-sent first form carries none and an edited amount no longer matches, so
neither posts without being asked again; a double click on "confirm" posts once, because
the form's nonce is the ledger key (``billing.payments``). The maximum of one posting is
``billing.payments``' rule, checked before asking so that a sum that will be refused is
never put to the operator.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from flask import current_app, flash, g
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, URLSafeSerializer

from billing import payments
from billing.money import to_money
from webapp.numbers import format_amount
from webapp.views.account_forms import refusal_text
from webapp.views.ledger import raw_connection

_SALT = "ebs.cashier.confirm-amount"

# The operator's words for the posting refusals the account actions' table does not name.
POSTING_REFUSALS = {
    "bad_amount": _l("Not an amount of money."),
    "key_reused": _l("This form was already used for another posting."),
}


def _signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def _what(kind: str, account_id: int, nonce: str, amount: Decimal) -> list:
    return [kind, account_id, nonce, str(amount)]


def threshold() -> Decimal:
    """The sum above which the desk asks (a Decimal: settings are parsed at load)."""
    return current_app.config["EBS_SETTINGS"].PAYMENT_CONFIRM_ABOVE


def needed(amount: Decimal) -> bool:
    """A posting of this size is confirmed first (a correction by its absolute value)."""
    return amount.copy_abs() > threshold()


def token(kind: str, account_id: int, nonce: str, amount: Decimal) -> str:
    """The confirmation the form carries back for this one posting."""
    return _signer().dumps(_what(kind, account_id, nonce, amount))


def given(value: str | None, kind: str, account_id: int, nonce: str,
          amount: Decimal) -> bool:
    """Whether ``value`` confirms exactly this posting (nothing else, nothing forged)."""
    if not value:
        return False
    try:
        return _signer().loads(value) == _what(kind, account_id, nonce, amount)
    except BadSignature:
        return False


def refusal(exc: Exception, maximum: Decimal) -> str:
    """A refused posting in the operator's words (the maximum named when it is the
    reason)."""
    code = getattr(exc, "code", "")
    if code == "amount_above_maximum":
        return str(_l("The amount is above the maximum of one payment, %(maximum)s.",
                      maximum=format_amount(maximum)))
    known = POSTING_REFUSALS.get(code)
    return str(known) if known is not None else refusal_text(exc)


def post_from_form(db, account_id: int, form, post: Callable, kind: str, default_text: str,
                   record: Callable | None = None):
    """Post a payment or correction form's sum through ``post`` (``billing.payments``);
    the cashier's desk and the account card both come here.

    Returns the posting, or None when the page is to be shown again: the form is invalid,
    the sum is refused (the reason under the amount, nothing written), or it is above the
    threshold and not yet confirmed (the form then carries the token to ask with).
    ``record(posted, amount)`` runs in the posting's transaction for a new posting (the
    card's audit row); a repeated form posts nothing and flashes nothing."""
    offered, form.confirmation.data = form.confirmation.data, ""
    if not form.validate_on_submit():
        return None
    amount = to_money(form.amount.data)
    maximum = payments.maximum_amount(current_app.config["EBS_SETTINGS"])
    try:
        payments.check_maximum(amount, maximum)
        if needed(amount) and not given(offered, kind, account_id, form.nonce.data, amount):
            form.amount.data = amount
            form.confirmation.data = token(kind, account_id, form.nonce.data, amount)
            return None
        posted = post(raw_connection(db), account_id, amount, source="cashier",
                      unique_id=form.nonce.data, staff_user_id=g.user.id,
                      comment=form.description.data or default_text, maximum=maximum)
    except payments.PaymentError as exc:
        db.rollback()
        form.amount.errors = [*form.amount.errors, refusal(exc, maximum)]
        return None
    if posted.created and record is not None:
        record(posted, amount)
    db.commit()
    if posted.created:
        flash(str(_l("Posted %(amount)s to the balance.", amount=format_amount(posted.amount))),
              "success")
    return posted
