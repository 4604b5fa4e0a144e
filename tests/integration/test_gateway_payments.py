"""``billing.gateway_payments``: a provider's transaction is one payment; its moves into
and out of "paid" post one ledger entry each, keyed by the payment and the move's number;
repeats and races credit once; the reconciliation finds a payment whose entries do not
add up."""

from __future__ import annotations

import threading
from decimal import Decimal

import psycopg
import pytest

from billing import gateway_payments as gp
from billing import ledger
from billing.payments import PaymentError
from tests.integration.ledger_helpers import NOW, balance, make_account

QIWI = "payments.qiwiru"


def _entries(conn, payment_id: int) -> list[tuple]:
    return conn.execute(
        "SELECT c.change_no, c.from_state, c.to_state, e.kind, e.amount, e.idempotency_key"
        "  FROM gateway_payment_changes c LEFT JOIN ledger_entries e"
        "    ON e.id = c.ledger_entry_id WHERE c.payment_id = %s ORDER BY c.change_no",
        (payment_id,)).fetchall()


def test_paid_cancelled_paid_credits_reverses_and_credits_again_once_each(conn):
    account = make_account(conn)
    applied = gp.pay(conn, QIWI, "1234567", account, Decimal("10.45"), "RUB", maximum=None)
    assert applied.credited and applied.payment.state == "paid"
    pid = applied.payment.id
    assert gp.change_state(conn, pid, "cancelled", reason="bank took it back").change_no == 2
    assert gp.change_state(conn, pid, "cancelled") is None  # asked twice: nothing new
    assert gp.change_state(conn, pid, "paid").change_no == 3
    assert gp.change_state(conn, pid, "paid") is None
    rows = _entries(conn, pid)
    assert [(r[0], r[1], r[2], r[3], r[4]) for r in rows] == [
        (1, "pending", "paid", "payment", Decimal("10.45")),
        (2, "paid", "cancelled", "reversal", Decimal("-10.45")),
        (3, "cancelled", "paid", "payment", Decimal("10.45")),
    ]
    assert rows[0][5] == f"{QIWI}:payment:{pid}:1" and rows[2][5] == f"{QIWI}:payment:{pid}:3"
    assert balance(conn, account) == Decimal("10.45")
    assert gp.reconcile(conn) == [] and ledger.verify(conn) == []


def test_a_repeated_pay_credits_nothing_and_a_cancelled_payment_stays_cancelled(conn):
    account = make_account(conn)
    first = gp.pay(conn, QIWI, "77", account, Decimal("100"), "RUB")
    again = gp.pay(conn, QIWI, "77", account, Decimal("100"), "RUB")
    assert (again.payment.id, again.credited) == (first.payment.id, False)
    gp.change_state(conn, first.payment.id, "cancelled")
    replayed = gp.pay(conn, QIWI, "77", account, Decimal("100"), "RUB")
    assert (replayed.credited, replayed.payment.state) == (False, "cancelled")
    assert balance(conn, account) == 0
    assert gp.reconcile(conn) == []


def test_one_transaction_id_for_another_account_or_sum_is_refused(conn):
    account, other = make_account(conn, "1001"), make_account(conn, "1002")
    gp.pay(conn, QIWI, "88", account, Decimal("50"), "RUB")
    for who, amount in ((other, Decimal("50")), (account, Decimal("51"))):
        with pytest.raises(PaymentError) as refused:
            gp.pay(conn, QIWI, "88", who, amount, "RUB")
        assert refused.value.code == "key_reused"
    # the same id under another backend is another provider's transaction
    assert gp.pay(conn, "payments.simpleterminal", "88", other, Decimal("5"), "RUB").credited
    assert (balance(conn, account), balance(conn, other)) == (Decimal("50"), Decimal("5"))


def test_pending_to_cancelled_moves_no_money_and_cancelled_cannot_go_back_to_pending(conn):
    account = make_account(conn)
    payment = gp.register(conn, "payments.easypay", "order-1", account, Decimal("20"), "UAH")
    change = gp.change_state(conn, payment.id, "cancelled")
    assert change.ledger_entry_id is None
    with pytest.raises(PaymentError) as refused:
        gp.change_state(conn, payment.id, "pending")
    assert refused.value.code == "bad_state"
    assert balance(conn, account) == 0 and gp.reconcile(conn) == []


def test_a_sum_above_the_maximum_registers_nothing(conn):
    account = make_account(conn)
    with pytest.raises(PaymentError) as refused:
        gp.pay(conn, QIWI, "99", account, Decimal("100001.00"), "RUB",
               maximum=Decimal("100000.00"))
    assert refused.value.code == "amount_above_maximum"
    assert conn.execute("SELECT count(*) FROM gateway_payments").fetchone()[0] == 0


def test_ten_concurrent_deliveries_of_one_payment_credit_once(db, conn):
    account = make_account(conn)
    start = threading.Barrier(10)
    results: list = []
    errors: list = []

    def deliver() -> None:
        try:
            with psycopg.connect(db) as own:
                start.wait()
                results.append(gp.pay(own, QIWI, "555", account, Decimal("300"), "RUB"))
                own.commit()
        except Exception as exc:  # reported below: a race must not raise either
            errors.append(exc)

    threads = [threading.Thread(target=deliver) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(r.credited for r in results) == 1
    assert len({r.payment.id for r in results}) == 1
    assert balance(conn, account) == Decimal("300")
    assert gp.reconcile(conn) == [] and ledger.verify(conn) == []


def test_the_reconciliation_names_a_payment_reversed_by_hand_in_the_ledger(conn):
    account = make_account(conn)
    applied = gp.pay(conn, QIWI, "4242", account, Decimal("70"), "RUB")
    credit = _entries(conn, applied.payment.id)[0]
    entry_id = conn.execute("SELECT id FROM ledger_entries WHERE idempotency_key = %s",
                            (credit[5],)).fetchone()[0]
    ledger.reverse(conn, entry_id, effective_at=NOW, reason="by hand, past the payment")
    found = gp.reconcile(conn)
    assert [(d.payment_id, d.state, d.expected, d.posted, d.entries) for d in found] == [
        (applied.payment.id, "paid", Decimal("70"), Decimal("0"), 2)]
    assert ledger.verify(conn) == []  # the balance is right; the payment's story is not


def test_the_command_and_the_beat_task_report_what_differs(env, db, conn, tmp_path):
    from click.testing import CliRunner

    from cli.main import cli
    from tests.conftest import ebs_env
    from worker.gateway_reconcile_tasks import reconcile_gateway_payments

    account = make_account(conn)
    applied = gp.pay(conn, QIWI, "31337", account, Decimal("12.34"), "RUB")
    (tmp_path / "none.py").write_text("")
    cli_env = ebs_env(db, tmp_path / "none.py")
    clean = CliRunner().invoke(cli, ["payments", "reconcile"], env=cli_env)
    assert clean.exit_code == 0, clean.output
    assert "0 gateway payment(s) differ" in clean.output
    assert reconcile_gateway_payments.run() == {"differ": 0, "payments": []}
    credit = _entries(conn, applied.payment.id)[0][5]
    entry_id = conn.execute("SELECT id FROM ledger_entries WHERE idempotency_key = %s",
                            (credit,)).fetchone()[0]
    ledger.reverse(conn, entry_id, effective_at=NOW, reason="by hand")
    found = CliRunner().invoke(cli, ["payments", "reconcile"], env=cli_env)
    assert found.exit_code == 1
    assert f"payment {applied.payment.id} ({QIWI} 31337" in found.output
    assert reconcile_gateway_payments.run() == {"differ": 1,
                                                "payments": [applied.payment.id]}
