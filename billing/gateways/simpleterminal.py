"""SimpleTerminal: a terminal network's plain GET with the contract, the sum and its own
transaction id, answered by one number in plain text.

The protocol is ExpertBilling 1.5's own (its guide, "Платёжная система SimpleTerminal";
../shared/PAYMENTS.md): ``GET /payments.simpleterminal/simpleterminal/payment/?sum=100
&uid=<contract>&trans=<provider id>&secret=<SECRET>``; answers ``0`` paid (also for a
repeat of a paid transaction), ``-1`` no such account, ``-5`` a bad sum, ``-100`` a wrong
secret (also a wrong source address or a disabled backend: the caller is not trusted).
"""

from __future__ import annotations

import psycopg

from billing import gateway_payments
from billing.gateways.base import (
    Answer,
    BackendConfig,
    GatewayRefusal,
    Notification,
    account_by_contract,
    check_amount,
    parse_amount,
    same_secret,
)

NAME = "payments.simpleterminal"
PATHS = ("/payments.simpleterminal/simpleterminal/payment/",)
METHODS = ("GET", "POST")
SOURCE_ONLY = False  # the shared secret authenticates; allowed_ip adds to it

_CODES = {"no_account": "-1", "bad_amount": "-5", "amount_too_small": "-5",
          "amount_too_large": "-5", "bad_signature": "-100", "forbidden": "-100"}


def _answer(code: str, outcome: str, payment_id: int | None = None) -> Answer:
    return Answer(code, outcome=outcome, payment_id=payment_id)


def handle(conn: psycopg.Connection, note: Notification, config: BackendConfig) -> Answer:
    try:
        if not same_secret(note.arg("secret"), config.secret("SECRET")):
            raise GatewayRefusal("bad_signature", "the secret does not match")
        trans = note.arg("trans")
        if not trans or len(trans) > 64:
            raise GatewayRefusal("bad_format", "trans (the provider's id) is missing")
        amount = parse_amount(note.arg("sum"))
        account = account_by_contract(conn, note.arg("uid"))
        check_amount(amount, config)
        applied = gateway_payments.pay(conn, NAME, trans, account.id, amount, config.currency,
                                       notification_id=note.id, maximum=config.maximum,
                                       details={"uid": account.contract})
    except GatewayRefusal as exc:
        return refused(note, exc.code)
    except gateway_payments.PaymentError as exc:
        return refused(note, exc.code)
    return _answer("0", "ok" if applied.credited else "duplicate", applied.payment.id)


def refused(note: Notification, reason: str) -> Answer:
    return _answer(_CODES.get(reason, "-5" if "amount" in reason else "-100"),
                   f"refused:{reason}")


def failed(note: Notification) -> Answer:
    """No code for "try later" in this protocol: an HTTP error, which terminals retry."""
    return Answer("-90", status=503, outcome="error")
