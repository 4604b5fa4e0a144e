"""LiqPay, API v3: the cabinet shows a form with ``data`` and ``signature`` that the
subscriber posts to LiqPay's checkout; LiqPay posts the payment's status, signed the
same way, to the ``server_url`` the form carried.

Written from LiqPay's documentation (../shared/PAYMENTS.md): "Rules for the formation of
a request for payment" (liqpay.ua/documentation/en/data_signature: ``data`` =
base64_encode(json_string), ``signature`` = base64_encode(sha1(private_key + data +
private_key)), with its example for public_key i00000000), "Checkout"
(https://www.liqpay.ua/api/3/checkout; version, public_key, action ``pay``, amount,
currency, description, order_id, result_url, server_url, paytypes, expired_date,
language, sandbox) and "Callback" (liqpay.ua/documentation/en/api/callback: a POST of
``data`` and ``signature``; ``status`` success, failure, error, reversed, sandbox, and
the non-final ones such as wait_accept or processing).

The callback URL is ours to choose: it travels in every form's ``server_url``, so no
setting at LiqPay points to a path. The guide names none for LiqPay, so it is
``/payments.liqpay/liqpay/postback/``, in the shape of the Wallet One URL the guide does
name.

Statuses: ``success`` credits the order; ``sandbox`` (a test payment: no money moved)
credits only when the ``SANDBOX`` setting says the shop is being tested, else anyone
who finds the shop in LiqPay's test mode pays with test cards; ``failure`` and
``error`` close a pending order (a later success on the same order still credits);
``reversed`` (the money went back to the payer) cancels a paid order, which posts the
credit's reversal. Others change nothing. The answer is HTTP 200; a refused callback
gets 400 (403 when the sender is not let in) and LiqPay's callback log shows it.

Settings (the guide's ``payments.liqpay`` block): ``MERCHANT_ID`` (the public_key),
``MERCHANT_SIGNATURE`` (the private_key), ``DEFAULT_CURRENCY``, ``PAY_WAY`` (sent as
``paytypes``), ``EXPIRE_TIME`` (hours the order may be paid in); ours: ``SANDBOX``,
``LANGUAGE``, ``GATEWAY_URL``, ``DESCRIPTION`` (with ``{contract}``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg

from billing import gateway_payments
from billing.gateways import frontend
from billing.gateways.base import (
    Answer,
    BackendConfig,
    GatewayRefusal,
    Notification,
    PaymentForm,
    parse_amount,
    positive_amount,
    same_secret,
)

NAME = "payments.liqpay"
PATHS = ("/payments.liqpay/liqpay/postback/",)
METHODS = ("POST",)
SOURCE_ONLY = False  # the signature authenticates; allowed_ip adds to it

GATEWAY_URL = "https://www.liqpay.ua/api/3/checkout"
# v3's paytypes; the guide's "delayed" (v1's pay-later at a terminal) has no v3 name
PAYTYPES = ("apay", "gpay", "card", "liqpay", "privat24", "masterpass", "moment_part",
            "paypart", "cash", "invoice", "qr")
_PAID, _FAILED, _REVERSED = {"success", "sandbox"}, {"failure", "error"}, {"reversed"}


def signature(data: str, private_key: str) -> str:
    """base64_encode(sha1(private_key + data + private_key)), the documented rule."""
    # SHA1 is LiqPay's choice, not ours: the keyed digest is what the protocol signs with
    digest = hashlib.sha1((private_key + data + private_key).encode()).digest()  # noqa: S324
    return base64.b64encode(digest).decode("ascii")


def encode(params: dict) -> str:
    return base64.b64encode(json.dumps(params, separators=(",", ":")).encode()).decode()


def form(conn: psycopg.Connection, account_id: int, amount: Decimal | str,
         config: BackendConfig, *, success_url: frontend.ReturnUrl, server_url: str,
         fail_url: frontend.ReturnUrl | None = None,
         now: datetime | None = None) -> PaymentForm:
    """The signed checkout form for paying ``amount`` to the account, with its pending
    order. LiqPay returns the payer to one ``result_url`` whatever the outcome: the
    success URL; ``fail_url`` has no place in the protocol."""
    private_key = config.secret("MERCHANT_SIGNATURE")
    order = frontend.open_order(conn, NAME, "lp-", account_id, amount, config)
    payment = order.payment
    params = {
        "version": 3,
        "public_key": config.secret("MERCHANT_ID"),
        "action": "pay",
        "amount": f"{payment.amount:.2f}",
        "currency": payment.currency,
        "description": order.description,
        "order_id": payment.provider_txn_id,
        "result_url": frontend.return_url(success_url, payment),
        "server_url": server_url,
        "language": str(config.get("LANGUAGE", "ru")),
    }
    paytypes = [way for way in config.get("PAY_WAY") or () if way in PAYTYPES]
    if paytypes:
        params["paytypes"] = ",".join(paytypes)
    if config.get("EXPIRE_TIME"):
        expires = (now or datetime.now(UTC)) + timedelta(hours=int(config.get("EXPIRE_TIME")))
        params["expired_date"] = expires.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    if config.get("SANDBOX"):
        params["sandbox"] = "1"
    data = encode(params)
    return PaymentForm(str(config.get("GATEWAY_URL") or GATEWAY_URL),
                       (("data", data), ("signature", signature(data, private_key))),
                       payment.id)


def handle(conn: psycopg.Connection, note: Notification, config: BackendConfig) -> Answer:
    try:
        params = _authentic_params(note, config)
        if params.get("public_key") != config.secret("MERCHANT_ID"):
            raise GatewayRefusal("forbidden", "signed for another public_key")
        status = params.get("status")
        order_id = params.get("order_id")
        payment = frontend.order(conn, NAME, order_id if isinstance(order_id, str) else None)
        frontend.check_invoice(payment, _amount(params.get("amount")),
                               str(params.get("currency")))
        if status == "sandbox" and not config.get("SANDBOX"):
            raise GatewayRefusal("sandbox", "a sandbox payment moved no money")
        if status in _PAID:
            moved = frontend.credit(conn, payment, note, config)
        elif status in _FAILED | _REVERSED:
            moved = frontend.cancel(conn, payment, note, reversal=status in _REVERSED,
                                    reason=f"LiqPay: {status}")
        else:
            moved = True  # a status on the way, nothing to apply yet
    except (GatewayRefusal, gateway_payments.PaymentError) as exc:
        return refused(note, exc.code)
    return Answer("OK", outcome="ok" if moved else "duplicate", payment_id=payment.id)


def _authentic_params(note: Notification, config: BackendConfig) -> dict:
    data, given = note.arg("data"), note.arg("signature")
    if not data or not given:
        raise GatewayRefusal("bad_signature", "data or signature is missing")
    if not same_secret(given, signature(data, config.secret("MERCHANT_SIGNATURE"))):
        raise GatewayRefusal("bad_signature", "the signature does not match")
    try:
        params = json.loads(base64.b64decode(data, validate=True), parse_float=Decimal)
    except (binascii.Error, ValueError, RecursionError):
        raise GatewayRefusal("bad_format", "data is not base64 of JSON") from None
    if not isinstance(params, dict):
        raise GatewayRefusal("bad_format", "data is not a JSON object")
    return params


def _amount(value) -> Decimal:
    """LiqPay writes amounts as JSON numbers (3, 7.34, 1.0), read exactly; text is
    taken too."""
    if isinstance(value, str):
        return parse_amount(value)
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise GatewayRefusal("bad_amount", f"amount is not a number: {value!r:.40}")
    return positive_amount(value)


def refused(note: Notification, reason: str) -> Answer:
    return Answer(f"refused: {reason}", status=403 if reason == "forbidden" else 400,
                  outcome=f"refused:{reason}")


def failed(note: Notification) -> Answer:
    return Answer("temporary error", status=503, outcome="error")
