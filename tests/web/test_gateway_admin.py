"""The admin's gateway pages: a payment with its moves and notifications; paid ↔
cancelled by an Admin posts the credit or its reversal once per move (a repeated form
posts nothing); a Cashier reads but cannot move; the reconciliation page is clean, and
names a payment whose credit was reversed by hand in the ledger."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from billing import gateway_payments, ledger
from tests.integration.ledger_helpers import balance, make_account
from tests.web.conftest import CASHIER, csrf_token, login, submit
from tests.web.gateway_helpers import SECRET, call

TERMINAL = "/payments.simpleterminal/simpleterminal/payment/"


def _paid_through_the_terminal(gateway_app, conn) -> tuple[int, int]:
    account = make_account(conn, "3003")
    answer = call(gateway_app, TERMINAL + f"?sum=250.50&uid=3003&trans=T-1&secret={SECRET}")
    assert answer.data == b"0"
    return account, gateway_payments.find(conn, "payments.simpleterminal", "T-1").id


def test_the_payment_page_shows_its_moves_and_notifications(gateway_app, conn):
    account, pid = _paid_through_the_terminal(gateway_app, conn)
    client = gateway_app.test_client()
    login(client, "admin", "admin-Secret-1")
    listing = client.get("/gatewaypaymentview/list/")
    assert listing.status_code == 200 and "T-1" in listing.text
    page = client.get(f"/gatewaypaymentview/show/{pid}")
    assert page.status_code == 200
    assert "250.50" in page.text or "250,50" in page.text
    assert 'id="ebs-payment-actions"' in page.text
    notes = client.get("/gatewaynotificationview/list/")
    assert "payments.simpleterminal" in notes.text
    assert balance(conn, account) == Decimal("250.50")


def test_an_admin_cancels_and_restores_once_each(gateway_app, conn):
    account, pid = _paid_through_the_terminal(gateway_app, conn)
    client = gateway_app.test_client()
    login(client, "admin", "admin-Secret-1")
    url = f"/gateway-payment-state/{pid}"
    for state, expected in (("cancelled", Decimal("0")), ("cancelled", Decimal("0")),
                            ("paid", Decimal("250.50"))):
        done = submit(client, url, {"state": state, "reason": "the bank's letter 17"})
        assert done.status_code == 200
        assert balance(conn, account) == expected
    moves = conn.execute("SELECT change_no, to_state, staff_user_id IS NOT NULL"
                         " FROM gateway_payment_changes WHERE payment_id = %s"
                         " ORDER BY change_no", (pid,)).fetchall()
    assert moves == [(1, "paid", False), (2, "cancelled", True), (3, "paid", True)]
    audit = conn.execute("SELECT count(*) FROM staff_audit_log WHERE action = 'status'"
                         " AND object_type = 'gateway_payments'").fetchone()[0]
    assert audit == 2
    assert gateway_payments.reconcile(conn) == [] and ledger.verify(conn) == []


def test_a_cashier_reads_but_cannot_move_a_payment(gateway_app, conn):
    account, pid = _paid_through_the_terminal(gateway_app, conn)
    client = gateway_app.test_client()
    login(client, *CASHIER)
    assert client.get(f"/gatewaypaymentview/show/{pid}").status_code == 200
    page = client.get("/gatewaypaymentview/list/")
    refused = client.post(f"/gateway-payment-state/{pid}",
                          data={"state": "cancelled", "reason": "x",
                                "csrf_token": csrf_token(page.text)})
    assert refused.status_code in (302, 403)
    assert balance(conn, account) == Decimal("250.50")


def test_the_reconciliation_page_is_clean_then_names_a_hand_reversal(gateway_app, conn):
    _, pid = _paid_through_the_terminal(gateway_app, conn)
    client = gateway_app.test_client()
    login(client, "admin", "admin-Secret-1")
    assert 'id="ebs-reconciliation-clean"' in client.get("/gateway-reconciliation/").text
    credit = conn.execute("SELECT ledger_entry_id FROM gateway_payment_changes"
                          " WHERE payment_id = %s", (pid,)).fetchone()[0]
    ledger.reverse(conn, credit, effective_at=datetime.now(UTC), reason="by hand")
    page = client.get("/gateway-reconciliation/").text
    assert f'data-payment="{pid}"' in page and 'data-found="1"' in page
