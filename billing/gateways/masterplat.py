"""MasterPlat: a dealer's terminals ask for an account's balance (``uact=get_info``) and
report payments (``uact=payment``) by plain GET, signing in with the dealer's login and
password on every request.

No protocol document of MasterPlat's is published; this follows ../shared/PAYMENTS.md
(the behaviour ExpertBilling's operators configured): ``?uact=get_info&cid=<contract>``
→ ``status=0&summa=<balance>``; ``?uact=payment&cid=<contract>&sum=<amount>
&trans=<the dealer's transaction>&term=<terminal>`` → ``status=0`` once credited (also
for a repeat of the same transaction); ``status=-1`` no such account, ``status=-4`` a
wrong dealer login or password (the guide's ``DUSER`` / ``DPASS``, sent as ``duser`` /
``dpass``). The codes below -4 are ours, for what the document does not name: -2 a bad
sum, -3 a malformed request, -5 a transaction id already used for another payment, -90
a temporary error (HTTP 503, which terminals retry).
"""

from __future__ import annotations

import re

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

NAME = "payments.masterplat"
PATHS = ("/payments.masterplat/masterplat/payment/",)
METHODS = ("GET", "POST")
SOURCE_ONLY = False  # the dealer's login and password authenticate; allowed_ip adds to it

_STATUS = {"no_account": -1, "bad_amount": -2, "amount_too_small": -2,
           "amount_too_large": -2, "bad_format": -3, "bad_signature": -4, "forbidden": -4,
           "key_reused": -5}
_ID = re.compile(r"[0-9A-Za-z_\-.]{1,64}")


def handle(conn: psycopg.Connection, note: Notification, config: BackendConfig) -> Answer:
    try:
        # Both compared, whichever is wrong: the time taken says nothing about which.
        user_ok = same_secret(note.arg("duser"), config.secret("DUSER"))
        password_ok = same_secret(note.arg("dpass"), config.secret("DPASS"))
        if not (user_ok and password_ok):
            raise GatewayRefusal("bad_signature", "wrong dealer login or password")
        action = note.arg("uact")
        if action == "get_info":
            account = account_by_contract(conn, note.arg("cid"))
            return Answer(f"status=0&summa={account.balance}")
        if action != "payment":
            raise GatewayRefusal("bad_format", f"uact must be get_info or payment, "
                                 f"got {action!r:.30}")
        trans, term = note.arg("trans"), note.arg("term")
        if not trans or not _ID.fullmatch(trans):
            raise GatewayRefusal("bad_format", f"trans {trans!r:.70} is not an id")
        amount = parse_amount(note.arg("sum"))
        account = account_by_contract(conn, note.arg("cid"))
        check_amount(amount, config)
        applied = gateway_payments.pay(conn, NAME, trans, account.id, amount, config.currency,
                                       notification_id=note.id, maximum=config.maximum,
                                       details={"cid": account.contract,
                                                "term": (term or "")[:64]})
    except (GatewayRefusal, gateway_payments.PaymentError) as exc:
        return refused(note, exc.code)
    return Answer("status=0", outcome="ok" if applied.credited else "duplicate",
                  payment_id=applied.payment.id)


def refused(note: Notification, reason: str) -> Answer:
    return Answer(f"status={_STATUS.get(reason, -3)}", outcome=f"refused:{reason}")


def failed(note: Notification) -> Answer:
    return Answer("status=-90", status=503, outcome="error")
