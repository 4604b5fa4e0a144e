"""Asking before a large sum is posted at the cashier's desk.

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

from decimal import Decimal

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

_SALT = "ebs.cashier.confirm-amount"


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
