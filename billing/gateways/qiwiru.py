"""QIWI terminals (the OSMP provider protocol): the terminal asks whether an account may
be paid (``check``), then says it took the money (``pay``).

Written from QIWI's "Протокол взаимодействия с провайдерами ОСМП" (the OSMP provider
protocol, HTTP GET variant; ../shared/PAYMENTS.md): ``?command=check&txn_id=1234567
&account=0957835959&sum=10.45`` and ``?command=pay&txn_id=1234567
&txn_date=20050815120133&account=0957835959&sum=10.45``, answered with an XML
``<response>`` carrying ``osmp_txn_id``, for ``pay`` our ``prv_txn`` and the ``sum``,
``result`` and ``comment``. Results: 0 ok, 1 temporary error (the terminal retries),
4 bad account format, 5 no such account, 7 payment forbidden, 241 sum too small,
242 sum too large, 300 any other error. QIWI authenticates by its source addresses
(``allowed_ip``); without an allow-list every request is refused.

A ``pay`` repeated (the terminal retries until it reads result 0) answers 0 with the
first ``prv_txn`` and credits nothing.
"""

from __future__ import annotations

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
    parse_amount,
    provider_time,
)

NAME = "payments.qiwiru"
PATHS = ("/payments.qiwiru/qiwiru/payment/",)
METHODS = ("GET", "POST")
SOURCE_ONLY = True

_TXN_ID = re.compile(r"\d{1,20}")
_ACCOUNT = re.compile(r"[0-9A-Za-z_\-./]{1,64}")
_RESULTS = {"no_account": 5, "bad_account": 4, "forbidden": 7, "bad_signature": 7,
            "amount_too_small": 241, "amount_too_large": 242}
_COMMENTS = {0: "OK", 1: "Temporary error, retry later", 4: "Bad account format",
             5: "Account not found", 7: "Payment forbidden", 241: "Sum too small",
             242: "Sum too large", 300: "Other error"}


def _xml(result: int, txn_id: str | None, *, prv_txn: int | None = None,
         amount=None) -> str:
    parts = ['<?xml version="1.0" encoding="UTF-8"?>', "<response>"]
    if txn_id is not None:
        parts.append(f"<osmp_txn_id>{escape(txn_id)}</osmp_txn_id>")
    if prv_txn is not None:
        parts.append(f"<prv_txn>{prv_txn}</prv_txn>")
    if amount is not None:
        parts.append(f"<sum>{amount}</sum>")
    parts += [f"<result>{result}</result>", f"<comment>{_COMMENTS[result]}</comment>",
              "</response>"]
    return "\n".join(parts) + "\n"


def _answer(result: int, note: Notification, outcome: str, **extra) -> Answer:
    txn_id = _safe_txn(note)
    return Answer(_xml(result, txn_id, **extra), content_type="text/xml; charset=utf-8",
                  outcome=outcome, payment_id=extra.get("prv_txn"))


def _safe_txn(note: Notification) -> str | None:
    """The terminal's txn_id echoed back only when it is one (never unchecked text)."""
    try:
        txn_id = note.arg("txn_id")
    except GatewayRefusal:
        return None
    return txn_id if txn_id and _TXN_ID.fullmatch(txn_id) else None


def handle(conn: psycopg.Connection, note: Notification, config: BackendConfig) -> Answer:
    try:
        command = note.arg("command")
        txn_id = note.arg("txn_id")
        if command not in ("check", "pay") or not txn_id or not _TXN_ID.fullmatch(txn_id):
            raise GatewayRefusal("bad_format", "command must be check or pay, with a "
                                 "numeric txn_id")
        contract = note.arg("account")
        if not contract or not _ACCOUNT.fullmatch(contract):
            raise GatewayRefusal("bad_account", f"bad account format: {contract!r:.70}")
        amount = parse_amount(note.arg("sum"))
        account = account_by_contract(conn, contract)
        check_amount(amount, config)
        if command == "check":
            return _answer(0, note, "ok")
        applied = gateway_payments.pay(
            conn, NAME, txn_id, account.id, amount, config.currency,
            provider_at=provider_time(note.arg("txn_date"), "%Y%m%d%H%M%S",
                                      config.time_zone, "txn_date"),
            notification_id=note.id, maximum=config.maximum,
            details={"account": contract})
    except (GatewayRefusal, gateway_payments.PaymentError) as exc:
        return refused(note, exc.code)
    return _answer(0, note, "ok" if applied.credited else "duplicate",
                   prv_txn=applied.payment.id, amount=applied.payment.amount)


def refused(note: Notification, reason: str) -> Answer:
    return _answer(_RESULTS.get(reason, 300), note, f"refused:{reason}")


def failed(note: Notification) -> Answer:
    return _answer(1, note, "error")
