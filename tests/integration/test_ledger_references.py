"""An entry's account and kind exist, checked once per statement by the ledger's triggers
(no per-row foreign keys): refused postings, refused deletes, and the races between them."""

import threading
import time
from decimal import Decimal

import psycopg
import pytest

from billing import ledger
from tests.integration.ledger_helpers import balance, entry, make_account

MISSING = 987_654_321


def _entries(conn) -> int:
    return conn.execute("SELECT count(*) FROM ledger_entries").fetchone()[0]


def test_posting_to_a_missing_account_is_refused_and_leaves_nothing(conn):
    acc = make_account(conn)
    with pytest.raises(psycopg.errors.ForeignKeyViolation, match="do not exist"):
        ledger.post(conn, entry(MISSING, "10.00", "pay:ghost"))
    batch = [entry(acc, "5.00", "pay:real"), entry(MISSING, "5.00", "pay:ghost2")]
    with pytest.raises(psycopg.errors.ForeignKeyViolation, match="1 account"):
        ledger.post_many(conn, batch)
    assert (_entries(conn), balance(conn, acc)) == (0, 0)


def test_unknown_kind_is_refused_known_kinds_pass(conn):
    acc = make_account(conn)
    with pytest.raises(psycopg.errors.ForeignKeyViolation, match="unknown ledger entry kind"):
        ledger.post_many(conn, [entry(acc, "1.00", "a"),
                                entry(acc, "1.00", "b", kind="no_such_kind")])
    assert _entries(conn) == 0
    conn.execute("INSERT INTO ledger_entry_kinds VALUES ('bonus', 'Bonus', 'Бонус')")
    assert ledger.post_many(conn, [entry(acc, "1.00", "a"), entry(acc, "2.00", "b", "bonus")]) == 2
    assert balance(conn, acc) == Decimal("3.00")


def test_an_account_with_entries_keeps_its_row_and_id(conn):
    used, unused = make_account(conn, "1"), make_account(conn, "2")
    ledger.post(conn, entry(used, "1.00", "k"))
    for statement in ("DELETE FROM accounts WHERE id = %s",
                      "UPDATE accounts SET id = id + 1000 WHERE id = %s"):
        with pytest.raises(psycopg.errors.ForeignKeyViolation, match="has ledger entries"):
            conn.execute(statement, (used,))
    with pytest.raises(psycopg.errors.ForeignKeyViolation, match="TRUNCATE refused"):
        conn.execute("TRUNCATE accounts CASCADE")
    conn.execute("UPDATE accounts SET full_name = 'Петров' WHERE id = %s", (used,))
    conn.execute("DELETE FROM accounts WHERE id = %s", (unused,))
    assert ledger.verify(conn) == []


def test_a_used_kind_cannot_be_deleted_or_renamed(conn):
    ledger.post(conn, entry(make_account(conn), "1.00", "k"))
    for statement in ("DELETE FROM ledger_entry_kinds WHERE code = 'payment'",
                      "UPDATE ledger_entry_kinds SET code = 'pay' WHERE code = 'payment'",
                      "TRUNCATE ledger_entry_kinds CASCADE"):
        with pytest.raises(psycopg.errors.ForeignKeyViolation, match="in use"):
            conn.execute(statement)
    conn.execute("UPDATE ledger_entry_kinds SET title_en = 'Payment in' WHERE code = 'payment'")
    conn.execute("DELETE FROM ledger_entry_kinds WHERE code = 'charge_time'")


def _wait_until_blocked(conn, pid: int) -> None:
    """Return once backend ``pid`` waits for a lock (proof that the two overlap)."""
    for _ in range(500):
        row = conn.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s",
                           (pid,)).fetchone()
        if row and row[0] == "Lock":
            return
        time.sleep(0.01)
    raise AssertionError(f"backend {pid} never waited for a lock")


def _in_thread(db, work):
    """Run ``work(conn)`` on a new connection in a thread; returns (thread, pid, outcome)."""
    outcome, ready = {}, threading.Event()

    def run():
        with psycopg.connect(db, autocommit=True) as c:
            outcome["pid"] = c.info.backend_pid
            ready.set()
            try:
                work(c)
            except psycopg.Error as exc:
                outcome["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    ready.wait(10)
    return thread, outcome["pid"], outcome


def test_delete_waiting_for_an_open_posting_is_refused_after_it_commits(db):
    with psycopg.connect(db, autocommit=True) as setup:
        acc = make_account(setup)
    with psycopg.connect(db) as poster:
        poster.execute("SELECT 1")  # a transaction is open: the posting stays uncommitted
        ledger.post(poster, entry(acc, "50.00", "pay:race"))
        thread, pid, outcome = _in_thread(
            db, lambda c: c.execute("DELETE FROM accounts WHERE id = %s", (acc,)))
        with psycopg.connect(db, autocommit=True) as watch:
            _wait_until_blocked(watch, pid)
        poster.commit()
        thread.join(10)
    assert isinstance(outcome.get("error"), psycopg.errors.ForeignKeyViolation)
    with psycopg.connect(db) as c:
        assert (balance(c, acc), ledger.verify(c)) == (Decimal("50.00"), [])


def test_posting_waiting_for_an_open_delete_fails_once_the_account_is_gone(db):
    with psycopg.connect(db, autocommit=True) as setup:
        acc = make_account(setup)
    with psycopg.connect(db) as deleter:
        deleter.execute("DELETE FROM accounts WHERE id = %s", (acc,))
        thread, pid, outcome = _in_thread(
            db, lambda c: ledger.post(c, entry(acc, "50.00", "pay:late")))
        with psycopg.connect(db, autocommit=True) as watch:
            _wait_until_blocked(watch, pid)
        deleter.commit()
        thread.join(10)
    assert isinstance(outcome.get("error"), psycopg.errors.ForeignKeyViolation)
    with psycopg.connect(db) as c:
        assert _entries(c) == 0
