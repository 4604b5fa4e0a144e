"""Wallet One at ExpertBilling's URL: the cabinet's signed form opens a pending order,
Wallet One's notification of it (a form post built here byte for byte, windows-1251 or
UTF-8) credits it once; forged, unsigned, malformed or mismatching notifications are
answered RETRY with their reason, credit nothing and stay stored."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import urlencode

import pytest

from billing import gateway_payments, ledger
from billing.errors import Refused
from billing.gateways import w1ru
from billing.gateways.base import GatewayRefusal, backend_config
from tests.integration.ledger_helpers import make_account
from tests.web.gateway_helpers import STRANGER_IP, call, credited, notifications

URL = "/payments.w1ru/w1ru/postback/"
MERCHANT_ID = "163789612661"  # the guide's
PASSWORD = "MFVSdmZNajdBRXdcWmE3Z191cjBLWFJsZjhb"
NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
OK = b"WMI_RESULT=OK"


def _config(app):
    return backend_config(w1ru.NAME, app.config["EBS_SETTINGS"])


def _settings(app) -> dict:
    return app.config["EBS_SETTINGS"].GETPAID_BACKENDS_SETTINGS[w1ru.NAME]


def _order(app, conn, contract: str = "5001", amount: str = "150"):
    account = make_account(conn, contract)
    form = w1ru.form(conn, account, Decimal(amount), _config(app),
                     success_url="https://isp.example/pay/ok",
                     fail_url="https://isp.example/pay/fail", now=NOW)
    return account, form


def _notification(form, *, state: str = "Accepted", secret: str = PASSWORD,
                  method: str = "MD5", changes: dict | None = None, extra=()) -> list:
    """What Wallet One posts back for the form's order: the order's fields, its own
    number, dates and state, signed with the shop's secret."""
    fields = [(name, value) for name, value in form.fields if name != "WMI_SIGNATURE"]
    fields += [("WMI_TO_USER_ID", "103838393920"), ("WMI_ORDER_ID", "337428219466"),
               ("WMI_COMMISSION_AMOUNT", "0.00"), ("WMI_CREATE_DATE", "2026-03-01 09:31:02"),
               ("WMI_UPDATE_DATE", "2026-03-01 09:32:40"), ("WMI_ORDER_STATE", state),
               *extra]
    fields = [(name, (changes or {}).get(name, value)) for name, value in fields]
    return [*fields, ("WMI_SIGNATURE", w1ru.signature(fields, secret, method))]


def _post(app, fields, encoding: str = "windows-1251", source: str = "93.183.196.28"):
    return call(app, URL, source=source, method="POST",
                data=urlencode(fields, encoding=encoding).encode("ascii"),
                content_type="application/x-www-form-urlencoded")


def _value(form, name: str) -> str:
    return dict(form.fields)[name]


def test_the_signature_rule_reproduces_a_published_example():
    """The wallet_one package's README (PyPI, wallet_one 0.11): merchant 195751850197,
    its secret and form, signed b1VngBA5Y3aiWlPLPEdG9w==."""
    fields = [("WMI_MERCHANT_ID", "195751850197"), ("WMI_PAYMENT_AMOUNT", "1000.0"),
              ("WMI_CURRENCY_ID", "643"), ("WMI_DESCRIPTION", "Your payment description"),
              ("WMI_SUCCESS_URL", "https://your.url/success"),
              ("WMI_FAIL_URL", "https://your.url/fail")]
    secret = "4436657a5c785f354b76314a6c4a666e6832695e58356a5c475c60"
    assert w1ru.signature(fields, secret) == "b1VngBA5Y3aiWlPLPEdG9w=="
    # names ordered ignoring case, a list's values sorted, the signature field left out
    shuffled = [*reversed(fields), ("WMI_SIGNATURE", "x")]
    assert w1ru.signature(shuffled, secret) == "b1VngBA5Y3aiWlPLPEdG9w=="
    listed = [("WMI_PTENABLED", "WebMoneyRUB"), ("wmi_a", "1"), ("WMI_PTENABLED", "CardRUB")]
    assert w1ru.signature(listed, "k") == w1ru.signature(
        [("wmi_a", "1"), ("WMI_PTENABLED", "CardRUB"), ("WMI_PTENABLED", "WebMoneyRUB")], "k")
    # the bytes signed are windows-1251: "ё" is one byte, 0xB8
    import base64
    import hashlib
    assert w1ru.signature([("WMI_DESCRIPTION", "ёж")], "k") == base64.b64encode(
        hashlib.md5(b"\xb8\xe6k").digest()).decode()
    with pytest.raises(GatewayRefusal):
        w1ru.signature([("WMI_DESCRIPTION", "€ and 😀")], "k")  # no windows-1251 form


def test_the_form_opens_a_pending_order_and_is_signed(gateway_app, conn):
    _settings(gateway_app)["PTENABLED"] = ["YandexMoneyRUB", "CardRUB"]
    account, form = _order(gateway_app, conn)
    assert form.action_url == "https://wl.walletone.com/checkout/checkout/Index"
    names = [name for name, _ in form.fields]
    assert names == ["WMI_MERCHANT_ID", "WMI_PAYMENT_AMOUNT", "WMI_CURRENCY_ID",
                     "WMI_PAYMENT_NO", "WMI_DESCRIPTION", "WMI_SUCCESS_URL", "WMI_FAIL_URL",
                     "WMI_EXPIRED_DATE", "WMI_PTENABLED", "WMI_PTENABLED", "WMI_SIGNATURE"]
    assert _value(form, "WMI_MERCHANT_ID") == MERCHANT_ID
    assert _value(form, "WMI_PAYMENT_AMOUNT") == "150.00"
    assert _value(form, "WMI_CURRENCY_ID") == "643"
    assert _value(form, "WMI_EXPIRED_DATE") == "2026-04-01T09:30:00"  # EXPIRE_DAYS 31
    assert _value(form, "WMI_DESCRIPTION") == "BASE64:SW50ZXJuZXQsIGNvbnRyYWN0IDUwMDE="
    assert _value(form, "WMI_SIGNATURE") == w1ru.signature(form.fields, PASSWORD)
    payment = gateway_payments.get(conn, form.payment_id)
    assert payment.provider_txn_id == _value(form, "WMI_PAYMENT_NO")
    assert payment.provider_txn_id.startswith("w1-") and len(payment.provider_txn_id) == 35
    assert (payment.account_id, payment.amount, payment.currency, payment.state) == (
        account, Decimal("150.00"), "RUB", "pending")
    assert credited(conn, account) == 0


def test_a_form_is_refused_for_a_bad_sum_or_account(gateway_app, conn):
    account = make_account(conn, "5001")
    for amount, code in [("0", "bad_amount"), ("-1", "bad_amount"),
                         ("1.001", "too_many_decimals"), ("100001", "amount_too_large")]:
        with pytest.raises(Refused) as refused:
            w1ru.form(conn, account, amount, _config(gateway_app), success_url="s",
                      fail_url="f")
        assert refused.value.code == code
    with pytest.raises(GatewayRefusal, match="no account"):
        w1ru.form(conn, account + 1000, "10", _config(gateway_app), success_url="s",
                  fail_url="f")
    assert conn.execute("SELECT count(*) FROM gateway_payments").fetchone()[0] == 0


def test_the_notification_credits_the_order_once(gateway_app, conn):
    account, form = _order(gateway_app, conn)
    fields = _notification(form)
    first = _post(gateway_app, fields)
    assert (first.status_code, first.data, first.content_type) == (
        200, OK, "text/plain; charset=utf-8")
    again = _post(gateway_app, fields)  # Wallet One did not read the answer: repeats
    assert again.data == OK
    assert credited(conn, account) == Decimal("150.00")
    assert gateway_payments.get(conn, form.payment_id).state == "paid"
    assert [(n[0], n[2], n[4]) for n in notifications(conn)] == [
        ("payments.w1ru", "POST", "ok"), ("payments.w1ru", "POST", "duplicate")]
    assert gateway_payments.reconcile(conn) == [] and ledger.verify(conn) == []


@pytest.mark.parametrize("encoding", ["windows-1251", "utf-8"])
def test_cyrillic_fields_are_read_in_either_encoding_of_the_post(gateway_app, conn, encoding):
    """The signature is over windows-1251 bytes whichever encoding the shop's setting
    makes Wallet One post in."""
    account, form = _order(gateway_app, conn)
    fields = _notification(form, extra=[("WMI_CUSTOMER_FIRSTNAME", "Вася Ёлкин")])
    body = urlencode(fields, encoding=encoding).encode("ascii")
    assert (b"%C2%E0%F1%FF" in body) == (encoding == "windows-1251")
    assert _post(gateway_app, fields, encoding=encoding).data == OK
    assert credited(conn, account) == Decimal("150.00")


def test_a_sha1_shop_signs_with_sha1(gateway_app, conn):
    _settings(gateway_app)["SIGNATURE_METHOD"] = "SHA1"
    account, form = _order(gateway_app, conn)
    assert _value(form, "WMI_SIGNATURE") == w1ru.signature(form.fields, PASSWORD, "SHA1")
    assert len(_value(form, "WMI_SIGNATURE")) == 28  # 20 bytes in Base64
    refused = _post(gateway_app, _notification(form, method="MD5"))
    assert refused.data == b"WMI_RESULT=RETRY&WMI_DESCRIPTION=Bad+signature"
    assert _post(gateway_app, _notification(form, method="SHA1")).data == OK
    assert credited(conn, account) == Decimal("150.00")


def test_refusals_retry_with_their_reason_and_credit_nothing(gateway_app, conn):
    account, form = _order(gateway_app, conn)
    good = _notification(form)
    forged = [(n, v if n != "WMI_SIGNATURE" else v[:-3] + "AA=") for n, v in good]
    unsigned = [(n, v) for n, v in good if n != "WMI_SIGNATURE"]
    unknown = _notification(form, changes={"WMI_PAYMENT_NO": "w1-" + "0" * 32})
    cases = [
        (forged, "Bad+signature", "bad_signature"),
        (unsigned, "Bad+signature", "bad_signature"),
        (_notification(form, secret="another-shop"), "Bad+signature", "bad_signature"),
        # a forger who rewrites the sum keeps the old signature: it no longer matches
        ([(n, "1500.00" if n == "WMI_PAYMENT_AMOUNT" else v) for n, v in good],
         "Bad+signature", "bad_signature"),
        (unknown, "Unknown+order", "no_payment"),
        (_notification(form, changes={"WMI_MERCHANT_ID": "111111111111"}),
         "Not+accepted+from+this+sender", "forbidden"),
        (_notification(form, changes={"WMI_PAYMENT_AMOUNT": "151.00"}),
         "Bad+amount+or+not+the+order%27s", "bad_amount"),
        (_notification(form, changes={"WMI_CURRENCY_ID": "980"}),
         "Currency+differs+from+the+order", "bad_currency"),
        (_notification(form, changes={"WMI_CURRENCY_ID": "999"}),
         "Currency+differs+from+the+order", "bad_currency"),
        (_notification(form, state="Created"), "Order+state+is+not+Accepted", "not_paid"),
        (_notification(form, extra=[("WMI_PAYMENT_NO", "again")]),
         "Malformed+notification", "bad_format"),
    ]
    for sum_ in ("-150.00", "0.00", "abc", "150.001", "1e3", "9" * 40, ""):
        cases.append((_notification(form, changes={"WMI_PAYMENT_AMOUNT": sum_}),
                      "Bad+amount+or+not+the+order%27s", "bad_amount"))
    for fields, description, _ in cases:
        answer = _post(gateway_app, fields)
        assert answer.status_code == 200
        assert answer.data == f"WMI_RESULT=RETRY&WMI_DESCRIPTION={description}".encode(), (
            fields, answer.data)
    json_body = call(gateway_app, URL, method="POST", data=b'{"WMI_ORDER_STATE":"Accepted"}',
                     content_type="application/json")
    assert json_body.data == b"WMI_RESULT=RETRY&WMI_DESCRIPTION=Malformed+notification"
    assert credited(conn, account) == 0
    assert gateway_payments.get(conn, form.payment_id).state == "pending"
    outcomes = [n[4] for n in notifications(conn)]
    assert outcomes == [f"refused:{code}" for _, _, code in cases] + ["refused:bad_format"]
    assert _post(gateway_app, good).data == OK  # the order itself is still payable
    assert credited(conn, account) == Decimal("150.00")


def test_a_stranger_is_refused_and_kept_for_audit(gateway_app, conn):
    account, form = _order(gateway_app, conn)
    answer = _post(gateway_app, _notification(form), source=STRANGER_IP)
    assert answer.data == b"WMI_RESULT=RETRY&WMI_DESCRIPTION=Not+accepted+from+this+sender"
    assert credited(conn, account) == 0
    assert [(n[1], n[4]) for n in notifications(conn)] == [(STRANGER_IP, "refused:forbidden")]
    body = conn.execute("SELECT body FROM gateway_notifications").fetchone()[0]
    assert b"WMI_ORDER_STATE=Accepted" in bytes(body)


def test_a_payment_cancelled_by_the_operator_is_not_credited_by_a_replay(gateway_app, conn):
    account, form = _order(gateway_app, conn)
    fields = _notification(form)
    assert _post(gateway_app, fields).data == OK
    gateway_payments.change_state(conn, form.payment_id, "cancelled", reason="refunded")
    replay = _post(gateway_app, fields)
    assert replay.data == (b"WMI_RESULT=RETRY&WMI_DESCRIPTION="
                           b"Payment+was+cancelled+by+the+ISP")
    assert credited(conn, account) == 0
    gateway_payments.change_state(conn, form.payment_id, "paid", reason="restored")
    assert _post(gateway_app, fields).data == OK  # Wallet One's next retry is answered
    assert credited(conn, account) == Decimal("150.00")
    assert gateway_payments.reconcile(conn) == [] and ledger.verify(conn) == []


def test_a_missing_secret_is_a_retry_not_an_open_door(gateway_app, conn):
    account, form = _order(gateway_app, conn)
    fields = _notification(form)
    del _settings(gateway_app)["MERCHANT_PASSWORD"]
    answer = _post(gateway_app, fields)
    assert answer.data == b"WMI_RESULT=RETRY&WMI_DESCRIPTION=Temporary+error%2C+retry+later"
    assert credited(conn, account) == 0
    assert notifications(conn)[0][4] == "error"


def test_ten_concurrent_identical_notifications_credit_once(gateway_app, conn):
    account, form = _order(gateway_app, conn)
    fields = _notification(form)
    start = threading.Barrier(10)
    answers: list = []

    def deliver() -> None:
        start.wait()
        answers.append(_post(gateway_app, fields).data)

    threads = [threading.Thread(target=deliver) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [OK] * 10
    assert credited(conn, account) == Decimal("150.00")
    assert sorted(n[4] for n in notifications(conn)) == ["duplicate"] * 9 + ["ok"]
    assert gateway_payments.reconcile(conn) == [] and ledger.verify(conn) == []
