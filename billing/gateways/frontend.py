"""What the "frontend" backends share (Wallet One, LiqPay): the cabinet opens an order
before the subscriber leaves for the provider's page, and the provider's notification
settles that order.

The order is a pending ``gateway_payments`` row whose provider id is OUR order number,
so a notification can only settle an amount we asked for, in the currency we asked
for, for the account that asked: the provider's word covers the money, ours covers
the rest. The number is a prefix and a random UUID (``w1-…``, ``lp-…``): unique without
a sequence, not guessable, and readable in the provider's cabinet as ours.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import psycopg

from billing import gateway_payments
from billing.gateway_payments import GatewayPayment
from billing.gateways.base import BackendConfig, GatewayRefusal, Notification, check_amount
from billing.money import to_money

DESCRIPTION = "Internet, contract {contract}"

# Where the provider sends the payer back: a URL, or one built for the order once it is
# open (the cabinet's return page names the order, whose number the form is signed with).
ReturnUrl = str | Callable[[GatewayPayment], str]


@dataclass(frozen=True)
class Order:
    payment: GatewayPayment
    description: str  # what the provider's page shows the payer: DESCRIPTION's text


def open_order(conn: psycopg.Connection, backend: str, prefix: str, account_id: int,
               amount: Decimal | str, config: BackendConfig,
               details: dict | None = None) -> Order:
    """The pending payment a form is signed for. The amount is checked as a provider's
    would be (a sum of money, above zero, within MIN_SUM/MAX_SUM): a form the provider
    or our callback would refuse must not be shown."""
    amount = to_money(amount)
    if amount <= 0:
        raise GatewayRefusal("bad_amount", f"a payment must be above zero, got {amount}")
    check_amount(amount, config)
    row = conn.execute("SELECT contract FROM accounts WHERE id = %s",
                       (account_id,)).fetchone()
    if row is None:
        raise GatewayRefusal("no_account", f"no account {account_id}")
    payment = gateway_payments.register(
        conn, backend, f"{prefix}{uuid.uuid4().hex}", account_id, amount, config.currency,
        details={"contract": row[0], **(details or {})})
    return Order(payment, str(config.get("DESCRIPTION") or DESCRIPTION).format(
        contract=row[0]))


def return_url(url: ReturnUrl, payment: GatewayPayment) -> str:
    return url(payment) if callable(url) else url


def order(conn: psycopg.Connection, backend: str, order_no: str | None) -> GatewayPayment:
    """The payment a notification names by our order number."""
    payment = gateway_payments.find(conn, backend, order_no) if order_no else None
    if payment is None:
        raise GatewayRefusal("no_payment", f"no {backend} order {order_no!r:.80}")
    return payment


def check_invoice(payment: GatewayPayment, amount: Decimal, currency: str) -> None:
    """The notification's sum and currency are the order's, to the kopeck."""
    if currency != payment.currency:
        raise GatewayRefusal("bad_currency", f"order {payment.provider_txn_id} is in "
                             f"{payment.currency}, the notification says {currency!r:.20}")
    if amount != payment.amount:
        raise GatewayRefusal("bad_amount", f"order {payment.provider_txn_id} is for "
                             f"{payment.amount}, the notification says {amount}")


def credit(conn: psycopg.Connection, payment: GatewayPayment, note: Notification,
           config: BackendConfig) -> bool:
    """The provider says the order is paid: credit it once; False when nothing was new.

    A payment cancelled because the provider reported a failed attempt is credited when
    a later attempt on the same order succeeds (LiqPay lets the subscriber try another
    card on the same order). One cancelled by a person, or reversed after it was paid,
    stays so: a replayed "paid" must not undo a refund or an operator's decision
    (``cancelled``), which a person can still undo in the admin."""
    with conn.transaction():
        state = _locked_state(conn, payment.id)
        if state == "paid":
            return False
        if state == "cancelled" and not _provider_failed(conn, payment.id):
            raise GatewayRefusal("cancelled", f"payment {payment.id} was cancelled; only "
                                 "a person restores it")
        gateway_payments.change_state(conn, payment.id, "paid", notification_id=note.id,
                                      maximum=config.maximum)
        return True


def cancel(conn: psycopg.Connection, payment: GatewayPayment, note: Notification, *,
           reversal: bool, reason: str) -> bool:
    """The provider says the attempt failed (``reversal`` False: only a pending payment
    is closed, a late failure never undoes a success) or the money went back
    (``reversal`` True: a paid payment's credit is reversed). False when nothing moved."""
    with conn.transaction():
        state = _locked_state(conn, payment.id)
        if state == "cancelled" or (state == "paid" and not reversal):
            return False
        gateway_payments.change_state(conn, payment.id, "cancelled",
                                      notification_id=note.id, reason=reason)
        return True


def _locked_state(conn: psycopg.Connection, payment_id: int) -> str:
    return conn.execute("SELECT state FROM gateway_payments WHERE id = %s FOR UPDATE",
                        (payment_id,)).fetchone()[0]


def _provider_failed(conn: psycopg.Connection, payment_id: int) -> bool:
    """The last change closed a pending payment on a provider's notification."""
    row = conn.execute(
        "SELECT from_state, staff_user_id, notification_id FROM gateway_payment_changes"
        " WHERE payment_id = %s ORDER BY change_no DESC LIMIT 1", (payment_id,)).fetchone()
    return (row is not None and row[0] == "pending" and row[1] is None
            and row[2] is not None)
