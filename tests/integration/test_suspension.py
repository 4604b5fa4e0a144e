"""Self-suspension and account states against a real PostgreSQL: exact ledgers after every
tick (each run three times), in UTC and Europe/Moscow, a suspension that ends by itself
and one ended on request, the refusals, and the status history."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from billing import ledger
from billing.accounts import AccountStateError, set_status, status_history
from billing.charging.schedule import ChargeMethod, due_charges
from billing.money import step_charge
from billing.periods import PeriodUnit, SettlementPeriod
from billing.staff import ensure_staff
from billing.suspension import resume_account, suspend_account
from tests.integration.charging_helpers import (
    account,
    assign,
    onetime_service,
    pay,
    periodic_service,
    settlement_period,
    tariff,
    tick,
    walked_in_every_zone,
)

ZONES = ["UTC", "Europe/Moscow"]
d = Decimal


def money(conn, account_id) -> tuple[int, Decimal]:
    """(count, sum) of every entry but payments: charges, returns, the suspension fee."""
    return conn.execute(
        "SELECT count(*), coalesce(sum(amount), 0) FROM ledger_entries"
        " WHERE account_id = %s AND kind <> 'payment'", (account_id,)).fetchone()


def status(conn, account_id) -> str:
    return conn.execute("SELECT status FROM accounts WHERE id = %s", (account_id,)).fetchone()[0]


def suspendable_tariff(conn, tz, *, cost="10.00", min_balance="100.00", max_days=5):
    sp = settlement_period(conn, anchor=datetime(2026, 1, 1, tzinfo=tz))
    t = tariff(conn)
    periodic_service(conn, t, sp, "310.00", "GRADUAL")
    periodic_service(conn, t, sp, "31.00", "AT_START")
    periodic_service(conn, t, sp, "62.00", "AT_END")
    conn.execute(
        "UPDATE tariffs SET allow_self_suspension = true, suspension_cost = %s,"
        " suspension_min_balance = %s, suspension_max_days = %s WHERE id = %s",
        (Decimal(cost), Decimal(min_balance), max_days, t))
    return t


def walk(conn, tz, acc, moments, expected, actions=None):
    """Tick at each moment (three times) and compare the ledger with the entries expected
    by then; ``actions`` run right after the tick of their moment."""
    actions = actions or {}
    for at in moments:
        tick(conn, at, tz=tz)
        want = [amount for due, amount in expected if due <= at]
        assert money(conn, acc) == (len(want), sum(want, Decimal(0))), at
        if at in actions:
            actions[at]()


@pytest.mark.parametrize("tz_name", ZONES)
def test_a_suspension_ends_by_itself_and_its_time_is_not_charged(conn, tz_name, zone_results):
    zone_results[tz_name] = suspension_ending_by_itself(conn, tz_name)


def suspension_ending_by_itself(conn, tz_name: str) -> tuple[int, Decimal]:
    """A suspension that ends by itself, walked tick by tick; returns the account's money."""
    tz = ZoneInfo(tz_name)

    def local(*args):
        return datetime(*args, tzinfo=tz)

    t = suspendable_tariff(conn, tz)
    acc = account(conn)
    pay(conn, acc, "1000", local(2026, 1, 1))
    assign(conn, acc, t, local(2026, 1, 1))
    start, planned_end = local(2026, 1, 10, 12), local(2026, 1, 15, 12)
    expected = [(local(2026, 1, day), d("-10.00")) for day in (*range(1, 11), *range(16, 32))]
    expected += [
        (local(2026, 1, 1), d("-31.00")),    # AT_START January, in advance
        (start, d("-10.00")),                # the suspension's cost
        (start, d("21.50")),                 # AT_START: 21.5 unused days of 31 returned
        (start, d("-19.00")),                # AT_END: 9.5 days of 31 used before it
        (planned_end, d("-16.50")),          # AT_START: 16.5 days from the end
        (local(2026, 2, 1), d("-33.00")),    # AT_END: the 16.5 days after it
        (local(2026, 2, 1), d("-31.00")),    # AT_START February
        (local(2026, 2, 1), d("-11.07")),    # GRADUAL February, step 1 of 28
    ]
    moments = [local(2026, 1, day, 0, 30) for day in range(1, 32)] + [local(2026, 2, 1, 0, 30)]

    def suspend():
        s = suspend_account(conn, acc, at=start, tz=tz)
        assert (s.planned_until, s.cost, s.refunded) == (planned_end, d("10.00"), d("21.50"))
        assert status(conn, acc) == "suspended"

    def still_suspended():
        assert status(conn, acc) == "suspended"

    walk(conn, tz, acc, moments, expected, {local(2026, 1, 10, 0, 30): suspend,
                                            local(2026, 1, 15, 0, 30): still_suspended})
    assert status(conn, acc) == "active"
    row = conn.execute("SELECT ended_at, end_reason FROM account_suspensions"
                       " WHERE account_id = %s", (acc,)).fetchone()
    assert row == (planned_end, "max_days")
    history = [(h[0], h[1], h[2], h[3], h[4], h[6]) for h in status_history(conn, acc)]
    assert history == [
        (start, "status", "active", "suspended", "subscriber", "self-suspension"),
        (local(2026, 1, 16, 0, 30), "status", "suspended", "active", "system",
         "suspension reached its maximum days"),
    ]
    assert ledger.verify(conn) == []
    got = money(conn, acc)
    # 26 days of 10.00, 31 + 16.50 - 21.50 of AT_START, 19 + 33 of AT_END, the fee, and
    # February's first charges
    assert got == (26 + 8, d("-260.00") - 26 - 52 - 10 - 31 - d("11.07"))
    return got


def test_the_same_suspension_costs_the_same_in_every_timezone(zone_results, fresh_conn):
    money_by_zone = walked_in_every_zone(zone_results, ZONES, suspension_ending_by_itself,
                                         fresh_conn)
    assert len(ZONES) > 1 and len(set(money_by_zone)) == 1


@pytest.mark.parametrize("tz_name", ZONES)
def test_resumed_on_request_across_a_period_boundary(conn, tz_name):
    tz = ZoneInfo(tz_name)

    def local(*args):
        return datetime(*args, tzinfo=tz)

    t = suspendable_tariff(conn, tz, cost="0", max_days=60)
    onetime_service(conn, t, "50.00")
    staff = ensure_staff(conn, "cashier1", "pw", "Cashier")
    acc = account(conn)
    pay(conn, acc, "1000", local(2026, 1, 1))
    assign(conn, acc, t, local(2026, 1, 1))
    start, end = local(2026, 1, 25, 6), local(2026, 2, 8, 18)
    expected = [(local(2026, 1, 1, 12), d("-50.00")), (local(2026, 1, 1), d("-31.00"))]
    expected += [(local(2026, 1, day), d("-10.00")) for day in range(1, 26)]
    expected += [
        (start, d("6.75")),     # AT_START January: 6.75 unused days of 31 returned
        (start, d("-48.50")),   # AT_END January: 24.25 days of 31
        # February: nothing at its start (suspended); from the resume 20.25 of 28 days,
        # AT_START at the resume, AT_END at the end
        (end, d("-22.42")),
        (local(2026, 3, 1), d("-44.84")),
        (local(2026, 3, 1), d("-31.00")),   # AT_START March
        (local(2026, 3, 1), d("-10.00")),   # GRADUAL March, step 1 of 31
    ]
    # GRADUAL February: steps 9..28 of 28 (the 9th starts after the resume at 18:00 on
    # the 8th), 221.43 in all
    expected += [(local(2026, 2, k), -step_charge(d("310.00"), k, 28)) for k in range(9, 29)]
    assert sum(a for w, a in expected if local(2026, 2, 9) <= w < local(2026, 3, 1)) \
        == d("-221.43")
    moments = [local(2026, 1, 1, 12), local(2026, 1, 25, 5), local(2026, 1, 31, 23),
               local(2026, 2, 1, 3), local(2026, 2, 8, 12), local(2026, 2, 9, 1),
               local(2026, 2, 20, 1), local(2026, 3, 1, 0, 30)]
    walk(conn, tz, acc, moments, expected, {
        local(2026, 1, 25, 5): lambda: suspend_account(conn, acc, at=start, tz=tz, days=30,
                                                       staff_user_id=staff, reason="asked"),
        local(2026, 2, 8, 12): lambda: resume_account(conn, acc, at=end),
    })
    assert status(conn, acc) == "active"
    assert conn.execute("SELECT ended_at, end_reason, requested_by, staff_user_id"
                        " FROM account_suspensions WHERE account_id = %s", (acc,)).fetchone() \
        == (end, "requested", "staff", staff)
    history = [h[1:] for h in status_history(conn, acc)]
    assert history == [("status", "active", "suspended", "staff", staff, "asked"),
                       ("status", "suspended", "active", "subscriber", None,
                        "suspension ended on request")]
    assert ledger.verify(conn) == []


def test_refusals_are_reason_codes(conn):
    tz = ZoneInfo("UTC")
    t = suspendable_tariff(conn, tz, max_days=5)
    closed = tariff(conn)
    acc, poor, elsewhere, off = account(conn), account(conn), account(conn), account(conn)
    for a in (acc, poor, elsewhere, off):
        assign(conn, a, closed if a == elsewhere else t, datetime(2026, 1, 1, tzinfo=tz))
    for a in (acc, elsewhere, off):
        pay(conn, a, "500")
    pay(conn, poor, "99.99")
    set_status(conn, off, "inactive_charged", at=datetime(2026, 1, 1, tzinfo=tz))
    at = datetime(2026, 1, 5, tzinfo=tz)

    def refused(account_id, **kw):
        with pytest.raises(AccountStateError) as err:
            suspend_account(conn, account_id, at=kw.pop("at", at), tz=tz, **kw)
        return err.value.reason

    assert refused(poor) == "balance_too_low"
    assert refused(elsewhere) == "not_allowed"
    assert refused(off) == "not_active"
    assert refused(acc, days=6) == "too_long"
    assert refused(acc, days=0) == "too_short"
    assert refused(account(conn)) == "no_tariff"
    tick(conn, at)
    assert refused(acc, at=datetime(2026, 1, 4, tzinfo=tz)) == "in_the_past"
    assert refused(acc) == "in_the_past"  # the tick at this very moment decided it
    suspend_account(conn, acc, at=at + timedelta(hours=1), tz=tz, days=2)
    assert refused(acc) == "already_suspended"
    with pytest.raises(AccountStateError) as err:
        set_status(conn, acc, "active", at=at)
    assert err.value.reason == "suspended"
    with pytest.raises(AccountStateError) as err:
        resume_account(conn, poor, at=at)
    assert err.value.reason == "not_suspended"
    # the database allows one running suspension per account, whatever the code does
    with pytest.raises(Exception, match="account_suspensions_running_idx"):
        conn.execute("INSERT INTO account_suspensions (account_id, starts_at, requested_by)"
                     " VALUES (%s, %s, 'staff')", (acc, at))
    # nothing was charged for the refused attempts, 10.00 for the one that ran
    assert conn.execute("SELECT count(*), sum(amount) FROM ledger_entries"
                        " WHERE kind = 'charge_suspension'").fetchone() == (1, Decimal("-10.00"))


@pytest.mark.parametrize("tz_name", ZONES)
def test_inactive_charged_is_charged_and_inactive_uncharged_is_not(conn, tz_name):
    tz = ZoneInfo(tz_name)

    def local(*args):
        return datetime(*args, tzinfo=tz)

    sp = settlement_period(conn, anchor=local(2026, 1, 1))
    t = tariff(conn)
    periodic_service(conn, t, sp, "31.00", "GRADUAL")
    staff = ensure_staff(conn, "admin1", "pw", "Admin")
    charged, uncharged = account(conn), account(conn)
    for a in (charged, uncharged):
        assign(conn, a, t, local(2026, 1, 1))
    tick(conn, local(2026, 1, 3, 1), tz=tz)
    for a, state in ((charged, "inactive_charged"), (uncharged, "inactive_uncharged")):
        assert set_status(conn, a, state, at=local(2026, 1, 3, 2), staff_user_id=staff,
                          reason="contract paused") == "active"
    for day in (4, 5, 6):
        tick(conn, local(2026, 1, day, 1), tz=tz)
    assert money(conn, charged) == (6, Decimal("-6.00"))
    assert money(conn, uncharged) == (3, Decimal("-3.00"))
    set_status(conn, uncharged, "active", at=local(2026, 1, 6, 2))
    tick(conn, local(2026, 1, 7, 1), tz=tz)
    assert money(conn, uncharged) == (4, Decimal("-4.00"))
    assert [h[1:] for h in status_history(conn, uncharged)] == [
        ("status", "active", "inactive_uncharged", "staff", staff, "contract paused"),
        ("status", "inactive_uncharged", "active", "system", None, ""),
    ]


@pytest.mark.parametrize("method", list(ChargeMethod))
@pytest.mark.parametrize("autostart", [False, True])
def test_sql_charges_what_the_python_rule_says_for_the_parts_outside_suspensions(
        conn, method, autostart):
    """The pure rule (``schedule.due_charges``) applied to each part of the assignment
    outside its suspensions is what the ledger holds; for AT_START (charged in advance,
    then partly returned) the net per period is."""
    tz = ZoneInfo("Europe/Berlin")

    def local(*args):
        return datetime(*args, tzinfo=tz)

    anchor = None if autostart else local(2025, 12, 15, 10)
    sp = settlement_period(conn, anchor=anchor, autostart=autostart)
    t = tariff(conn)
    svc = periodic_service(conn, t, sp, "123.45", method.value, per_day=2)
    conn.execute("UPDATE tariffs SET allow_self_suspension = true, suspension_max_days = 20"
                 " WHERE id = %s", (t,))
    acc = account(conn)
    pay(conn, acc, "5000", local(2026, 1, 1))
    assigned = local(2026, 1, 3, 13, 37)
    assign(conn, acc, t, assigned)
    first, resumed = local(2026, 1, 20, 10), local(2026, 2, 2, 8)
    second = local(2026, 3, 29, 1, 30)  # the night the clocks go forward
    second_end = local(2026, 4, 1, 1, 30)
    # with a fixed anchor on the 15th, the third falls in the second one's period
    third, third_end = local(2026, 4, 5, 10), local(2026, 4, 7, 10)
    hour = timedelta(hours=1)
    actions = {  # each right after the tick an hour before it
        first - hour: lambda: suspend_account(conn, acc, at=first, tz=tz),
        resumed - hour: lambda: resume_account(conn, acc, at=resumed),
        second - hour: lambda: suspend_account(conn, acc, at=second, tz=tz, days=3),
        third - hour: lambda: suspend_account(conn, acc, at=third, tz=tz, days=2),
    }
    for at in (local(2026, 1, 15), first - hour, local(2026, 1, 21, 3), resumed - hour,
               local(2026, 3, 10), second - hour, local(2026, 3, 31, 23), third - hour,
               local(2026, 5, 2, 5)):
        tick(conn, at, tz=tz)
        if at in actions:
            actions[at]()
    assert conn.execute("SELECT ended_at FROM account_suspensions WHERE account_id = %s"
                        " ORDER BY starts_at", (acc,)).fetchall() == [
                            (resumed,), (second_end,), (third_end,)]
    period = SettlementPeriod(PeriodUnit.MONTH, anchor=anchor, autostart=autostart)
    want = []
    for start, end in ((assigned, first), (resumed, second), (second_end, third),
                       (third_end, None)):
        want += due_charges(period, method, Decimal("123.45"), 2, start, end, None,
                            local(2026, 5, 2, 5), tz, assigned_at=assigned)
    got = conn.execute(
        "SELECT effective_at, -amount, (details->>'period_start')::timestamptz"
        "  FROM ledger_entries WHERE account_id = %s AND details->>'service_id' = %s"
        " ORDER BY effective_at, id", (acc, str(svc))).fetchall()
    if method is ChargeMethod.AT_START:
        def per_period(rows):
            sums: dict = {}
            for start, amount in rows:
                sums[start] = sums.get(start, Decimal(0)) + amount
            return sums
        assert per_period((r[2], r[1]) for r in got) == per_period(
            (c.period_start, c.amount) for c in want)
    else:
        assert [(r[0], r[1]) for r in got] == [(c.due, c.amount) for c in want]
    assert ledger.verify(conn) == []


def test_a_charge_paid_in_advance_is_returned_once_with_a_tariff_change(conn):
    """A suspension after a tariff change returns only the new assignment's advance; a
    change during a suspension returns nothing more of what the suspension returned (one
    return per charge, by its key)."""
    from billing.tariff_change import change_tariff

    tz = ZoneInfo("UTC")

    def at(*args):
        return datetime(2026, 1, *args, tzinfo=tz)

    sp = settlement_period(conn)
    old, new = tariff(conn), tariff(conn)
    periodic_service(conn, old, sp, "31.00", "AT_START")
    periodic_service(conn, new, sp, "62.00", "AT_START")
    conn.execute("UPDATE tariffs SET allow_self_suspension = true, suspension_max_days = 5"
                 " WHERE id IN (%s, %s)", (old, new))
    conn.execute("INSERT INTO tariff_change_rules (from_tariff_id, to_tariff_id)"
                 " VALUES (%s, %s)", (old, new))
    first, second = account(conn), account(conn)
    for acc in (first, second):
        pay(conn, acc, "500", at(1))
        assign(conn, acc, old, at(1))
    tick(conn, at(1, 1))
    change_tariff(conn, first, new, tz=tz, at=at(10, 12))
    tick(conn, at(10, 13))
    suspend_account(conn, first, at=at(20, 12), tz=tz)
    suspend_account(conn, second, at=at(20, 12), tz=tz)
    tick(conn, at(21))
    change_tariff(conn, second, new, tz=tz, at=at(22, 12))
    for day in (23, 26, 31):
        tick(conn, at(day))
    # first: 31 - 21.50 returned at the change, 43.00 for the new tariff's 21.5 days,
    # 23.00 of it returned at the suspension, 13.00 for the 6.5 days after it
    assert money(conn, first) == (5, d("-31.00") + d("21.50") - 43 + 23 - 13)
    # second: 31 - 11.50 returned at the suspension (not again at the change), and the
    # new tariff from the suspension's end: 6.5 days of 62
    assert money(conn, second) == (3, d("-31.00") + d("11.50") - 13)
    assert ledger.verify(conn) == []

