"""LiqPay API v3: the signing rule against LiqPay's published examples, the cabinet's
checkout form, and callbacks built here byte for byte (base64 JSON and its signature,
posted as a form) for the documentation's example shop: success credits once,
failure closes the order, reversed posts the reversal, sandbox credits only when the
shop is under test; forged, unsigned, malformed or mismatching callbacks are refused,
credit nothing and stay stored."""

from __future__ import annotations

import base64
import json
import threading
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import urlencode

import pytest

from billing import gateway_payments, ledger
from billing.gateways import liqpay
from billing.gateways.base import backend_config
from tests.integration.ledger_helpers import make_account
from tests.web.gateway_helpers import STRANGER_IP, call, credited, notifications

URL = "/payments.liqpay/liqpay/postback/"
# "Rules for the formation of a request for payment" (liqpay.ua/documentation/en/
# data_signature): its example shop, request, data and signature.
PUBLIC_KEY = "i00000000"
PRIVATE_KEY = "a4825234f4bae72a0be04eafe9e8e2bada209255"
EXAMPLE_JSON = ('{"public_key":"i00000000","version":"3","action":"pay","amount":"3",'
                '"currency":"UAH","description":"test","order_id":"000001"}')
EXAMPLE_DATA = ("eyJwdWJsaWNfa2V5IjoiaTAwMDAwMDAwIiwidmVyc2lvbiI6IjMiLCJhY3Rpb24iOiJwYXkiLCJh"
                "bW91bnQiOiIzIiwiY3VycmVuY3kiOiJVQUgiLCJkZXNjcmlwdGlvbiI6InRlc3QiLCJvcmRlcl9p"
                "ZCI6IjAwMDAwMSJ9")
EXAMPLE_SIGNATURE = "wR+UZDC4jjeL/qUOvIsofIWpZh8="
NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)

# A callback for the example's order with the fields of the "Callback" page's answer.
CALLBACK = (
    '{{"payment_id":1616457236,"action":"pay","status":"{status}","version":3,'
    '"type":"buy","paytype":"card","public_key":"{public_key}","acq_id":414963,'
    '"order_id":"{order_id}","liqpay_order_id":"L4FJ8LRW1616667014573488",'
    '"description":"test","sender_card_mask2":"516875*87","sender_card_bank":"pb",'
    '"sender_card_type":"mc","sender_card_country":804,"amount":{amount},'
    '"currency":"{currency}","sender_commission":0.0,"receiver_commission":0.08,'
    '"agent_commission":0.0,"amount_debit":3.0,"amount_credit":3.0,'
    '"commission_debit":0.0,"commission_credit":0.08,"currency_debit":"UAH",'
    '"currency_credit":"UAH","sender_bonus":0.0,"amount_bonus":0.0,"mpi_eci":"7",'
    '"is_3ds":false,"language":"uk","create_date":1616667014573,'
    '"end_date":1616667021044,"transaction_id":1616457236}}')


def _settings(app) -> dict:
    return app.config["EBS_SETTINGS"].GETPAID_BACKENDS_SETTINGS[liqpay.NAME]


def _config(app):
    return backend_config(liqpay.NAME, app.config["EBS_SETTINGS"])


@pytest.fixture
def example_shop(gateway_app, conn):
    """The documentation's shop, with its order 000001 for 3 UAH opened for an account
    as the cabinet's form opens one."""
    _settings(gateway_app).update(MERCHANT_ID=PUBLIC_KEY, MERCHANT_SIGNATURE=PRIVATE_KEY)
    account = make_account(conn, "5001")
    payment = gateway_payments.register(conn, liqpay.NAME, "000001", account, Decimal("3"),
                                        "UAH")
    return account, payment


def _callback(status: str = "success", *, amount: str = "3.0", currency: str = "UAH",
              order_id: str = "000001", public_key: str = PUBLIC_KEY,
              key: str = PRIVATE_KEY) -> list[tuple[str, str]]:
    data = base64.b64encode(CALLBACK.format(
        status=status, amount=amount, currency=currency, order_id=order_id,
        public_key=public_key).encode()).decode()
    return [("data", data), ("signature", liqpay.signature(data, key))]


def _post(app, fields, source: str = "93.183.196.28"):
    return call(app, URL, source=source, method="POST",
                data=urlencode(fields).encode("ascii"),
                content_type="application/x-www-form-urlencoded")


def test_the_signing_rule_reproduces_liqpays_published_examples():
    assert liqpay.encode(json.loads(EXAMPLE_JSON)) == EXAMPLE_DATA
    assert base64.b64encode(EXAMPLE_JSON.encode()).decode() == EXAMPLE_DATA
    assert liqpay.signature(EXAMPLE_DATA, PRIVATE_KEY) == EXAMPLE_SIGNATURE
    # the "Callback" page's check: data base64_post_string, key your_private_key
    assert liqpay.signature("base64_post_string", "your_private_key") == (
        "tp+ZLmKm1/E83dIzUpx5ljcttP4=")


def test_the_form_opens_a_pending_order_and_is_signed(gateway_app, conn):
    account = make_account(conn, "5001")
    form = liqpay.form(conn, account, Decimal("150"), _config(gateway_app),
                       success_url="https://isp.example/pay/done",
                       server_url="https://isp.example" + URL, now=NOW)
    assert form.action_url == "https://www.liqpay.ua/api/3/checkout"
    assert [name for name, _ in form.fields] == ["data", "signature"]
    data, sign = dict(form.fields)["data"], dict(form.fields)["signature"]
    # the guide's private key signs it
    assert sign == liqpay.signature(data, "LMoTlGet9IVubuNbBvKIZ0wNDdsluOLsIvdzd")
    payment = gateway_payments.get(conn, form.payment_id)
    assert json.loads(base64.b64decode(data)) == {
        "version": 3, "public_key": "i7444123444", "action": "pay", "amount": "150.00",
        "currency": "UAH", "description": "Internet, contract 5001",
        "order_id": payment.provider_txn_id, "result_url": "https://isp.example/pay/done",
        "server_url": "https://isp.example/payments.liqpay/liqpay/postback/",
        "language": "ru", "paytypes": "card,liqpay",  # v3 has no "delayed"
        "expired_date": "2026-03-02 21:30:00"}  # EXPIRE_TIME 36 hours
    assert payment.provider_txn_id.startswith("lp-")
    assert (payment.account_id, payment.amount, payment.currency, payment.state) == (
        account, Decimal("150.00"), "UAH", "pending")


def test_the_form_then_its_callback_credits_once(gateway_app, conn):
    account = make_account(conn, "5001")
    form = liqpay.form(conn, account, "150", _config(gateway_app), success_url="s",
                       server_url="u")
    order_id = gateway_payments.get(conn, form.payment_id).provider_txn_id
    fields = _callback(amount="150", order_id=order_id, public_key="i7444123444",
                       key="LMoTlGet9IVubuNbBvKIZ0wNDdsluOLsIvdzd")
    answer = _post(gateway_app, fields)
    assert (answer.status_code, answer.data) == (200, b"OK")
    assert credited(conn, account) == Decimal("150.00")


def test_the_examples_success_credits_once(gateway_app, conn, example_shop):
    account, payment = example_shop
    fields = _callback()
    assert _post(gateway_app, fields, source=STRANGER_IP).status_code == 200  # any address
    assert _post(gateway_app, fields).status_code == 200  # delivered again
    assert credited(conn, account) == Decimal("3.00")
    assert gateway_payments.get(conn, payment.id).state == "paid"
    assert [n[4] for n in notifications(conn)] == ["ok", "duplicate"]
    assert gateway_payments.reconcile(conn) == [] and ledger.verify(conn) == []


def test_failure_closes_the_order_and_a_later_success_still_credits(gateway_app, conn,
                                                                    example_shop):
    account, payment = example_shop
    assert _post(gateway_app, _callback("failure")).data == b"OK"
    assert gateway_payments.get(conn, payment.id).state == "cancelled"
    assert _post(gateway_app, _callback("error")).status_code == 200
    # another card on the same order
    assert _post(gateway_app, _callback("success")).data == b"OK"
    assert credited(conn, account) == Decimal("3.00")
    # the first attempt's failure delivered late does not undo the success
    assert _post(gateway_app, _callback("failure")).status_code == 200
    assert credited(conn, account) == Decimal("3.00")
    assert [n[4] for n in notifications(conn)] == ["ok", "duplicate", "ok", "duplicate"]
    assert gateway_payments.reconcile(conn) == [] and ledger.verify(conn) == []


def test_reversed_posts_the_reversal_and_a_replayed_success_does_not_undo_it(
        gateway_app, conn, example_shop):
    account, payment = example_shop
    _post(gateway_app, _callback("success"))
    assert _post(gateway_app, _callback("reversed")).data == b"OK"
    assert credited(conn, account) == 0
    assert gateway_payments.get(conn, payment.id).state == "cancelled"
    assert conn.execute("SELECT count(*) FROM ledger_entries WHERE account_id = %s",
                        (account,)).fetchone()[0] == 2  # the credit and its reversal
    replay = _post(gateway_app, _callback("success"))
    assert (replay.status_code, replay.data) == (400, b"refused: cancelled")
    assert _post(gateway_app, _callback("reversed")).status_code == 200
    assert credited(conn, account) == 0
    assert [n[4] for n in notifications(conn)] == ["ok", "ok", "refused:cancelled",
                                                   "duplicate"]
    assert gateway_payments.reconcile(conn) == [] and ledger.verify(conn) == []


def test_a_sandbox_payment_credits_only_a_shop_under_test(gateway_app, conn, example_shop):
    account, _ = example_shop
    refused = _post(gateway_app, _callback("sandbox"))
    assert (refused.status_code, refused.data) == (400, b"refused: sandbox")
    assert credited(conn, account) == 0
    _settings(gateway_app)["SANDBOX"] = True
    assert _post(gateway_app, _callback("sandbox")).data == b"OK"
    assert credited(conn, account) == Decimal("3.00")


def test_a_status_on_the_way_changes_nothing(gateway_app, conn, example_shop):
    account, payment = example_shop
    assert _post(gateway_app, _callback("wait_accept")).data == b"OK"
    assert gateway_payments.get(conn, payment.id).state == "pending"
    assert credited(conn, account) == 0


def test_refusals_credit_nothing(gateway_app, conn, example_shop):
    account, payment = example_shop
    good = _callback()
    data = dict(good)["data"]

    def signed(text: str) -> list:
        return [("data", text), ("signature", liqpay.signature(text, PRIVATE_KEY))]

    cases = [
        ([("data", data), ("signature", dict(good)["signature"][:-2] + "A=")], 400,
         "bad_signature"),
        ([("data", data)], 400, "bad_signature"),
        (_callback(key="another-private-key"), 400, "bad_signature"),
        # the sum rewritten by a forger under the old signature
        ([("data", dict(_callback(amount="3000"))["data"]),
          ("signature", dict(good)["signature"])], 400, "bad_signature"),
        (signed("not base64!"), 400, "bad_format"),
        (signed(base64.b64encode(b"not json").decode()), 400, "bad_format"),
        (signed(base64.b64encode(b'["a list"]').decode()), 400, "bad_format"),
        (signed(base64.b64encode(b"[" * 5000 + b"]" * 5000).decode()), 400, "bad_format"),
        (_callback(public_key="i99999999"), 403, "forbidden"),
        (_callback(order_id="000002"), 400, "no_payment"),
        (_callback(currency="USD"), 400, "bad_currency"),
        (_callback(amount="3.01"), 400, "bad_amount"),
        (_callback(amount="30"), 400, "bad_amount"),
        (_callback(amount="0"), 400, "bad_amount"),
        (_callback(amount="-3"), 400, "bad_amount"),
        (_callback(amount="2.999"), 400, "bad_amount"),
        (_callback(amount='"three"'), 400, "bad_amount"),
        (_callback(amount="null"), 400, "bad_amount"),
        (_callback(amount="1e400"), 400, "bad_amount"),
        (_callback(amount="9" * 40), 400, "bad_amount"),
    ]
    for fields, status, code in cases:
        answer = _post(gateway_app, fields)
        assert (answer.status_code, answer.data) == (status, f"refused: {code}".encode()), (
            fields, answer.data)
    json_post = call(gateway_app, URL, method="POST", content_type="application/json",
                     data=json.dumps(dict(good)).encode())
    assert json_post.status_code == 400  # LiqPay posts a form: data and signature
    assert credited(conn, account) == 0
    assert gateway_payments.get(conn, payment.id).state == "pending"
    assert [n[4] for n in notifications(conn)] == (
        [f"refused:{code}" for _, _, code in cases] + ["refused:bad_signature"])
    assert _post(gateway_app, good).data == b"OK"  # the order is still payable
    assert credited(conn, account) == Decimal("3.00")


def test_an_allow_list_when_set_is_enforced(gateway_app, conn, example_shop):
    account, _ = example_shop
    _settings(gateway_app)["allowed_ip"] = ("93.183.196.28",)
    answer = _post(gateway_app, _callback(), source=STRANGER_IP)
    assert (answer.status_code, answer.data) == (403, b"refused: forbidden")
    assert credited(conn, account) == 0


def test_ten_concurrent_identical_callbacks_credit_once(gateway_app, conn, example_shop):
    account, _ = example_shop
    fields = _callback()
    start = threading.Barrier(10)
    answers: list = []

    def deliver() -> None:
        start.wait()
        answers.append(_post(gateway_app, fields).status_code)

    threads = [threading.Thread(target=deliver) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [200] * 10
    assert credited(conn, account) == Decimal("3.00")
    assert sorted(n[4] for n in notifications(conn)) == ["duplicate"] * 9 + ["ok"]
    assert gateway_payments.reconcile(conn) == [] and ledger.verify(conn) == []
