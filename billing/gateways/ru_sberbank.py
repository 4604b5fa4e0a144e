"""Sberbank Online (the XML protocol): the bank asks whether an account may be paid
(``act=1``: we answer the payer's masked name and the balance) and then says it took the
money (``act=2``, the sum in kopecks, the bank's ``pay_id``: we credit once and answer
our ``reg_id``).

Sberbank's document ("Сбербанк Онлайн", XML exchange with a service provider) is
handed to providers, not published; the layout here is the one the public provider
implementation bc.payment.sberbank (Request/Response/MarshallerSberbank) reads, whose
test vector our tests replay: the bank POSTs the form field ``params`` holding::

    <?xml version="1.0" encoding="UTF-8"?><request><params>
       <act>1</act> <agent_code>…</agent_code> <agent_date>2015-12-21T19:33:54</agent_date>
       <serv_code>…</serv_code> <account>…</account> <pay_amount>kopecks</pay_amount>
       <pay_id>…</pay_id>
    </params><sign>md5</sign></request>

where ``sign`` is the hex MD5 of the exact text between ``<params>`` and ``</params>``
followed by the shared password (the guide's ``PASSWORD``); the answer is a
``<response><params>…</params><sign>…</sign></response>`` signed the same way, with
``err_code`` (0 ok, 1 already paid, 10 bad IP, 11 missing parameters, 12 bad format,
13 bad signature, 20 no such account, 21–23 payment forbidden, 30 the number already
used for another payment, 90 temporary error, 99 other), ``err_text``, ``account`` and
``client_name`` + ``balance`` (act=1) or ``reg_id`` (act=2). A raw XML body (no form) is
read the same way.
"""

from __future__ import annotations

import hashlib
import re
from xml.sax.saxutils import escape

import psycopg

from billing import gateway_payments
from billing.gateways.base import (
    Answer,
    BackendConfig,
    GatewayRefusal,
    Notification,
    account_by_contract,
    check_amount,
    parse_kopecks,
    provider_time,
    same_secret,
)
from billing.gateways.payer_name import masked_name
from billing.gateways.xml_fields import child_text, root

NAME = "payments.ru_sberbank"
PATHS = ("/payments.ru_sberbank/ru_sberbank/payment/",)
METHODS = ("POST",)
SOURCE_ONLY = False  # every request is signed with the shared password

_CODES = {"duplicate": 1, "forbidden": 10, "missing": 11, "bad_format": 12,
          "bad_amount": 12, "bad_signature": 13, "no_account": 20, "amount_too_small": 22,
          "amount_too_large": 23, "key_reused": 30, "temporary": 90, "other": 99}
_TEXTS = {0: "OK", 1: "Платёж уже проведён", 10: "Запрос с недопустимого адреса",
          11: "Не хватает параметров", 12: "Неверный формат запроса",
          13: "Неверная подпись", 20: "Абонент не найден", 22: "Сумма меньше допустимой",
          23: "Сумма больше допустимой",
          30: "Номер платежа уже использован для другого платежа",
          90: "Временная ошибка, повторите позже", 99: "Ошибка"}
_PAY_ID = re.compile(r"\d{1,20}")
_BEGIN, _END = "<params>", "</params>"


def handle(conn: psycopg.Connection, note: Notification, config: BackendConfig) -> Answer:
    password = config.secret("PASSWORD")
    account_field = None
    try:
        text = _request_text(note)
        request = root(text.encode(), "request")
        params = _signed_params(text, request, password)
        account_field = child_text(params, "account")
        act = child_text(params, "act")
        if act == "1":
            return _check(conn, params, account_field, config, password)
        if act == "2":
            return _pay(conn, note, params, account_field, config, password)
        raise GatewayRefusal("missing" if act is None else "bad_format",
                             f"act must be 1 or 2, got {act!r:.20}")
    except (GatewayRefusal, gateway_payments.PaymentError) as exc:
        return _answer(_CODES.get(exc.code, 99), [], password, f"refused:{exc.code}",
                       account=account_field)


def _request_text(note: Notification) -> str:
    form = note.arg("params")
    if form is not None:
        return form
    try:
        return note.body.decode("utf-8")
    except UnicodeDecodeError:
        raise GatewayRefusal("bad_format", "the request is not UTF-8") from None


def _signed_params(text: str, request, password: str):
    """The ``params`` element, once its signature is checked: the MD5 of the text
    exactly as sent between <params> and </params>, then the password."""
    if text.count(_BEGIN) != 1 or text.count(_END) != 1 or len(request.findall("params")) != 1:
        raise GatewayRefusal("bad_format", "a request holds one <params> element")
    sign = child_text(request, "sign")
    if not sign:
        raise GatewayRefusal("bad_signature", "the request is not signed")
    signed = text[text.index(_BEGIN) + len(_BEGIN):text.index(_END)]
    if not same_secret(sign.lower(), _md5(signed, password)):
        raise GatewayRefusal("bad_signature", "the signature does not match")
    return request.find("params")


def _check(conn, params, contract, config: BackendConfig, password: str) -> Answer:
    if not contract:
        raise GatewayRefusal("missing", "account is missing")
    account = account_by_contract(conn, contract)
    kopecks = child_text(params, "pay_amount")
    if kopecks:  # the bank may ask about a sum before the payer commits to it
        check_amount(parse_kopecks(kopecks), config)
    return _answer(0, [("client_name", masked_name(account.full_name)),
                       ("balance", str(account.balance))], password, "ok",
                   account=account.contract)


def _pay(conn, note: Notification, params, contract, config: BackendConfig,
         password: str) -> Answer:
    kopecks, pay_id = child_text(params, "pay_amount"), child_text(params, "pay_id")
    if not contract or not kopecks or not pay_id:
        raise GatewayRefusal("missing", "act=2 needs account, pay_amount and pay_id")
    if not _PAY_ID.fullmatch(pay_id):
        raise GatewayRefusal("bad_format", f"pay_id {pay_id!r:.30} is not a number")
    amount = parse_kopecks(kopecks)
    account = account_by_contract(conn, contract)
    check_amount(amount, config)
    applied = gateway_payments.pay(
        conn, NAME, pay_id, account.id, amount, config.currency,
        provider_at=provider_time(child_text(params, "agent_date"), "%Y-%m-%dT%H:%M:%S",
                                  config.time_zone, "agent_date"),
        notification_id=note.id, maximum=config.maximum,
        details={"account": account.contract,
                 "agent_code": child_text(params, "agent_code"),
                 "serv_code": child_text(params, "serv_code")})
    return _answer(0 if applied.credited else 1, [("reg_id", str(applied.payment.id))],
                   password, "ok" if applied.credited else "duplicate",
                   account=account.contract, payment_id=applied.payment.id)


def _md5(params_text: str, password: str) -> str:
    """The protocol's signature; MD5 is the bank's choice, not ours."""
    return hashlib.md5((params_text + password).encode()).hexdigest()  # noqa: S324


def _answer(code: int, fields: list[tuple[str, str]], password: str | None, outcome: str,
            *, account: str | None = None, payment_id: int | None = None) -> Answer:
    """The answer, signed like a request. Without the password (a request refused
    before the settings were read) the sign is left empty."""
    parts = [f"<err_code>{code}</err_code>", f"<err_text>{_TEXTS[code]}</err_text>"]
    if account:
        parts.append(f"<account>{escape(account[:64])}</account>")
    parts += [f"<{name}>{escape(value)}</{name}>" for name, value in fields]
    inner = "".join(parts)
    sign = _md5(inner, password) if password else ""
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<response>{_BEGIN}{inner}{_END}'
            f"<sign>{sign}</sign></response>\n")
    return Answer(body, content_type="text/xml; charset=utf-8", outcome=outcome,
                  payment_id=payment_id)


def refused(note: Notification, reason: str) -> Answer:
    return _answer(_CODES.get(reason, 99), [], None, f"refused:{reason}")


def failed(note: Notification) -> Answer:
    return _answer(90, [], None, "error")
