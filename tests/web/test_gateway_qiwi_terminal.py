"""QIWI terminals (OSMP provider protocol) at ExpertBilling's URL: the protocol's own
example requests, check then pay, answered byte for byte; repeats and a crowd of
identical deliveries credit once; a stranger's, a malformed or an unknown account's
request is refused with the protocol's code and stored."""

from __future__ import annotations

import ipaddress
import threading
from decimal import Decimal

import pytest

from billing import gateway_payments, ledger
from tests.integration.ledger_helpers import make_account
from tests.web.gateway_helpers import (
    STRANGER_IP,
    call,
    credited,
    notifications,
)

URL = "/payments.qiwiru/qiwiru/payment/"
# The protocol document's example account, transaction and sum.
CHECK = "?command=check&txn_id=1234567&account=0957835959&sum=10.45"
PAY = "?command=pay&txn_id=1234567&txn_date=20050815120133&account=0957835959&sum=10.45"


@pytest.fixture(autouse=True)
def example_sums(gateway_app):
    """The guide's MIN_SUM is 100; the protocol's example pays 10.45."""
    _qiwi(gateway_app)["MIN_SUM"] = 1


def _qiwi(app) -> dict:
    return app.config["EBS_SETTINGS"].GETPAID_BACKENDS_SETTINGS["payments.qiwiru"]


def _xml(*lines: str) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<response>\n' + "\n".join(lines)
            + "\n</response>\n").encode()


def test_the_protocol_example_checks_then_pays_once(gateway_app, conn):
    account = make_account(conn, "0957835959")
    check = call(gateway_app, URL + CHECK)
    assert check.status_code == 200 and check.content_type == "text/xml; charset=utf-8"
    assert check.data == _xml("<osmp_txn_id>1234567</osmp_txn_id>", "<result>0</result>",
                              "<comment>OK</comment>")
    assert credited(conn, account) == 0
    paid = call(gateway_app, URL + PAY)
    payment = gateway_payments.find(conn, "payments.qiwiru", "1234567")
    expected = _xml("<osmp_txn_id>1234567</osmp_txn_id>", f"<prv_txn>{payment.id}</prv_txn>",
                    "<sum>10.45</sum>", "<result>0</result>", "<comment>OK</comment>")
    assert paid.data == expected
    again = call(gateway_app, URL + PAY)  # the terminal did not read the answer: retries
    assert again.data == expected
    assert credited(conn, account) == Decimal("10.45")
    assert [(n[0], n[1], n[2], n[4]) for n in notifications(conn)] == [
        ("payments.qiwiru", "93.183.196.28", "GET", "ok"),
        ("payments.qiwiru", "93.183.196.28", "GET", "ok"),
        ("payments.qiwiru", "93.183.196.28", "GET", "duplicate")]
    # txn_date is the ISP's local time: Moscow, on summer time (+04) in 2005
    assert conn.execute("SELECT provider_at = '2005-08-15 12:01:33+04' FROM gateway_payments"
                        ).fetchone()[0]
    assert gateway_payments.reconcile(conn) == [] and ledger.verify(conn) == []


def test_refusals_answer_the_protocols_codes_and_credit_nothing(gateway_app, conn):
    _qiwi(gateway_app)["MIN_SUM"] = 100
    account = make_account(conn, "5001")
    cases = [
        ("?command=pay&txn_id=1&account=9999&sum=150", "<result>5</result>"),
        ("?command=pay&txn_id=2&account=50%2001&sum=150", "<result>4</result>"),
        ("?command=pay&txn_id=3&account=5001&sum=99.99", "<result>241</result>"),  # MIN_SUM
        ("?command=pay&txn_id=4&account=5001&sum=100001", "<result>242</result>"),
        ("?command=pay&txn_id=5&account=5001&sum=-150", "<result>300</result>"),
        ("?command=pay&txn_id=6&account=5001&sum=150.001", "<result>300</result>"),
        ("?command=pay&txn_id=7&account=5001&sum=1e3", "<result>300</result>"),
        ("?command=pay&txn_id=8&account=5001&sum=abc", "<result>300</result>"),
        ("?command=pay&txn_id=9&account=5001&sum=" + "9" * 40, "<result>300</result>"),
        ("?command=pay&txn_id=x10&account=5001&sum=150", "<result>300</result>"),
        ("?command=refund&txn_id=11&account=5001&sum=150", "<result>300</result>"),
        ("?command=pay&txn_id=12&txn_id=13&account=5001&sum=150", "<result>300</result>"),
        ("?command=pay&txn_id=14&account=5001&sum=150&txn_date=2005-08-15",
         "<result>300</result>"),
    ]
    for query, result in cases:
        answer = call(gateway_app, URL + query)
        assert answer.status_code == 200, query
        assert result.encode() in answer.data, (query, answer.data)
    assert credited(conn, account) == 0
    assert conn.execute("SELECT count(*) FROM gateway_payments").fetchone()[0] == 0
    outcomes = [n[4] for n in notifications(conn)]
    assert len(outcomes) == len(cases) and all(o.startswith("refused:") for o in outcomes)


def test_a_stranger_is_refused_and_kept_for_audit(gateway_app, conn):
    account = make_account(conn, "0957835959")
    answer = call(gateway_app, URL + PAY, source=STRANGER_IP)
    assert b"<result>7</result>" in answer.data
    assert credited(conn, account) == 0
    assert notifications(conn) == [("payments.qiwiru", STRANGER_IP, "GET", PAY[1:],
                                    "refused:forbidden", 200)]


def test_a_forwarded_address_counts_only_from_a_trusted_proxy(gateway_app, conn):
    account = make_account(conn, "0957835959")
    forged = call(gateway_app, URL + PAY, source=STRANGER_IP,
                  headers={"X-Forwarded-For": "93.183.196.28"})
    assert b"<result>7</result>" in forged.data
    gateway_app.config["EBS_TRUSTED_PROXIES"] = (ipaddress.ip_network("10.0.0.1/32"),)
    proxied = call(gateway_app, URL + PAY, source="10.0.0.1",
                   headers={"X-Forwarded-For": "93.183.196.28"})
    assert b"<result>0</result>" in proxied.data
    assert credited(conn, account) == Decimal("10.45")


def test_a_backend_not_enabled_is_refused(gateway_app, conn):
    make_account(conn, "0957835959")
    gateway_app.config["EBS_SETTINGS"].GETPAID_BACKENDS.remove("payments.qiwiru")
    answer = call(gateway_app, URL + PAY)
    assert b"<result>7</result>" in answer.data
    assert notifications(conn)[0][4] == "refused:forbidden"


def test_ten_concurrent_identical_notifications_credit_once(gateway_app, conn):
    account = make_account(conn, "0957835959")
    start = threading.Barrier(10)
    answers: list = []

    def deliver() -> None:
        start.wait()
        answers.append(call(gateway_app, URL + PAY).data)

    threads = [threading.Thread(target=deliver) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == 10 and all(b"<result>0</result>" in a for a in answers)
    assert len(set(answers)) == 1  # every delivery got the first payment's prv_txn
    assert credited(conn, account) == Decimal("10.45")
    outcomes = sorted(n[4] for n in notifications(conn))
    assert outcomes == ["duplicate"] * 9 + ["ok"]
    assert gateway_payments.reconcile(conn) == [] and ledger.verify(conn) == []
