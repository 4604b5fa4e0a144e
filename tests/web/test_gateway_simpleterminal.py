"""SimpleTerminal at ExpertBilling's URL: the guide's example request, answered with the
protocol's one number; a wrong secret, an unknown contract and bad sums are refused and
credit nothing; the guide's misspelt backend name enables it all the same."""

from __future__ import annotations

from decimal import Decimal

from billing import gateway_payments, ledger
from tests.integration.ledger_helpers import make_account
from tests.web.gateway_helpers import (
    SECRET,
    STRANGER_IP,
    call,
    credited,
    notifications,
)

URL = "/payments.simpleterminal/simpleterminal/payment/"


def test_the_guides_example_credits_once_from_any_address(gateway_app, conn):
    account = make_account(conn, "contract")
    query = f"?sum=100&uid=contract&trans=123456&secret={SECRET}"
    first = call(gateway_app, URL + query, source=STRANGER_IP)  # no allowed_ip: the secret
    assert (first.status_code, first.data, first.content_type) == (
        200, b"0", "text/plain; charset=utf-8")
    assert call(gateway_app, URL + query).data == b"0"
    assert credited(conn, account) == Decimal("100")
    assert [n[4] for n in notifications(conn)] == ["ok", "duplicate"]
    assert gateway_payments.reconcile(conn) == [] and ledger.verify(conn) == []


def test_refusals_carry_the_protocols_codes(gateway_app, conn):
    account = make_account(conn, "7001")
    cases = [
        (f"?sum=100&uid=7001&trans=1&secret={SECRET[:-1]}x", b"-100"),
        ("?sum=100&uid=7001&trans=2", b"-100"),
        (f"?sum=100&uid=7999&trans=3&secret={SECRET}", b"-1"),
        (f"?sum=0&uid=7001&trans=4&secret={SECRET}", b"-5"),
        (f"?sum=-5&uid=7001&trans=5&secret={SECRET}", b"-5"),
        (f"?sum=1.005&uid=7001&trans=6&secret={SECRET}", b"-5"),
        (f"?sum=100000.01&uid=7001&trans=7&secret={SECRET}", b"-5"),
        (f"?sum=NaN&uid=7001&trans=8&secret={SECRET}", b"-5"),
    ]
    for query, code in cases:
        assert call(gateway_app, URL + query).data == code, query
    assert credited(conn, account) == 0
    assert len(notifications(conn)) == len(cases)


def test_a_missing_secret_setting_is_a_temporary_failure_not_an_open_door(gateway_app, conn):
    account = make_account(conn, "contract")
    del gateway_app.config["EBS_SETTINGS"].GETPAID_BACKENDS_SETTINGS[
        "payments.simpleterminal"]["SECRET"]
    answer = call(gateway_app, URL + "?sum=100&uid=contract&trans=9&secret=")
    assert answer.status_code == 503
    assert credited(conn, account) == 0
    assert notifications(conn)[0][4] == "error"
