"""MasterPlat at /payments.masterplat/masterplat/payment/: the dealer's balance query
and payment with the guide's DUSER/DPASS, answered byte for byte; a repeated or crowded
transaction credits once; wrong credentials, unknown contracts and bad sums are refused
with the protocol's status, stored, crediting nothing."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest

from billing import gateway_payments, ledger
from tests.integration.ledger_helpers import entry, make_account
from tests.web.gateway_helpers import STRANGER_IP, call, credited, notifications

URL = "/payments.masterplat/masterplat/payment/"
DEALER = "duser=test&dpass=test"  # the guide's DUSER and DPASS


@pytest.fixture(autouse=True)
def enabled(gateway_app):
    """The guide's GETPAID_BACKENDS example leaves MasterPlat out; an operator adds it."""
    gateway_app.config["EBS_SETTINGS"].GETPAID_BACKENDS.append("payments.masterplat")


def test_balance_then_payment_then_its_repeat(gateway_app, conn):
    account = make_account(conn, "3001")
    ledger.post(conn, entry(account, "-40.25", "test:charge", kind="charge_periodic"))
    info = call(gateway_app, f"{URL}?uact=get_info&{DEALER}&cid=3001")
    assert info.status_code == 200 and info.content_type == "text/plain; charset=utf-8"
    assert info.data == b"status=0&summa=-40.25"
    pay = f"{URL}?uact=payment&{DEALER}&cid=3001&sum=150.00&trans=98765&term=T-17"
    assert call(gateway_app, pay).data == b"status=0"
    assert call(gateway_app, pay).data == b"status=0"  # the terminal retries
    assert call(gateway_app, f"{URL}?uact=get_info&{DEALER}&cid=3001").data == \
        b"status=0&summa=109.75"
    payment = gateway_payments.find(conn, "payments.masterplat", "98765")
    assert payment.amount == Decimal("150.00") and payment.state == "paid"
    assert conn.execute("SELECT details->>'term' FROM gateway_payments").fetchone()[0] == "T-17"
    assert credited(conn, account) == Decimal("109.75")
    assert [n[4] for n in notifications(conn)] == ["ok", "ok", "duplicate", "ok"]
    assert gateway_payments.reconcile(conn) == [] and ledger.verify(conn) == []


@pytest.mark.parametrize(("query", "answer"), [
    ("uact=get_info&duser=test&dpass=wrong&cid=3002", b"status=-4"),
    ("uact=payment&duser=wrong&dpass=test&cid=3002&sum=10&trans=1", b"status=-4"),
    ("uact=payment&cid=3002&sum=10&trans=2", b"status=-4"),
    ("uact=payment&duser=test&dpass=&cid=3002&sum=10&trans=3", b"status=-4"),
    (f"uact=get_info&{DEALER}&cid=9999", b"status=-1"),
    (f"uact=payment&{DEALER}&cid=9999&sum=10&trans=4", b"status=-1"),
    (f"uact=payment&{DEALER}&cid=3002&sum=-10&trans=5", b"status=-2"),
    (f"uact=payment&{DEALER}&cid=3002&sum=0&trans=6", b"status=-2"),
    (f"uact=payment&{DEALER}&cid=3002&sum=abc&trans=7", b"status=-2"),
    (f"uact=payment&{DEALER}&cid=3002&sum=10.001&trans=8", b"status=-2"),
    (f"uact=payment&{DEALER}&cid=3002&sum=1e3&trans=9", b"status=-2"),
    (f"uact=payment&{DEALER}&cid=3002&sum={'9' * 40}&trans=10", b"status=-2"),
    (f"uact=payment&{DEALER}&cid=3002&sum=100001&trans=11", b"status=-2"),
    (f"uact=payment&{DEALER}&cid=3002&sum=10", b"status=-3"),
    (f"uact=payment&{DEALER}&cid=3002&sum=10&trans=a%20b", b"status=-3"),
    (f"uact=payment&{DEALER}&cid=3002&sum=10&trans=12&trans=13", b"status=-3"),
    (f"uact=refund&{DEALER}&cid=3002&sum=10&trans=14", b"status=-3"),
])
def test_refusals_answer_the_protocols_status_and_credit_nothing(
        gateway_app, conn, query, answer):
    account = make_account(conn, "3002")
    got = call(gateway_app, f"{URL}?{query}")
    assert got.status_code == 200 and got.data == answer
    assert credited(conn, account) == 0
    assert conn.execute("SELECT count(*) FROM gateway_payments").fetchone()[0] == 0
    assert [(n[3], n[4][:8]) for n in notifications(conn)] == [(query, "refused:")]


def test_a_transaction_reused_for_another_sum_is_refused(gateway_app, conn):
    account = make_account(conn, "3003")
    assert call(gateway_app, f"{URL}?uact=payment&{DEALER}&cid=3003&sum=10&trans=55"
                ).data == b"status=0"
    assert call(gateway_app, f"{URL}?uact=payment&{DEALER}&cid=3003&sum=11&trans=55"
                ).data == b"status=-5"
    assert credited(conn, account) == Decimal("10")


def test_an_allow_list_when_set_refuses_strangers_and_a_disabled_backend_refuses_all(
        gateway_app, conn):
    account = make_account(conn, "3004")
    pay = f"{URL}?uact=payment&{DEALER}&cid=3004&sum=10&trans=66"
    settings = gateway_app.config["EBS_SETTINGS"]
    settings.GETPAID_BACKENDS_SETTINGS["payments.masterplat"]["allowed_ip"] = "93.183.196.0/24"
    assert call(gateway_app, pay, source=STRANGER_IP).data == b"status=-4"
    settings.GETPAID_BACKENDS.remove("payments.masterplat")
    assert call(gateway_app, pay).data == b"status=-4"
    assert credited(conn, account) == 0
    assert [(n[1], n[4]) for n in notifications(conn)] == [
        (STRANGER_IP, "refused:forbidden"), ("93.183.196.28", "refused:forbidden")]


def test_ten_concurrent_identical_payments_credit_once(gateway_app, conn):
    account = make_account(conn, "3005")
    pay = f"{URL}?uact=payment&{DEALER}&cid=3005&sum=250.50&trans=777&term=T-1"
    start = threading.Barrier(10)
    answers: list = []

    def deliver() -> None:
        start.wait()
        answers.append(call(gateway_app, pay).data)

    threads = [threading.Thread(target=deliver) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [b"status=0"] * 10
    assert credited(conn, account) == Decimal("250.50")
    assert sorted(n[4] for n in notifications(conn)) == ["duplicate"] * 9 + ["ok"]
    assert gateway_payments.reconcile(conn) == [] and ledger.verify(conn) == []
