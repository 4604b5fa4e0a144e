"""Tariff change against a real PostgreSQL: the matrix, a change at 13:37 with its exact
prorated ledger, scheduled changes applied by the tick once, admins' bulk changes."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest

from billing import ledger
from billing.charging.tick import charge
from billing.staff import ensure_staff
from billing.tariff_change import (
    TariffChangeError,
    apply_scheduled_changes,
    bulk_change_tariff,
    cancel_scheduled_change,
    change_tariff,
)
from tests.integration.charging_helpers import (
    account,
    assign,
    pay,
    periodic_service,
    settlement_period,
    tariff,
    tick,
)


def d(*args):
    return datetime(*args, tzinfo=UTC)


MARCH = d(2026, 3, 1)


def rule(conn, from_id, to_id, *, allowed=True, cost="0", min_balance="0",
         min_time=timedelta(0), effective="NOW"):
    conn.execute(
        "INSERT INTO tariff_change_rules (from_tariff_id, to_tariff_id, allowed, cost,"
        " min_balance, min_time_on_tariff, effective) VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (from_id, to_id, allowed, Decimal(cost), Decimal(min_balance), min_time, effective))


@pytest.fixture
def tariffs(conn):
    """OLD: AT_START 310, GRADUAL 31, AT_END 93 a month; NEW: AT_START 620, GRADUAL 62."""
    sp = settlement_period(conn)
    old, new = tariff(conn), tariff(conn)
    conn.execute("UPDATE tariffs SET settlement_period_id = %s WHERE id IN (%s, %s)",
                 (sp, old, new))
    periodic_service(conn, old, sp, "310.00", "AT_START")
    periodic_service(conn, old, sp, "31.00", "GRADUAL")
    periodic_service(conn, old, sp, "93.00", "AT_END")
    periodic_service(conn, new, sp, "620.00", "AT_START")
    periodic_service(conn, new, sp, "62.00", "GRADUAL")
    return old, new


def entries(conn, account_id, since=None):
    return sorted(tuple(r) for r in conn.execute(
        "SELECT kind, effective_at, amount FROM ledger_entries WHERE account_id = %s"
        " AND kind <> 'payment' AND (%s::timestamptz IS NULL OR created_at >= %s)",
        (account_id, since, since)))


def counts(conn):
    return conn.execute(
        "SELECT (SELECT count(*) FROM ledger_entries), (SELECT count(*) FROM account_tariffs),"
        " (SELECT count(*) FROM tariff_changes), (SELECT sum(balance) FROM accounts)"
    ).fetchone()


def test_a_change_at_13_37_mid_month_prorates_exactly(conn, tariffs):
    old, new = tariffs
    rule(conn, old, new, cost="50.00", min_balance="100", min_time=timedelta(days=7))
    acc = account(conn)
    pay(conn, acc, "2000", d(2026, 2, 20))
    assign(conn, acc, old, MARCH)
    tick(conn, d(2026, 3, 1, 0, 30))
    tick(conn, d(2026, 3, 15, 0, 30))  # GRADUAL days 1..15 of the old tariff

    switch = d(2026, 3, 15, 13, 37)
    result = change_tariff(conn, acc, new, tz=UTC, at=switch)
    assert result.applied and result.effective_at == switch and result.cost == Decimal("50.00")
    assert conn.execute(
        "SELECT tariff_id, assigned_at FROM account_tariffs WHERE account_id = %s"
        " ORDER BY assigned_at", (acc,)).fetchall() == [(old, MARCH), (new, switch)]

    tick(conn, d(2026, 3, 15, 14))
    tick(conn, d(2026, 4, 1, 0, 30))

    # Position of 13:37 on the 15th: 14 days 13h37m = 1,258,620 of 2,678,400 units.
    gradual_old = [("charge_periodic", d(2026, 3, day), Decimal("-1.00")) for day in range(1, 16)]
    gradual_new = [("charge_periodic", d(2026, 3, day), Decimal("-2.00")) for day in range(16, 32)]
    expected = sorted([
        ("charge_periodic", MARCH, Decimal("-310.00")),         # old AT_START, whole March
        *gradual_old,                                           # steps begun before 13:37
        ("charge_periodic", switch, Decimal("-328.65")),        # new AT_START 620 − 291.35
        ("charge_periodic", switch, Decimal("-43.70")),         # old AT_END 93·pos/total
        ("charge_tariff_change", switch, Decimal("-50.00")),    # the matrix cost
        ("refund_periodic", switch, Decimal("164.33")),         # 310 − 145.67 kept
        *gradual_new,                                           # steps from the 16th
        ("charge_periodic", d(2026, 4, 1), Decimal("-620.00")),  # April, new AT_START
        ("charge_periodic", d(2026, 4, 1), Decimal("-2.07")),    # April 1st: 62 / 30 days
    ])
    assert entries(conn, acc) == expected
    balance = conn.execute("SELECT balance FROM accounts WHERE id = %s", (acc,)).fetchone()[0]
    assert balance == Decimal("2000.00") + sum(a for _, _, a in expected)
    change = conn.execute(
        "SELECT status, source, from_tariff_id, cost FROM tariff_changes WHERE id = %s",
        (result.change_id,)).fetchone()
    assert change == ("applied", "matrix", old, Decimal("50.00"))
    assert ledger.verify(conn) == []


def test_refused_changes_raise_a_code_and_write_nothing(conn, tariffs):
    old, new = tariffs
    third, inactive = tariff(conn), tariff(conn)
    conn.execute("UPDATE tariffs SET active = false WHERE id = %s", (inactive,))
    rule(conn, old, new, cost="10", min_balance="100", min_time=timedelta(days=7))
    rule(conn, old, third, allowed=False)
    acc = account(conn)
    pay(conn, acc, "50", d(2026, 2, 20))
    assign(conn, acc, old, MARCH)
    tick(conn, d(2026, 3, 1, 0, 30), times=1)
    pay(conn, acc, "400", d(2026, 3, 1, 1))
    before = counts(conn)

    def refused(code, to, at, account_id=acc):
        with pytest.raises(TariffChangeError) as caught:
            change_tariff(conn, account_id, to, tz=UTC, at=at)
        assert caught.value.code == code, caught.value
        assert counts(conn) == before

    refused("too_early", new, d(2026, 3, 7, 23, 59))
    refused("not_allowed", third, d(2026, 3, 10))        # the matrix says no
    refused("not_allowed", tariff(conn), d(2026, 3, 10))  # no cell at all
    refused("same_tariff", old, d(2026, 3, 10))
    refused("unknown_tariff", 999_999, d(2026, 3, 10))
    refused("tariff_inactive", inactive, d(2026, 3, 10))
    refused("before_last_tick", new, d(2026, 3, 1, 0, 30))
    refused("no_tariff", new, d(2026, 3, 10), account_id=account(conn))
    refused("unknown_account", new, d(2026, 3, 10), account_id=999_999)
    # 450 paid, 310 + 1 charged: 139 left; a correction of -40 takes it under 100
    ledger.post(conn, ledger.Entry(acc, "correction", Decimal("-40"), "fix:1", MARCH))
    before = counts(conn)
    refused("balance_below_minimum", new, d(2026, 3, 10))


def test_a_change_at_the_next_period_is_applied_once_by_a_tick_run_three_times(conn, tariffs):
    old, new = tariffs
    rule(conn, old, new, cost="20.00", effective="NEXT_PERIOD")
    acc = account(conn)
    pay(conn, acc, "2000", d(2026, 2, 20))
    assign(conn, acc, old, MARCH)
    tick(conn, d(2026, 3, 15, 0, 30))

    result = change_tariff(conn, acc, new, tz=UTC, at=d(2026, 3, 15, 13, 37))
    assert not result.applied and result.effective_at == d(2026, 4, 1)
    with pytest.raises(TariffChangeError) as caught:
        change_tariff(conn, acc, new, tz=UTC, at=d(2026, 3, 16))
    assert caught.value.code == "change_pending"

    tick(conn, d(2026, 3, 31, 23))  # not due yet
    charge(conn, d(2026, 4, 1, 0, 30), UTC, dry_run=True)  # shows it, writes nothing
    assert conn.execute("SELECT status FROM tariff_changes").fetchone()[0] == "pending"
    assert conn.execute("SELECT count(*) FROM account_tariffs").fetchone()[0] == 1

    since = conn.execute("SELECT now()").fetchone()[0]
    tick(conn, d(2026, 4, 1, 0, 30))  # three runs: the change is applied by the first
    assert conn.execute(
        "SELECT tariff_id, assigned_at FROM account_tariffs WHERE account_id = %s"
        " ORDER BY assigned_at", (acc,)).fetchall() == [(old, MARCH), (new, d(2026, 4, 1))]
    assert conn.execute("SELECT status, assignment_id IS NOT NULL FROM tariff_changes"
                        ).fetchone() == ("applied", True)
    assert entries(conn, acc, since) == sorted([
        ("charge_periodic", d(2026, 4, 1), Decimal("-620.00")),  # April by the new tariff
        ("charge_periodic", d(2026, 4, 1), Decimal("-93.00")),   # March AT_END, old tariff
        ("charge_periodic", d(2026, 4, 1), Decimal("-2.07")),
        ("charge_tariff_change", d(2026, 4, 1), Decimal("-20.00")),
    ])
    # Applying again (the step run by itself, as a second worker would) changes nothing.
    assert apply_scheduled_changes(conn, d(2026, 4, 2), UTC) == 0
    assert conn.execute("SELECT count(*) FROM account_tariffs").fetchone()[0] == 2
    assert ledger.verify(conn) == []


def test_a_scheduled_change_is_cancelled_when_its_tariff_was_left(conn, tariffs):
    old, new = tariffs
    third = tariff(conn)
    rule(conn, old, new, effective="NEXT_PERIOD")
    acc = account(conn)
    assign(conn, acc, old, MARCH)
    change_tariff(conn, acc, new, tz=UTC, at=d(2026, 3, 10))
    assert cancel_scheduled_change(conn, acc, at=d(2026, 3, 11))
    assert not cancel_scheduled_change(conn, acc, at=d(2026, 3, 11))
    change_tariff(conn, acc, new, tz=UTC, at=d(2026, 3, 12))
    assign(conn, acc, third, d(2026, 3, 20))  # moved by hand meanwhile
    tick(conn, d(2026, 4, 1, 0, 30))
    assert conn.execute(
        "SELECT status, reason FROM tariff_changes ORDER BY id").fetchall() == [
        ("cancelled", "cancelled before it took effect"),
        ("cancelled", "the account left the tariff the change was made from")]
    assert conn.execute("SELECT count(*) FROM account_tariffs").fetchone()[0] == 2


def test_bulk_change_bypasses_the_matrix_and_records_the_operator(conn, tariffs):
    old, new = tariffs
    third = tariff(conn)
    rule(conn, old, third, cost="99", min_balance="-1000", effective="NEXT_PERIOD")
    admin = ensure_staff(conn, "bulkadmin", "secret-pw", "Admin")
    on_old = [account(conn) for _ in range(10)]
    on_new = [account(conn) for _ in range(10)]
    without = [account(conn) for _ in range(5)]
    for acc in on_old:
        assign(conn, acc, old, MARCH)
    for acc in on_new:
        assign(conn, acc, new, MARCH)
    tick(conn, d(2026, 3, 1, 0, 30))
    change_tariff(conn, on_old[0], third, tz=UTC, at=d(2026, 3, 5))  # scheduled for April

    at = d(2026, 3, 10, 12)
    everyone = on_old + on_new + without + [999_999]
    result = bulk_change_tariff(conn, everyone, new, staff_user_id=admin, tz=UTC, at=at,
                                chunk_accounts=4)
    assert (result.changed, result.unchanged) == (15, 11)
    rows = conn.execute(
        "SELECT account_id, from_tariff_id, cost, staff_user_id FROM tariff_changes"
        " WHERE source = 'bulk' AND status = 'applied' ORDER BY account_id").fetchall()
    assert rows == [(a, old, Decimal("0.00"), admin) for a in on_old] + [
        (a, None, Decimal("0.00"), admin) for a in without]
    assert conn.execute(
        "SELECT status, reason FROM tariff_changes WHERE source = 'matrix'").fetchone() == (
        "cancelled", "superseded by a bulk change")
    assert conn.execute(
        "SELECT count(*) FROM account_tariffs WHERE tariff_id = %s AND assigned_at = %s",
        (new, at)).fetchone()[0] == 15
    # No matrix cost; the old AT_START 310 kept for 9.5 of 31 days (95.00), 215.00 back.
    assert conn.execute(
        "SELECT kind, count(*), sum(amount) FROM ledger_entries"
        " WHERE kind IN ('charge_tariff_change', 'refund_periodic') GROUP BY kind"
    ).fetchall() == [("refund_periodic", 10, Decimal("2150.00"))]

    again = bulk_change_tariff(conn, everyone, new, staff_user_id=admin, tz=UTC,
                               at=at + timedelta(hours=1))
    assert (again.changed, again.unchanged) == (0, 26)
    tick(conn, d(2026, 4, 1, 0, 30))
    assert conn.execute("SELECT count(*) FROM tariff_changes WHERE status = 'pending'"
                        ).fetchone()[0] == 0
    assert ledger.verify(conn) == []


def test_two_ticks_at_once_apply_a_scheduled_change_once(db, conn, tariffs):
    old, new = tariffs
    rule(conn, old, new, cost="20.00", effective="NEXT_PERIOD")
    acc = account(conn)
    assign(conn, acc, old, MARCH)
    change_tariff(conn, acc, new, tz=UTC, at=d(2026, 3, 15))
    applied = {}
    with psycopg.connect(db, autocommit=True) as first, \
            psycopg.connect(db, autocommit=True) as second:

        def run_second():
            applied["second"] = apply_scheduled_changes(second, d(2026, 4, 1, 1), UTC)

        with first.transaction():
            applied["first"] = apply_scheduled_changes(first, d(2026, 4, 1, 1), UTC)
            thread = threading.Thread(target=run_second)
            thread.start()
            # The second waits on the change row's lock while the first holds it.
            for _ in range(500):
                waiting = conn.execute(
                    "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = %s",
                    (second.info.backend_pid,)).fetchone()[0]
                if waiting:
                    break
                time.sleep(0.01)
            assert waiting and "second" not in applied
        thread.join()
    assert applied == {"first": 1, "second": 0}
    assert conn.execute("SELECT count(*) FROM account_tariffs").fetchone()[0] == 2
    assert conn.execute("SELECT count(*) FROM ledger_entries WHERE kind = 'charge_tariff_change'"
                        ).fetchone()[0] == 1
