"""Wallet One ("Единая касса", w1.ru): the cabinet shows a signed form the subscriber
posts to Wallet One; Wallet One posts the result to ExpertBilling's URL
``/payments.w1ru/w1ru/postback/`` (set as the shop's result URL in Wallet One's cabinet:
the form does not carry it).

Written from Wallet One's "Technical documentation" for merchants
(walletone.com/merchant/documentation: "Payment form settings", "Payment form
protection", "Processing of the payment result notification"; ../shared/PAYMENTS.md):

* the form: ``WMI_MERCHANT_ID``, ``WMI_PAYMENT_AMOUNT`` (two decimals, a point),
  ``WMI_CURRENCY_ID`` (ISO 4217 number: 643 RUB, 980 UAH, 840 USD, 978 EUR),
  ``WMI_PAYMENT_NO`` (our order number), ``WMI_DESCRIPTION``, ``WMI_SUCCESS_URL``,
  ``WMI_FAIL_URL``, ``WMI_EXPIRED_DATE`` and the lists ``WMI_PTENABLED`` /
  ``WMI_PTDISABLED`` (one field per payment type);
* ``WMI_SIGNATURE`` = Base64 of the MD5 (or SHA1, the shop's choice in Wallet One's
  cabinet) digest of every other field's value, fields ordered by name ignoring case,
  a list's values sorted, concatenated, the shop's secret key appended, as
  windows-1251 bytes; the notification is signed the same way;
* the notification repeats the order's fields with ``WMI_ORDER_ID`` (Wallet One's
  number), ``WMI_ORDER_STATE`` (``Accepted``: paid), the dates; the shop answers
  ``WMI_RESULT=OK``, or ``WMI_RESULT=RETRY&WMI_DESCRIPTION=…`` and Wallet One repeats it
  later. So every refusal is a RETRY with its reason: there is no other word.

Settings (the guide's ``payments.w1ru`` block): ``MERCHANT_ID``, ``MERCHANT_PASSWORD``
(the secret key), ``DEFAULT_CURRENCY``, ``EXPIRE_DAYS``, ``PTENABLED``, ``PTDISABLED``,
``allowed_ip``; ours: ``SIGNATURE_METHOD`` (MD5, the default, or SHA1),
``GATEWAY_URL``, ``DESCRIPTION`` (with ``{contract}``).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import quote_plus

import psycopg

from billing import gateway_payments
from billing.gateways import frontend
from billing.gateways.base import (
    Answer,
    BackendConfig,
    GatewayConfigError,
    GatewayRefusal,
    Notification,
    PaymentForm,
    parse_amount,
    same_secret,
)

NAME = "payments.w1ru"
PATHS = ("/payments.w1ru/w1ru/postback/",)
METHODS = ("POST",)
SOURCE_ONLY = False  # the signature authenticates; allowed_ip adds to it

GATEWAY_URL = "https://wl.walletone.com/checkout/checkout/Index"
CURRENCIES = {"RUB": "643", "UAH": "980", "USD": "840", "EUR": "978"}
EXPIRE_DAYS = 31  # the guide's
_DIGESTS = {"MD5": hashlib.md5, "SHA1": hashlib.sha1}
_REASONS = {
    "bad_signature": "Bad signature", "bad_format": "Malformed notification",
    "forbidden": "Not accepted from this sender", "no_payment": "Unknown order",
    "bad_amount": "Bad amount or not the order's", "bad_currency":
    "Currency differs from the order", "cancelled": "Payment was cancelled by the ISP",
    "amount_too_large": "Amount above the maximum", "not_paid": "Order state is not Accepted",
}


def signature(fields: Iterable[tuple[str, str]], secret: str, method: str = "MD5") -> str:
    """WMI_SIGNATURE of ``fields`` (name, value pairs; a list field is its name given
    once per value), as the documentation's "Payment form protection" computes it."""
    values: dict[str, list[str]] = {}
    for name, value in fields:
        if name != "WMI_SIGNATURE":
            values.setdefault(name, []).append(value)
    message = "".join(value for name in sorted(values, key=str.lower)
                      for value in sorted(values[name], key=str.lower)) + secret
    try:
        digest = _digest(method)(message.encode("cp1251")).digest()
    except UnicodeEncodeError:
        raise GatewayRefusal("bad_signature", "a value has no windows-1251 form") from None
    return base64.b64encode(digest).decode("ascii")


def _digest(method: str):
    try:
        return _DIGESTS[str(method).upper()]
    except KeyError:
        raise GatewayConfigError(f"{NAME}: SIGNATURE_METHOD must be MD5 or SHA1, "
                                 f"got {method!r}") from None


def currency_id(config: BackendConfig) -> str:
    try:
        return CURRENCIES[config.currency]
    except KeyError:
        raise GatewayConfigError(f"{NAME}: DEFAULT_CURRENCY must be one of "
                                 f"{', '.join(CURRENCIES)}, got {config.currency!r}") from None


def form(conn: psycopg.Connection, account_id: int, amount: Decimal | str,
         config: BackendConfig, *, success_url: frontend.ReturnUrl,
         fail_url: frontend.ReturnUrl, server_url: str | None = None,
         now: datetime | None = None) -> PaymentForm:
    """The signed form for paying ``amount`` to the account, with its pending order.
    ``server_url`` is not sent: Wallet One posts to the result URL of the shop's
    settings in its cabinet."""
    secret = config.secret("MERCHANT_PASSWORD")
    method = config.get("SIGNATURE_METHOD", "MD5")
    _digest(method)
    currency = currency_id(config)
    order = frontend.open_order(conn, NAME, "w1-", account_id, amount, config)
    payment = order.payment
    expires = (now or datetime.now(UTC)) + timedelta(
        days=int(config.get("EXPIRE_DAYS") or EXPIRE_DAYS))
    fields = [
        ("WMI_MERCHANT_ID", config.secret("MERCHANT_ID")),
        ("WMI_PAYMENT_AMOUNT", f"{payment.amount:.2f}"),
        ("WMI_CURRENCY_ID", currency),
        ("WMI_PAYMENT_NO", payment.provider_txn_id),
        # the documented BASE64: prefix keeps any text intact whatever the encodings
        ("WMI_DESCRIPTION", "BASE64:" + base64.b64encode(order.description.encode()).decode()),
        ("WMI_SUCCESS_URL", frontend.return_url(success_url, payment)),
        ("WMI_FAIL_URL", frontend.return_url(fail_url, payment)),
        ("WMI_EXPIRED_DATE", expires.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")),
    ]
    for key in ("PTENABLED", "PTDISABLED"):
        fields += [(f"WMI_{key}", str(kind)) for kind in config.get(key) or ()]
    fields.append(("WMI_SIGNATURE", signature(fields, secret, method)))
    return PaymentForm(str(config.get("GATEWAY_URL") or GATEWAY_URL), tuple(fields),
                       payment.id)


def handle(conn: psycopg.Connection, note: Notification, config: BackendConfig) -> Answer:
    try:
        fields = _authentic_fields(note, config)
        if _one(fields, "WMI_MERCHANT_ID") != config.secret("MERCHANT_ID"):
            raise GatewayRefusal("forbidden", "signed for another merchant id")
        payment = frontend.order(conn, NAME, _one(fields, "WMI_PAYMENT_NO"))
        currency = {number: code for code, number in CURRENCIES.items()}.get(
            _one(fields, "WMI_CURRENCY_ID") or "", "?")
        frontend.check_invoice(payment, parse_amount(_one(fields, "WMI_PAYMENT_AMOUNT")),
                               currency)
        if (_one(fields, "WMI_ORDER_STATE") or "").lower() != "accepted":
            raise GatewayRefusal("not_paid", "WMI_ORDER_STATE is not Accepted")
        credited = frontend.credit(conn, payment, note, config)
    except (GatewayRefusal, gateway_payments.PaymentError) as exc:
        return refused(note, exc.code)
    return Answer("WMI_RESULT=OK", outcome="ok" if credited else "duplicate",
                  payment_id=payment.id)


def _authentic_fields(note: Notification, config: BackendConfig) -> dict[str, list[str]]:
    """The notification's fields as Wallet One signed them.

    The signature is over windows-1251 bytes; the form's own encoding is the shop's
    setting in Wallet One's cabinet (UTF-8 or windows-1251) and the request does not
    always say which. So the fields are read both ways (UTF-8 only when they are valid
    UTF-8) and the reading the signature matches is the one believed: an unsigned or
    wrongly signed request matches neither."""
    if "application/x-www-form-urlencoded" not in note.content_type:
        raise GatewayRefusal("bad_format", "not a form post")
    raw = {name: [value.encode("latin-1") for value in values]
           for name, values in note.args("latin-1").items()}
    given = raw.get("WMI_SIGNATURE")
    if not given or len(given) != 1:
        raise GatewayRefusal("bad_signature", "WMI_SIGNATURE missing or repeated")
    secret = config.secret("MERCHANT_PASSWORD")
    method = config.get("SIGNATURE_METHOD", "MD5")
    for reading in _readings(raw):
        pairs = [(name, value) for name, values in reading.items() for value in values]
        try:
            expected = signature(pairs, secret, method)
        except GatewayRefusal:
            continue
        if same_secret(given[0], expected.encode("ascii")):
            return reading
    raise GatewayRefusal("bad_signature", "WMI_SIGNATURE does not match")


def _readings(raw: Mapping[str, list[bytes]]):
    for encoding in ("utf-8", "cp1251"):
        try:
            yield {name: [value.decode(encoding) for value in values]
                   for name, values in raw.items()}
        except UnicodeDecodeError:
            continue


def _one(fields: Mapping[str, list[str]], name: str) -> str | None:
    values = fields.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise GatewayRefusal("bad_format", f"field {name} is given {len(values)} times")
    return values[0]


def _retry(description: str, outcome: str) -> Answer:
    return Answer(f"WMI_RESULT=RETRY&WMI_DESCRIPTION={quote_plus(description)}",
                  outcome=outcome)


def refused(note: Notification, reason: str) -> Answer:
    return _retry(_REASONS.get(reason, "Refused: " + reason), f"refused:{reason}")


def failed(note: Notification) -> Answer:
    return _retry("Temporary error, retry later", "error")
