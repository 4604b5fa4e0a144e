"""Report totals kept by the ledger's insert trigger: writers append and never wait on
each other; the fold merges rows without changing any sum."""

from decimal import Decimal

import psycopg

from billing import ledger
from tests.integration.ledger_helpers import entry, make_account

_SUMS = ("SELECT kind, staff_user_id, sum(entries)::bigint, sum(amount) FROM ledger_totals"
         " GROUP BY 1, 2 ORDER BY 1, 2")


def test_two_open_transactions_add_to_one_bucket_without_waiting(db):
    with psycopg.connect(db) as setup:
        first_acc, second_acc = make_account(setup, "2001"), make_account(setup, "2002")
        setup.commit()
    with psycopg.connect(db) as first, psycopg.connect(db) as second:
        ledger.post(first, entry(first_acc, "-10.00", "c:1", kind="charge_periodic"))
        # Same bucket, kind, source and operator while the first is still open: a shared
        # totals row would make this insert wait for the first's commit.
        second.execute("SET lock_timeout = '1s'")
        ledger.post(second, entry(second_acc, "-15.00", "c:2", kind="charge_periodic"))
        second.commit()
        first.commit()
        rows = first.execute(_SUMS).fetchall()
    assert rows == [("charge_periodic", 0, 2, Decimal("-25.00"))]


def test_fold_merges_each_key_into_one_row_and_keeps_every_sum(conn):
    acc = make_account(conn)
    for n in range(5):
        ledger.post(conn, entry(acc, "100.00", f"p:{n}"))
        ledger.post(conn, entry(acc, "-7.50", f"c:{n}", kind="charge_periodic"))
    before = conn.execute(_SUMS).fetchall()
    assert conn.execute("SELECT count(*) FROM ledger_totals").fetchone()[0] == 10
    assert conn.execute("SELECT ebs_ledger_totals_fold()").fetchone()[0] == 8
    assert conn.execute("SELECT count(*) FROM ledger_totals").fetchone()[0] == 2
    assert conn.execute(_SUMS).fetchall() == before == [
        ("charge_periodic", 0, 5, Decimal("-37.50")), ("payment", 0, 5, Decimal("500.00"))]
    assert conn.execute("SELECT ebs_ledger_totals_fold()").fetchone()[0] == 0
