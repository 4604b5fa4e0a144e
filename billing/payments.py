"""Money coming in, and taking it back: the one door every payment walks through.

The cashier's desk, the REST API, the demo data and (later) the payment gateways, express
cards and bank-statement import all credit a balance with :func:`post_payment` and cancel a
posting with :func:`reverse_entry`. Each payment is identified by where it came from
(``source``: ``cashier``, ``api``, a gateway's name) and that source's own unique id for it
(a provider's transaction id, a form's nonce, an API client's idempotency key), so a retry,
a double click or a duplicate notification finds the first payment instead of crediting
again, and the same id reused for another account or amount is refused, not absorbed.

No posting carries more than the configured maximum (``PAYMENT_MAX_AMOUNT``; a correction
by its absolute value): ninety-nine billion typed into a form is a slip of the hand, and
the rule lives here so that every door refuses it alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import psycopg

from billing import ledger
from billing import settings as settings_mod
from billing.errors import Refused
from billing.money import MoneyError, to_money


class PaymentError(Refused):
    """A posting that is refused; ``code`` is what the caller acts on:

    ``bad_amount`` (not a positive sum with at most two decimals),
    ``amount_above_maximum`` (more than the maximum of one posting), ``no_account``,
    ``key_reused`` (the source's id was used for another account or amount),
    ``no_entry`` (nothing to reverse), ``is_reversal`` (a reversal is not reversed: post
    a new entry instead).
    """


@dataclass(frozen=True, slots=True)
class Payment:
    """The entry a call stands for, whether this call wrote it (``created``) or an earlier
    one with the same key did."""

    id: int
    account_id: int
    amount: Decimal
    idempotency_key: str
    created: bool


def payment_key(source: str, unique_id: str, kind: str = "payment") -> str:
    """The ledger key of a payment (or correction) from ``source`` with the source's id."""
    if not source or not unique_id:
        raise PaymentError("bad_key", "a payment needs its source and the source's unique id")
    return f"{source}:{kind}:{unique_id}"


def maximum_amount(settings: SimpleNamespace | None = None) -> Decimal:
    """The largest sum one posting may carry: ``PAYMENT_MAX_AMOUNT`` of ``settings``
    (the loaded settings when None), a Decimal once loaded."""
    return (settings or settings_mod.load()).PAYMENT_MAX_AMOUNT


def check_maximum(amount: Decimal, maximum: Decimal) -> None:
    """Refuse a posting above ``maximum`` (by absolute value, so a correction taking
    money off is bounded too). Adapters that ask before posting (the cashier's
    confirmation) call it first, so an amount never confirmed is then refused."""
    if amount.copy_abs() > maximum:
        raise PaymentError("amount_above_maximum",
                           f"the amount {amount} is above the maximum of one payment, "
                           f"{maximum}")


def post_payment(
    conn: psycopg.Connection,
    account_id: int,
    amount: Decimal | int | str,
    *,
    source: str,
    unique_id: str,
    staff_user_id: int | None = None,
    comment: str = "",
    at: datetime | None = None,
    maximum: Decimal | None = None,
) -> Payment:
    """Credit ``amount`` (> 0, exact to the kopeck, at most ``maximum``: the configured
    ``PAYMENT_MAX_AMOUNT`` when None) to the account, once per (source, id).

    Runs inside the caller's transaction when there is one, so whatever the payment
    unlocks (an audit row, a lifted block) commits with it.
    """
    money = _amount(amount)
    if money <= 0:
        raise PaymentError("bad_amount", f"a payment must be greater than zero, got {money}")
    _check_new(conn, payment_key(source, unique_id, "payment"), money, maximum)
    return _post(conn, account_id, money, "payment", source, unique_id, staff_user_id,
                 comment, at)


def post_correction(
    conn: psycopg.Connection,
    account_id: int,
    amount: Decimal | int | str,
    *,
    source: str,
    unique_id: str,
    staff_user_id: int | None,
    comment: str,
    at: datetime | None = None,
    maximum: Decimal | None = None,
) -> Payment:
    """A manual correction by staff: adds (> 0) or takes off (< 0) ``amount``, with the
    reason as ``comment``; idempotent like a payment, and bounded like one by its
    absolute value (a slip of the hand costs as much either way)."""
    money = _amount(amount)
    if money == 0:
        raise PaymentError("bad_amount", "a correction moves money: 0 is not one")
    _check_new(conn, payment_key(source, unique_id, "correction"), money, maximum)
    return _post(conn, account_id, money, "correction", source, unique_id, staff_user_id,
                 comment, at)


def reverse_entry(
    conn: psycopg.Connection,
    entry_id: int,
    *,
    staff_user_id: int | None = None,
    reason: str = "",
    at: datetime | None = None,
) -> Payment:
    """Cancel a posted entry (a payment, a correction, a charge made in error) with a new,
    opposite one. Reversing twice returns the first reversal; a reversal itself cannot be
    reversed."""
    try:
        posted = ledger.reverse(conn, entry_id, effective_at=_moment(at),
                                staff_user_id=staff_user_id, reason=reason)
    except ledger.LedgerError as exc:
        code = "is_reversal" if "is a reversal" in str(exc) else "no_entry"
        raise PaymentError(code, str(exc)) from None
    return Payment(posted.id, posted.account_id, posted.amount, f"reversal:{entry_id}",
                   posted.created)


def _amount(amount: Decimal | int | str) -> Decimal:
    try:
        return to_money(amount)
    except MoneyError as exc:
        raise PaymentError("bad_amount", str(exc)) from None


def _moment(at: datetime | None) -> datetime:
    if at is None:
        return datetime.now(UTC)
    if at.tzinfo is None:
        raise ValueError("at must be timezone-aware")
    return at


def _check_new(conn: psycopg.Connection, key: str, amount: Decimal,
               maximum: Decimal | None) -> None:
    """The maximum binds new postings only: a retry of one posted before the maximum was
    lowered finds its first entry (ledger.post), as every retry does."""
    limit = maximum_amount() if maximum is None else maximum
    if amount.copy_abs() <= limit:
        return
    if conn.execute("SELECT 1 FROM ledger_entries WHERE idempotency_key = %s",
                    (key,)).fetchone():
        return
    check_maximum(amount, limit)


def _post(conn: psycopg.Connection, account_id: int, amount: Decimal, kind: str, source: str,
          unique_id: str, staff_user_id: int | None, comment: str,
          at: datetime | None) -> Payment:
    key = payment_key(source, unique_id, kind)
    details: dict[str, Any] = {"source": source}
    entry = ledger.Entry(account_id=account_id, kind=kind, amount=amount, idempotency_key=key,
                         effective_at=_moment(at), staff_user_id=staff_user_id,
                         description=comment, details=details)
    try:
        posted = ledger.post(conn, entry)
    except ledger.LedgerError as exc:  # the key stands for another account or amount
        raise PaymentError("key_reused", str(exc)) from None
    except psycopg.errors.ForeignKeyViolation as exc:
        if exc.diag.constraint_name and "account" not in exc.diag.constraint_name:
            raise  # another reference (the operator), not the account
        raise PaymentError("no_account", f"account {account_id} does not exist") from None
    return Payment(posted.id, posted.account_id, posted.amount, key, posted.created)
