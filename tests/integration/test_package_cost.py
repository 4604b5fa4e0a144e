"""Package cost against a real PostgreSQL: fill-up at period end (prorated, once) and
"require package cost" blocks set at period start and lifted the moment the money is
there; exact ledgers after every tick (each run three times), UTC and Europe/Moscow."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from billing import ledger
from billing.accounts import status_history
from billing.suspension import suspend_account
from tests.integration.charging_helpers import (
    account,
    assign,
    forget_ticks,
    pay,
    periodic_service,
    settlement_period,
    tariff,
    tick,
    walked_in_every_zone,
)

ZONES = ["UTC", "Europe/Moscow"]
d = Decimal


def package_tariff(conn, sp, cost, *, fill_up=False, require=False) -> int:
    t = tariff(conn)
    conn.execute(
        "UPDATE tariffs SET settlement_period_id = %s, package_cost = %s,"
        " fill_up_to_package_cost = %s, require_package_cost = %s,"
        " allow_self_suspension = true, suspension_max_days = 5 WHERE id = %s",
        (sp, d(cost), fill_up, require, t))
    return t


def charged(conn, account_id, kind=None) -> tuple[int, Decimal]:
    return conn.execute(
        "SELECT count(*), coalesce(sum(amount), 0) FROM ledger_entries"
        " WHERE account_id = %s AND kind <> 'payment' AND (%s::text IS NULL OR kind = %s)",
        (account_id, kind, kind)).fetchone()


def blocked(conn, account_id) -> bool:
    return conn.execute("SELECT blocked_by_balance FROM accounts WHERE id = %s",
                        (account_id,)).fetchone()[0]


@pytest.mark.parametrize("tz_name", ZONES)
def test_fill_up_charges_the_difference_once_per_period(conn, tz_name, zone_results):
    zone_results[tz_name] = fill_up_walk(conn, tz_name)


def fill_up_walk(conn, tz_name: str) -> list[tuple[int, Decimal]]:
    """Fill-ups over two months, one with a suspension, tick by tick; returns the money of
    the four accounts."""
    tz = ZoneInfo(tz_name)

    def local(*args):
        return datetime(*args, tzinfo=tz)

    sp = settlement_period(conn, anchor=local(2026, 1, 1))
    t = package_tariff(conn, sp, "300.00", fill_up=True)
    periodic_service(conn, t, sp, "62.00", "GRADUAL")
    rich = package_tariff(conn, sp, "50.00", fill_up=True)  # charges already exceed it
    periodic_service(conn, rich, sp, "62.00", "GRADUAL")
    ahead = package_tariff(conn, sp, "300.00", fill_up=True)
    periodic_service(conn, ahead, sp, "100.00", "AT_START")
    partial, pauser, over, prepaid = (account(conn) for _ in range(4))
    for a in (partial, pauser, over, prepaid):
        pay(conn, a, "2000", local(2026, 1, 1))
    assign(conn, partial, t, local(2026, 1, 10, 12))
    assign(conn, pauser, t, local(2026, 1, 1))
    assign(conn, over, rich, local(2026, 1, 1))
    assign(conn, prepaid, ahead, local(2026, 1, 1))

    fill = {  # (account, due) -> fill-up amount
        # January from the 10th, 12:00: 21.5 days of 31 of 300 is 208.06, the GRADUAL
        # steps of the 11th..31st took 42.00
        (partial, local(2026, 2, 1)): d("-166.06"),
        (pauser, local(2026, 2, 1)): d("-238.00"),
        (partial, local(2026, 3, 1)): d("-238.00"),
        # February less a suspension from the 10th, 12:00 to the 15th, 12:00: the share
        # is 101.79 + 144.64 = 246.43, the steps took 22.14 + 28.79 = 50.93
        (pauser, local(2026, 3, 1)): d("-195.50"),
        (prepaid, local(2026, 2, 1)): d("-200.00"),
        # the same share; February's AT_START 100.00 less 66.07 returned at the
        # suspension plus 48.21 charged at its end is 82.14
        (prepaid, local(2026, 3, 1)): d("-164.29"),
    }
    moments = [local(2026, 1, 10, 12) + timedelta(days=n, hours=12) for n in range(50)]
    moments = sorted({*moments, local(2026, 2, 10, 11), local(2026, 3, 1)})
    for at in moments:
        tick(conn, at, tz=tz)
        for acc in (partial, pauser, prepaid):
            want = [a for (who, due), a in fill.items() if who == acc and due <= at]
            assert charged(conn, acc, "charge_fill_up") == (len(want), sum(want, d(0))), at
        assert charged(conn, over, "charge_fill_up") == (0, 0)
        if at == local(2026, 2, 10, 11):  # from 12:00, after this tick
            suspend_account(conn, pauser, at=local(2026, 2, 10, 12), tz=tz)
            suspend_account(conn, prepaid, at=local(2026, 2, 10, 12), tz=tz)
    # the GRADUAL steps: January 21 + 31, February 28 + 23 of 28 (5 suspended)
    assert charged(conn, partial, "charge_periodic") == (21 + 28 + 1, d("-42.00") - 62 - 2)
    assert charged(conn, pauser, "charge_periodic") == (31 + 23 + 1,
                                                       d("-62.00") - d("50.93") - 2)
    assert charged(conn, over, "charge_fill_up") == (0, 0)
    # AT_START 100 x 3, the return and the part after the resume, two fill-ups
    assert charged(conn, prepaid) == (7, d("-300.00") + d("66.07") - d("48.21") - 200
                                      - d("164.29"))
    forget_ticks(conn)  # a rerun from scratch is stopped by the keys alone
    assert tick(conn, local(2026, 3, 1), tz=tz).entries == 0
    assert ledger.verify(conn) == []
    return [charged(conn, a) for a in (partial, pauser, over, prepaid)]


def test_fill_up_costs_the_same_in_every_timezone(zone_results, fresh_conn):
    utc, moscow = walked_in_every_zone(zone_results, ZONES, fill_up_walk, fresh_conn)
    assert utc == moscow


@pytest.mark.parametrize("tz_name", ZONES)
def test_require_package_cost_blocks_at_period_start_and_a_payment_unblocks(conn, tz_name):
    tz = ZoneInfo(tz_name)

    def local(*args):
        return datetime(*args, tzinfo=tz)

    sp = settlement_period(conn, anchor=local(2026, 1, 1))
    t = package_tariff(conn, sp, "300.00", require=True)
    periodic_service(conn, t, sp, "300.00", "AT_START")
    free = tariff(conn)
    payer, creditor, mover, newcomer = (account(conn) for _ in range(4))
    for a in (payer, creditor, mover):
        pay(conn, a, "500", local(2026, 1, 1))
        assign(conn, a, t, local(2026, 1, 1))
    assign(conn, newcomer, t, local(2026, 1, 16, 12))

    tick(conn, local(2026, 1, 1, 1), tz=tz)
    # January's fee was charged at its start and counts as paid toward the package
    assert [blocked(conn, a) for a in (payer, creditor, mover)] == [False] * 3
    assert charged(conn, payer) == (1, d("-300.00"))

    tick(conn, local(2026, 1, 16, 13), tz=tz)
    # the newcomer's first period (15.5 days of 31) owes 150.00 and has nothing
    assert blocked(conn, newcomer)
    assert conn.execute("SELECT required, blocked_at FROM package_blocks WHERE account_id = %s",
                        (newcomer,)).fetchone() == (d("150.00"), local(2026, 1, 16, 12))
    pay(conn, newcomer, "150.00", local(2026, 1, 17))
    assert not blocked(conn, newcomer)  # at once, by the payment's own transaction

    tick(conn, local(2026, 2, 1, 1), tz=tz)
    # 200 left, February's 300 charged: 200 < 300, so blocked (and the fee stays charged)
    assert [blocked(conn, a) for a in (payer, creditor, mover)] == [True] * 3
    assert charged(conn, payer) == (2, d("-600.00"))
    pay(conn, payer, "99.99", local(2026, 2, 2))
    assert blocked(conn, payer)
    pay(conn, payer, "0.01", local(2026, 2, 2))
    assert not blocked(conn, payer)
    conn.execute("UPDATE accounts SET credit = 100 WHERE id = %s", (creditor,))
    assign(conn, mover, free, local(2026, 2, 3))
    assert blocked(conn, creditor) and blocked(conn, mover)
    tick(conn, local(2026, 2, 3, 1), tz=tz)  # the tick lifts what no payment announced
    assert not blocked(conn, creditor) and not blocked(conn, mover)
    # the newcomer paid January's share only: February's fee took it below zero again
    assert [r[0] for r in conn.execute("SELECT account_id FROM package_blocks")] == [newcomer]

    history = [h[1:5] + h[6:] for h in status_history(conn, payer)]
    assert history == [
        ("blocked_by_balance", "false", "true", "system",
         "package cost not covered at period start"),
        ("blocked_by_balance", "true", "false", "system", "package cost covered"),
    ]
    assert [h[6] for h in status_history(conn, mover)] == [
        "package cost not covered at period start", "package cost no longer required"]
    assert status_history(conn, payer)[0][0] == local(2026, 2, 1, 1)
    assert ledger.verify(conn) == []
