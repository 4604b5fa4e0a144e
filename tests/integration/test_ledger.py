import threading
import time
from decimal import Decimal

import psycopg
import pytest

from billing import ledger
from tests.integration.ledger_helpers import NOW, balance, entry, make_account


def test_posting_moves_the_balance_in_the_same_transaction(conn):
    acc = make_account(conn)
    posted = ledger.post(conn, entry(acc, "500.00", "pay:1"))
    assert posted.created
    assert balance(conn, acc) == Decimal("500.00")
    ledger.post(conn, entry(acc, "-120.50", "charge:1", kind="charge_periodic"))
    assert balance(conn, acc) == Decimal("379.50")
    assert ledger.verify(conn) == []


def test_rolled_back_posting_leaves_no_trace(db):
    with psycopg.connect(db) as c:
        acc = make_account(c)
        c.commit()
        with pytest.raises(RuntimeError), c.transaction():
            ledger.post(c, entry(acc, "10.00", "pay:rb"))
            raise RuntimeError("caller failed after posting")
        assert balance(c, acc) == 0
        assert c.execute("SELECT count(*) FROM ledger_entries").fetchone()[0] == 0


def test_same_key_posts_once(conn):
    acc = make_account(conn)
    first = ledger.post(conn, entry(acc, "100.00", "gw:robokassa:42"))
    again = ledger.post(conn, entry(acc, "100.00", "gw:robokassa:42"))
    assert (first.id, first.created, again.id, again.created) == (first.id, True, first.id, False)
    assert balance(conn, acc) == Decimal("100.00")


def test_same_key_with_other_amount_is_an_error_not_a_silent_success(conn):
    acc = make_account(conn)
    ledger.post(conn, entry(acc, "100.00", "k"))
    with pytest.raises(ledger.LedgerError, match="already used"):
        ledger.post(conn, entry(acc, "99.00", "k"))


def test_entries_cannot_be_updated_deleted_or_truncated(conn):
    acc = make_account(conn)
    ledger.post(conn, entry(acc, "5.00", "k1"))
    for statement in ("UPDATE ledger_entries SET amount = 6", "DELETE FROM ledger_entries",
                      "TRUNCATE ledger_entries CASCADE"):
        with pytest.raises(psycopg.errors.RestrictViolation, match="append-only"):
            conn.execute(statement)
    assert balance(conn, acc) == Decimal("5.00")


def test_balance_cannot_be_changed_behind_the_ledgers_back(conn):
    acc = make_account(conn)
    with pytest.raises(psycopg.errors.RestrictViolation, match="only through ledger_entries"):
        conn.execute("UPDATE accounts SET balance = 1000 WHERE id = %s", (acc,))
    with pytest.raises(psycopg.errors.CheckViolation, match="starts with balance 0"):
        conn.execute("INSERT INTO accounts (contract, login, balance) VALUES ('x', 'x', 5)")
    conn.execute("UPDATE accounts SET full_name = 'Иванов' WHERE id = %s", (acc,))


def test_reversal_cancels_once_and_cannot_itself_be_reversed(conn):
    acc = make_account(conn)
    wrong = ledger.post(conn, entry(acc, "250.00", "cash:7"))
    rev = ledger.reverse(conn, wrong.id, effective_at=NOW, reason="typo")
    assert balance(conn, acc) == 0
    assert ledger.reverse(conn, wrong.id, effective_at=NOW).id == rev.id
    assert balance(conn, acc) == 0
    with pytest.raises(ledger.LedgerError, match="is a reversal"):
        ledger.reverse(conn, rev.id, effective_at=NOW)
    with pytest.raises(ledger.LedgerError, match="does not exist"):
        ledger.reverse(conn, 999_999, effective_at=NOW)


def test_post_many_is_one_statement_and_skips_duplicates(conn):
    a, b = make_account(conn, "1"), make_account(conn, "2")
    batch = [entry(a, "-1.00", f"tick:{i}", kind="charge_periodic") for i in range(1, 1001)]
    batch += [entry(b, "3.00", "pay:b"), entry(b, "3.00", "pay:b")]
    assert ledger.post_many(conn, batch) == 1001
    assert ledger.post_many(conn, batch) == 0
    assert balance(conn, a) == Decimal("-1000.00")
    assert balance(conn, b) == Decimal("3.00")
    assert ledger.verify(conn) == []


def test_duplicate_key_from_two_concurrent_connections_posts_once(db):
    """Two connections post one key at once: the second is seen waiting on the first's
    lock while the first's transaction is still open (the two overlap), and once the
    first commits, the second finds its entry instead of posting again."""
    with psycopg.connect(db, autocommit=True) as c:
        acc = make_account(c)
    results, errors = [], []
    with (psycopg.connect(db) as first, psycopg.connect(db) as second,
          psycopg.connect(db, autocommit=True) as observer):

        def post_second():
            try:
                with second.transaction():
                    results.append(ledger.post(second, entry(acc, "70.00", "gw:payme:dup")))
            except Exception as exc:  # collected and asserted below
                errors.append(exc)

        later = threading.Thread(target=post_second)
        with first.transaction():
            results.append(ledger.post(first, entry(acc, "70.00", "gw:payme:dup")))
            later.start()
            blockers, waiting = _blocked_on(observer, second.info.backend_pid)
            # The first posting's transaction is still open and the second is inside its
            # own posting, waiting for the first's lock: they overlapped.
            assert first.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
            assert first.info.backend_pid in blockers
            assert waiting == "Lock"
            assert len(results) == 1 and later.is_alive()
        later.join(timeout=30)
    assert not later.is_alive()
    assert errors == []
    assert sorted(r.created for r in results) == [False, True]
    with psycopg.connect(db) as c:
        assert balance(c, acc) == Decimal("70.00")
        assert c.execute("SELECT count(*) FROM ledger_entries").fetchone()[0] == 1


def _blocked_on(observer, pid: int, timeout: float = 30.0) -> tuple[list[int], str | None]:
    """The backends ``pid`` waits for and its wait event type, once it waits on a lock."""
    deadline = time.monotonic() + timeout
    while True:
        blockers, waiting = observer.execute(
            "SELECT pg_blocking_pids(%s), (SELECT wait_event_type FROM pg_stat_activity"
            " WHERE pid = %s)", (pid, pid)).fetchone()
        if (blockers and waiting == "Lock") or time.monotonic() > deadline:
            return blockers, waiting
        time.sleep(0.01)


def test_verify_names_a_corrupted_account(conn):
    good, bad = make_account(conn, "100"), make_account(conn, "200")
    ledger.post(conn, entry(good, "10.00", "a"))
    ledger.post(conn, entry(bad, "10.00", "b"))
    with conn.transaction():
        # Only the owner, who may alter the table, gets past the guard.
        conn.execute("ALTER TABLE accounts DISABLE TRIGGER accounts_guard_balance_update")
        conn.execute("UPDATE accounts SET balance = balance + 1 WHERE id = %s", (bad,))
        conn.execute("ALTER TABLE accounts ENABLE TRIGGER accounts_guard_balance_update")
    [mismatch] = ledger.verify(conn)
    assert (mismatch.account_id, mismatch.contract) == (bad, "200")
    assert (mismatch.balance, mismatch.ledger_sum) == (Decimal("11.00"), Decimal("10.00"))
