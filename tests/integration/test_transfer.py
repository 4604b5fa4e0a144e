"""Balance transfer against a real PostgreSQL: linked ledger entries, the rules, and
concurrent transfers from one account (two connections, two processes) that never
overdraw it."""

from __future__ import annotations

import multiprocessing
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal

import psycopg
import pytest

from billing import ledger
from billing.transfer import TransferError, transfer_balance
from tests.integration.charging_helpers import account, assign, pay, tariff

T0 = datetime(2026, 3, 10, 12, tzinfo=UTC)


def customers(conn, n, *, allow=True, funds=("100",)):
    t = tariff(conn)
    conn.execute("UPDATE tariffs SET allow_balance_transfer = %s WHERE id = %s", (allow, t))
    ids = []
    for i in range(n):
        acc = account(conn)
        assign(conn, acc, t, datetime(2026, 1, 1, tzinfo=UTC))
        amount = funds[i] if i < len(funds) else "0"
        if Decimal(amount):
            pay(conn, acc, amount)
        ids.append(acc)
    return ids


def balances(conn, ids):
    return [conn.execute("SELECT balance FROM accounts WHERE id = %s", (i,)).fetchone()[0]
            for i in ids]


def test_both_sides_are_posted_with_linked_keys_and_a_retry_moves_nothing(conn):
    a, b = customers(conn, 2)
    done = transfer_balance(conn, a, b, "30.00", request_key="r1", at=T0)
    assert done.created
    rows = conn.execute(
        "SELECT account_id, amount, idempotency_key, details->>'counterpart_key'"
        " FROM ledger_entries WHERE kind = 'transfer' ORDER BY id").fetchall()
    assert rows == [(a, Decimal("-30.00"), "transfer:r1:out", "transfer:r1:in"),
                    (b, Decimal("30.00"), "transfer:r1:in", "transfer:r1:out")]
    again = transfer_balance(conn, a, b, "30.00", request_key="r1", at=T0)
    assert not again.created and (again.out_entry_id, again.in_entry_id) == (
        done.out_entry_id, done.in_entry_id)
    with pytest.raises(TransferError) as caught:
        transfer_balance(conn, a, b, "31.00", request_key="r1", at=T0)
    assert caught.value.code == "request_reused"
    assert balances(conn, [a, b]) == [Decimal("70.00"), Decimal("30.00")]
    assert ledger.verify(conn) == []


def test_refusals_have_codes_and_write_nothing(conn):
    a, b = customers(conn, 2)
    (locked,) = customers(conn, 1, allow=False)
    no_tariff = account(conn)
    pay(conn, no_tariff, "100")
    before = conn.execute("SELECT count(*), sum(amount) FROM ledger_entries").fetchone()

    for code, args in [
        ("amount_not_positive", (a, b, "0")),
        ("amount_not_positive", (a, b, "-5")),
        ("insufficient_balance", (a, b, "100.01")),
        ("insufficient_balance", (b, a, "0.01")),  # b has nothing
        ("same_account", (a, a, "1")),
        ("unknown_account", (a, 999_999, "1")),
        ("not_allowed", (locked, a, "1")),
        ("not_allowed", (no_tariff, a, "1")),
    ]:
        with pytest.raises(TransferError) as caught:
            transfer_balance(conn, *args, at=T0)
        assert caught.value.code == code, (code, args)
    assert conn.execute("SELECT count(*), sum(amount) FROM ledger_entries").fetchone() == before
    assert transfer_balance(conn, a, b, "100.00", at=T0).created  # the whole balance: fine


def _backend_waits_on_lock(conn, pid) -> bool:
    return conn.execute(
        "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = %s", (pid,)
    ).fetchone()[0] is True


def test_a_second_transfer_waits_for_the_first_and_sees_what_it_spent(db, conn):
    x, y, z = customers(conn, 3)
    outcome = {}
    with psycopg.connect(db, autocommit=True) as first, \
            psycopg.connect(db, autocommit=True) as second:

        def later():
            try:
                transfer_balance(second, x, z, "70.00", at=T0)
                outcome["second"] = "done"
            except TransferError as exc:
                outcome["second"] = exc.code

        with first.transaction():
            transfer_balance(first, x, y, "70.00", at=T0)
            thread = threading.Thread(target=later)
            thread.start()
            # The second transfer is inside PostgreSQL, blocked on x's row lock, while the
            # first has spent but not committed: the two overlap.
            for _ in range(500):
                if _backend_waits_on_lock(conn, second.info.backend_pid):
                    break
                time.sleep(0.01)
            assert _backend_waits_on_lock(conn, second.info.backend_pid)
            assert "second" not in outcome
        thread.join()
    assert outcome == {"second": "insufficient_balance"}
    assert balances(conn, [x, y, z]) == [Decimal("30.00"), Decimal("70.00"), Decimal("0.00")]
    assert ledger.verify(conn) == []


def _transfer_worker(db, plan, barrier, results):
    """One process: run its transfers, record when it worked and how each one ended."""
    outcomes = []
    with psycopg.connect(db, autocommit=True) as c:
        barrier.wait()
        started = time.monotonic()
        for source, target, amount in plan:
            try:
                transfer_balance(c, source, target, amount, at=T0)
                outcomes.append("done")
            except TransferError as exc:
                outcomes.append(exc.code)
        results.put((started, time.monotonic(), outcomes))


def test_two_processes_transferring_from_one_account_never_overdraw_it(db, conn):
    x, y, z = customers(conn, 3, funds=("100", "100"))
    # Process one drains x into y; process two drains x into z and moves y back to x, so
    # both lock x and y in opposite business order (x->y against y->x): no deadlock, as
    # rows are locked in id order.
    plan_one = [(x, y, "7.00")] * 40
    plan_two = [(x, z, "7.00"), (y, x, "5.00")] * 20
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    workers = [ctx.Process(target=_transfer_worker, args=(db, plan, barrier, results))
               for plan in (plan_one, plan_two)]
    for w in workers:
        w.start()
    got = [results.get(timeout=120) for _ in workers]
    for w in workers:
        w.join(timeout=30)
        assert w.exitcode == 0
    (a0, a1, one), (b0, b1, two) = got
    assert a0 < b1 and b0 < a1, f"the processes did not overlap: {got}"
    assert set(one + two) <= {"done", "insufficient_balance"}  # never a deadlock
    assert "insufficient_balance" in one + two  # x really ran dry under both

    assert all(b >= 0 for b in balances(conn, [x, y, z]))
    assert sum(balances(conn, [x, y, z])) == Decimal("200.00")
    # Every step of every account's history stayed at or above zero: each account's
    # entries are written under its row lock, so id order is the order they happened in.
    lowest = conn.execute(
        "SELECT min(running) FROM (SELECT sum(amount) OVER (PARTITION BY account_id"
        " ORDER BY id) AS running FROM ledger_entries WHERE account_id = ANY(%s)) s",
        ([x, y, z],)).fetchone()[0]
    assert lowest >= 0
    transfers = conn.execute("SELECT count(*) FROM ledger_entries WHERE kind = 'transfer'"
                             ).fetchone()[0]
    assert transfers == 2 * (one + two).count("done")
    assert ledger.verify(conn) == []
