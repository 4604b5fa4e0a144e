"""The charge tick against a real PostgreSQL: exact ledgers, each tick run three times."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import psycopg
import pytest
from click.testing import CliRunner

from billing import ledger
from billing.charging.schedule import ChargeMethod, day_bounds_of_period, due_charges, position
from billing.charging.tick import charge
from billing.periods import PeriodUnit, SettlementPeriod
from cli.main import cli
from tests.conftest import ebs_env
from tests.integration.charging_helpers import (
    account,
    assign,
    charges,
    forget_ticks,
    ledger_state,
    onetime_service,
    pay,
    periodic_service,
    settlement_period,
    tariff,
    tick,
)

BERLIN = ZoneInfo("Europe/Berlin")
JAN = datetime(2026, 1, 1, tzinfo=UTC)


def d(*args, tz=UTC):
    return datetime(*args, tzinfo=tz)


def test_sql_position_is_the_twin_of_python(conn):
    start, end = d(2026, 3, 1, tz=BERLIN), d(2026, 4, 1, tz=BERLIN)
    bounds = day_bounds_of_period(start.astimezone(UTC), end.astimezone(UTC), BERLIN)
    moments = [start - timedelta(hours=1), start, d(2026, 3, 29, 1, 59, 59, 999999, tz=BERLIN),
               d(2026, 3, 29, 12, tz=BERLIN), d(2026, 3, 29, 23, 59, 59, tz=BERLIN),
               d(2026, 3, 17, 13, 37, 0, 1, tz=BERLIN), end, end + timedelta(days=3)]
    for moment in moments:
        sql = conn.execute("SELECT ebs_charging_position(%s, %s)",
                           (moment, list(bounds))).fetchone()[0]
        assert sql == position(moment, bounds), moment


def test_three_methods_with_a_prorated_first_period_and_exact_ledgers(conn):
    sp = settlement_period(conn)
    t = tariff(conn)
    gradual = periodic_service(conn, t, sp, "310.00", "GRADUAL")
    periodic_service(conn, t, sp, "100.00", "AT_START")
    periodic_service(conn, t, sp, "100.00", "AT_END")
    acc = account(conn)
    pay(conn, acc, "1000")
    assign(conn, acc, t, d(2026, 1, 10, 12))

    s = tick(conn, d(2026, 1, 10, 12))  # the AT_START piece: 21.5 of 31 days
    assert (s.entries, s.amount) == (1, Decimal("69.35"))
    assert ledger_state(conn, acc) == (1, Decimal("-69.35"))

    s = tick(conn, d(2026, 1, 31, 23, 59))  # GRADUAL days 11..31 (day 10 began before)
    assert (s.entries, s.amount) == (21, Decimal("210.00"))

    s = tick(conn, d(2026, 2, 1))  # new period: AT_START whole, AT_END prorated, step 1
    assert sorted(amount for _, amount, _ in charges(conn, acc)[-3:]) == [
        Decimal("-100.00"), Decimal("-69.35"), Decimal("-11.07")]
    assert ledger_state(conn, acc) == (25, Decimal("-459.77"))

    s = tick(conn, d(2026, 3, 1))  # 27 more GRADUAL steps of February, then March
    # 298.93 (Feb steps 2..28) + 10.00 (Mar step 1) + 100 AT_START + 100 AT_END of Feb
    assert ledger_state(conn, acc) == (25 + 27 + 3, Decimal("-968.70"))
    feb = conn.execute(
        "SELECT count(*), sum(amount) FROM ledger_entries WHERE details->>'service_id' = %s"
        " AND (details->>'period_start')::timestamptz = '2026-02-01T00:00Z'",
        (str(gradual),)).fetchone()
    assert feb == (28, Decimal("-310.00"))
    assert ledger.verify(conn) == []


def test_a_31_day_month_at_one_charge_a_day_sums_to_the_cost(conn):
    sp = settlement_period(conn)
    t = tariff(conn)
    periodic_service(conn, t, sp, "100.00", "GRADUAL")
    acc = account(conn)
    assign(conn, acc, t, JAN)
    for day in range(1, 32):
        tick(conn, d(2026, 1, day, 6))
    assert ledger_state(conn, acc) == (31, Decimal("-100.00"))


def test_dst_month_in_berlin_charges_like_utc(conn):
    results = {}
    for tz in ("UTC", "Europe/Berlin"):
        zone = ZoneInfo(tz)
        sp = settlement_period(conn, anchor=d(2026, 1, 1, tz=zone))
        t = tariff(conn)
        periodic_service(conn, t, sp, "310.00", "GRADUAL", per_day=24)
        periodic_service(conn, t, sp, "77.77", "AT_START")
        acc = account(conn)
        forget_ticks(conn)  # each zone's month from scratch: March is not charged yet
        assign(conn, acc, t, d(2026, 3, 10, 13, 37, tz=zone))
        for day in (15, 29, 30):
            tick(conn, d(2026, 3, day, 12, tz=zone), tz=zone)
        tick(conn, d(2026, 4, 1, tz=zone), tz=zone)
        results[tz] = (ledger_state(conn, acc),
                       [a for _, a, _ in charges(conn, acc)])
    assert results["UTC"] == results["Europe/Berlin"]
    # 21 days + 10h23m of 31 at 24 steps a day: steps from 14:00 on the 10th.
    assert results["UTC"][0][0] == 1 + 10 + 21 * 24 + 1 + 1


def test_catch_up_after_three_days_down_charges_each_day_once(conn):
    sp = settlement_period(conn)
    t = tariff(conn)
    periodic_service(conn, t, sp, "31.00", "GRADUAL")
    acc = account(conn)
    assign(conn, acc, t, JAN)
    tick(conn, d(2026, 1, 5, 1))
    assert ledger_state(conn, acc) == (5, Decimal("-5.00"))
    tick(conn, d(2026, 1, 8, 1))  # the worker was off on the 6th, 7th and 8th
    assert ledger_state(conn, acc) == (8, Decimal("-8.00"))
    assert [e.day for e, _, _ in charges(conn, acc)] == list(range(1, 9))


def test_a_rerun_from_scratch_is_stopped_by_the_keys_alone(conn):
    sp = settlement_period(conn)
    auto = settlement_period(conn, unit="DAY", anchor=None, autostart=True)
    t = tariff(conn)
    periodic_service(conn, t, sp, "31.00", "GRADUAL", per_day=3)
    periodic_service(conn, t, sp, "45.00", "AT_END")
    periodic_service(conn, t, auto, "2.00", "AT_START")
    onetime_service(conn, t, "10.00")
    accs = [account(conn) for _ in range(5)]
    for i, acc in enumerate(accs):
        pay(conn, acc, "100")
        assign(conn, acc, t, d(2026, 1, 3 + i, 7 * i % 24, 13))
    for day in (4, 9, 20):
        tick(conn, d(2026, 2, day))
    before = conn.execute(
        "SELECT idempotency_key, amount FROM ledger_entries ORDER BY 1").fetchall()
    forget_ticks(conn)
    s = tick(conn, d(2026, 2, 20))
    assert s.entries == 0
    assert conn.execute(
        "SELECT idempotency_key, amount FROM ledger_entries ORDER BY 1").fetchall() == before


@pytest.mark.parametrize("method", list(ChargeMethod))
@pytest.mark.parametrize("autostart", [False, True])
@pytest.mark.parametrize("chunk", [50_000, 1], ids=["one-worker", "two-workers"])
def test_sql_charges_exactly_what_the_python_rule_says(conn, method, autostart, chunk):
    """Spans starting and ending anywhere, in Berlin, ticked at odd moments; by one
    connection, or (chunks of one account) by two, each charging half of the accounts."""
    anchor = None if autostart else d(2025, 12, 15, 10, tz=BERLIN)
    sp = settlement_period(conn, unit="MONTH", anchor=anchor, autostart=autostart)
    t1, t2 = tariff(conn), tariff(conn)
    active_until = d(2026, 5, 20, 13, tz=BERLIN)
    svc = periodic_service(conn, t1, sp, "123.45", method.value, per_day=2,
                           active_from=d(2026, 1, 2, tz=BERLIN), active_until=active_until)
    spans = [(d(2025, 12, 20, 13, 37, tz=BERLIN), d(2026, 3, 29, 2, 30, tz=UTC)),
             (d(2026, 1, 31, 23, 59, tz=BERLIN), None),
             (d(2026, 3, 1, tz=BERLIN), d(2026, 3, 1, 0, 0, 1, tz=BERLIN)),
             (d(2026, 2, 10, 8, tz=BERLIN), d(2026, 4, 17, 13, 37, tz=BERLIN))]
    accs = []
    for start, end in spans:
        acc = account(conn)
        assign(conn, acc, t1, start)
        if end is not None:
            assign(conn, acc, t2, end)
        accs.append(acc)
    ticks = [d(2026, 1, 20, tz=BERLIN), d(2026, 3, 29, 3, tz=BERLIN), d(2026, 3, 31, tz=BERLIN),
             d(2026, 6, 2, 5, tz=BERLIN)]
    for at in ticks:
        summary = tick(conn, at, tz=BERLIN, chunk_accounts=chunk)
        assert summary.chunks == (1 if chunk > len(accs) else summary.accounts)
    period = SettlementPeriod(PeriodUnit.MONTH, anchor=anchor, autostart=autostart)
    for acc, (start, end) in zip(accs, spans, strict=True):
        span_start = max(start, d(2026, 1, 2, tz=BERLIN))
        span_end = min(end or active_until, active_until)
        want = due_charges(period, method, Decimal("123.45"), 2, span_start, span_end, None,
                           ticks[-1], BERLIN, assigned_at=start)
        got = conn.execute(
            "SELECT effective_at, -amount FROM ledger_entries WHERE account_id = %s"
            " AND details->>'service_id' = %s ORDER BY effective_at, id",
            (acc, str(svc))).fetchall()
        assert got == [(c.due, c.amount) for c in want], (acc, start, end)
    assert ledger.verify(conn) == []


@pytest.mark.parametrize(("condition", "charged"), [
    ("ALWAYS", {-10, 0, 10}), ("LT", {-10}), ("LE", {-10, 0}), ("EQ", {0}),
    ("GE", {0, 10}), ("GT", {10}),
])
def test_balance_condition_compares_balance_plus_credit_with_the_sum(conn, condition, charged):
    sp = settlement_period(conn)
    t = tariff(conn)
    periodic_service(conn, t, sp, "31.00", "GRADUAL", condition=condition, condition_sum="0")
    by_money = {}
    for money in (-10, 0, 10):
        acc = account(conn, credit="5")
        if money - 5:
            pay(conn, acc, str(money - 5))  # balance + credit = money
        assign(conn, acc, t, JAN)
        by_money[money] = acc
    tick(conn, d(2026, 1, 3, 1))
    for money, acc in by_money.items():
        want = (3, Decimal("-3.00")) if money in charged else (0, 0)
        assert ledger_state(conn, acc) == want, money


def test_condition_is_judged_on_the_balance_before_the_window_so_a_rerun_agrees(conn):
    """Charges of this window are added back: a debtor-only service does not start charging
    on a rerun because the first run's other charges made the account a debtor."""
    sp = settlement_period(conn)
    t = tariff(conn)
    periodic_service(conn, t, sp, "300.00", "AT_START")
    periodic_service(conn, t, sp, "31.00", "GRADUAL", condition="LT", condition_sum="0")
    acc = account(conn)
    pay(conn, acc, "100")
    assign(conn, acc, t, JAN)
    tick(conn, d(2026, 1, 1, 12))
    assert ledger_state(conn, acc) == (1, Decimal("-300.00"))
    forget_ticks(conn)
    tick(conn, d(2026, 1, 1, 12))
    assert ledger_state(conn, acc) == (1, Decimal("-300.00"))
    tick(conn, d(2026, 1, 2, 12))  # now a debtor at the window's start: the daily fee runs
    assert ledger_state(conn, acc) == (2, Decimal("-301.00"))


@pytest.mark.parametrize("status", ["suspended", "inactive_uncharged"])
def test_no_charges_while_suspended_and_none_caught_up_afterwards(conn, status):
    sp = settlement_period(conn)
    t = tariff(conn)
    periodic_service(conn, t, sp, "31.00", "GRADUAL")
    onetime_service(conn, t, "5.00")
    acc, charged_anyway = account(conn), account(conn, status="inactive_charged")
    for a in (acc, charged_anyway):
        pay(conn, a, "50")
        assign(conn, a, t, JAN)
    tick(conn, d(2026, 1, 3, 1))
    assert ledger_state(conn, acc) == (4, Decimal("-8.00"))
    conn.execute("UPDATE accounts SET status = %s WHERE id = %s", (status, acc))
    for day in (4, 5, 6):
        tick(conn, d(2026, 1, day, 1))
    assert ledger_state(conn, acc) == (4, Decimal("-8.00"))
    conn.execute("UPDATE accounts SET status = 'active' WHERE id = %s", (acc,))
    tick(conn, d(2026, 1, 8, 1))
    assert ledger_state(conn, acc) == (6, Decimal("-10.00"))  # the 7th and 8th only
    assert ledger_state(conn, charged_anyway) == (9, Decimal("-13.00"))
    # A tick for an earlier moment does not reopen the suspended days either.
    assert charge(conn, d(2026, 1, 6, 1), UTC).entries == 0
    assert ledger_state(conn, acc) == (6, Decimal("-10.00"))


def test_onetime_is_postponed_while_balance_plus_credit_is_not_positive(conn):
    t, t2 = tariff(conn), tariff(conn)
    onetime_service(conn, t, "150.00")
    onetime_service(conn, t2, "20.00", name="switch")
    broke, credited = account(conn), account(conn, credit="1")
    for acc in (broke, credited):
        assign(conn, acc, t, JAN)
    tick(conn, d(2026, 1, 2))
    assert ledger_state(conn, broke) == (0, 0)
    assert ledger_state(conn, credited) == (1, Decimal("-150.00"))
    tick(conn, d(2026, 1, 3))
    assert ledger_state(conn, credited) == (1, Decimal("-150.00"))  # once per assignment
    pay(conn, broke, "0.01")
    tick(conn, d(2026, 1, 4))
    assert ledger_state(conn, broke) == (1, Decimal("-150.00"))
    pay(conn, broke, "200")
    assign(conn, broke, t2, d(2026, 1, 5))
    assign(conn, broke, t, d(2026, 1, 6))  # back again: a new assignment, a new fee
    tick(conn, d(2026, 1, 5, 12))
    tick(conn, d(2026, 1, 6, 12))
    assert [a for _, a, _ in charges(conn, broke)] == [
        Decimal("-150.00"), Decimal("-20.00"), Decimal("-150.00")]


def test_dry_run_reports_the_real_tick_and_writes_nothing(conn):
    sp = settlement_period(conn)
    t = tariff(conn)
    periodic_service(conn, t, sp, "31.00", "GRADUAL")
    onetime_service(conn, t, "5.00")
    acc = account(conn)
    pay(conn, acc, "50")
    assign(conn, acc, t, JAN)
    entries_before = conn.execute("SELECT count(*) FROM ledger_entries").fetchone()[0]
    dry = charge(conn, d(2026, 1, 10, 1), UTC, dry_run=True)
    assert (dry.entries, dry.amount) == (11, Decimal("15.00"))
    assert conn.execute("SELECT count(*) FROM ledger_entries").fetchone()[0] == entries_before
    assert conn.execute("SELECT count(*) FROM charge_runs").fetchone()[0] == 0
    real = charge(conn, d(2026, 1, 10, 1), UTC)
    assert (real.entries, real.amount) == (dry.entries, dry.amount)


def test_ebs_charge_command_dry_run_then_real(db, conn, tmp_path):
    sp = settlement_period(conn)
    t = tariff(conn)
    periodic_service(conn, t, sp, "31.00", "GRADUAL", name="Internet")
    acc = account(conn)
    assign(conn, acc, t, JAN)
    (tmp_path / "none.py").write_text("")
    env = ebs_env(db, tmp_path / "none.py")
    dry = CliRunner().invoke(cli, ["charge", "--at", "2026-01-03T05:00", "--dry-run"], env=env)
    assert dry.exit_code == 0, dry.output
    assert "would charge 3 entries, 3.00 in total, for 1 accounts" in dry.output
    assert "dry run: nothing was written" in dry.output
    assert ledger_state(conn, acc) == (0, 0)
    real = CliRunner().invoke(cli, ["charge", "--at", "2026-01-03T05:00"], env=env)
    assert real.exit_code == 0, real.output
    assert "charged 3 entries" in real.output
    assert ledger_state(conn, acc) == (3, Decimal("-3.00"))
    bad = CliRunner().invoke(cli, ["charge", "--at", "yesterday"], env=env)
    assert bad.exit_code == 2 and "not an ISO time" in bad.output


def test_charge_tick_task_runs_the_same_tick(db, conn, monkeypatch, tmp_path):
    from worker.charging_tasks import charge_tick

    sp = settlement_period(conn)
    t = tariff(conn)
    periodic_service(conn, t, sp, "31.00", "GRADUAL")
    acc = account(conn)
    assign(conn, acc, t, JAN)
    (tmp_path / "none.py").write_text("")
    for key, value in ebs_env(db, tmp_path / "none.py").items():
        monkeypatch.setenv(key, value)
    result = charge_tick.run(at="2026-01-02T05:00:00+00:00")
    assert (result["entries"], result["amount"]) == (2, "2.00")
    assert charge_tick.run(at="2026-01-02T05:00:00+00:00")["entries"] == 0
    assert ledger_state(conn, acc) == (2, Decimal("-2.00"))


def test_two_ticks_at_once_end_with_the_same_ledger(db, conn):
    sp = settlement_period(conn)
    t = tariff(conn)
    periodic_service(conn, t, sp, "31.00", "GRADUAL", per_day=4)
    periodic_service(conn, t, sp, "100.00", "AT_START")
    onetime_service(conn, t, "5.00")
    conn.execute(
        "INSERT INTO accounts (contract, login, credit)"
        " SELECT 'p' || g, 'p' || g, 10 FROM generate_series(1, 400) g")
    conn.execute(
        "INSERT INTO account_tariffs (account_id, tariff_id, assigned_at)"
        " SELECT id, %s, %s + (id %% 240) * interval '1 hour' FROM accounts", (t, JAN))
    at = d(2026, 1, 20)
    expected_count = conn.execute("SELECT count(*) FROM accounts").fetchone()[0]

    intervals, errors = {}, []
    barrier = threading.Barrier(2)

    def run(name):
        try:
            with psycopg.connect(db, autocommit=True) as c:
                barrier.wait()
                started = time.monotonic()
                charge(c, at, UTC, chunk_accounts=25)
                intervals[name] = (started, time.monotonic())
        except Exception as exc:  # reported below, with the thread that failed
            errors.append((name, exc))

    threads = [threading.Thread(target=run, args=(n,)) for n in ("a", "b")]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    (a0, a1), (b0, b1) = intervals["a"], intervals["b"]
    assert a0 < b1 and b0 < a1, f"the ticks did not overlap: {intervals}"

    together = conn.execute(
        "SELECT idempotency_key, account_id, amount FROM ledger_entries"
        " WHERE kind LIKE 'charge%' ORDER BY 1").fetchall()
    # The same tick alone, on a fresh copy of the state, charges the same entries.
    accounts = {r[1] for r in together}
    assert len(accounts) == expected_count
    forget_ticks(conn)
    assert charge(conn, at, UTC).entries == 0
    per_account = 1 + 1 + 4 * 19  # fee, AT_START piece, GRADUAL steps (some accounts fewer)
    assert len(together) <= expected_count * per_account
    assert len({k for k, _, _ in together}) == len(together)
    assert ledger.verify(conn) == []


def test_a_change_to_a_tariff_without_services_ends_the_charges(conn):
    sp = settlement_period(conn)
    t, free = tariff(conn), tariff(conn)
    periodic_service(conn, t, sp, "31.00", "GRADUAL")
    periodic_service(conn, t, sp, "62.00", "AT_END")
    acc = account(conn)
    assign(conn, acc, t, JAN)
    assign(conn, acc, free, d(2026, 1, 11, 13, 37))
    tick(conn, d(2026, 2, 2))
    # GRADUAL days 1..11 (the 11th began before the switch), none after; AT_END for
    # 10 days + 13h37m of 31, charged at the switch
    assert charges(conn, acc)[-1][:2] == (d(2026, 1, 11, 13, 37), Decimal("-21.13"))
    assert ledger_state(conn, acc) == (12, Decimal("-32.13"))
