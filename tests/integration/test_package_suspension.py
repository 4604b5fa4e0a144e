""""Require package cost" around a self-suspension, against a real PostgreSQL: a period
start inside the suspension neither charges nor blocks; the suspension's end (on request
or at its maximum) is checked like a period start for the period in force, for the
share of the package cost from that moment; a payment lifts the block at once. Ledgers
exact after every tick (each run three times), in UTC and Europe/Moscow."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from billing import ledger
from billing.accounts import status_history
from billing.suspension import resume_account, suspend_account
from tests.integration.charging_helpers import (
    account,
    assign,
    pay,
    periodic_service,
    settlement_period,
    tariff,
    tick,
)

ZONES = ["UTC", "Europe/Moscow"]
d = Decimal


def require_tariff(conn, tz, method: str = "AT_START") -> int:
    """Monthly, package cost 300.00 required, the fee a periodic service of 300.00;
    suspensions free, up to 30 days."""
    sp = settlement_period(conn, anchor=datetime(2026, 1, 1, tzinfo=tz))
    t = tariff(conn)
    periodic_service(conn, t, sp, "300.00", method)
    conn.execute(
        "UPDATE tariffs SET settlement_period_id = %s, package_cost = 300,"
        " require_package_cost = true, allow_self_suspension = true, suspension_cost = 0,"
        " suspension_min_balance = 0, suspension_max_days = 30 WHERE id = %s", (sp, t))
    return t


def blocked(conn, account_id) -> bool:
    return conn.execute("SELECT blocked_by_balance FROM accounts WHERE id = %s",
                        (account_id,)).fetchone()[0]


def balance(conn, account_id) -> Decimal:
    return conn.execute("SELECT balance FROM accounts WHERE id = %s",
                        (account_id,)).fetchone()[0]


def pending(conn, account_id):
    return conn.execute("SELECT required, blocked_at FROM package_blocks WHERE account_id = %s",
                        (account_id,)).fetchone()


def spend(conn, account_id, amount, at) -> None:
    ledger.post(conn, ledger.Entry(account_id, "correction", -Decimal(amount),
                                   f"spend:{account_id}:{at.isoformat()}", at))


@pytest.mark.parametrize("tz_name", ZONES)
def test_the_period_in_force_is_checked_when_a_suspension_ends(conn, tz_name):
    tz = ZoneInfo(tz_name)

    def local(*args):
        return datetime(*args, tzinfo=tz)

    t = require_tariff(conn, tz)
    short, flush, expiring, midmonth = (account(conn) for _ in range(4))
    for a in (short, flush, expiring, midmonth):
        pay(conn, a, "300" if a == midmonth else "700", local(2026, 1, 1))
        assign(conn, a, t, local(2026, 1, 1))

    tick(conn, local(2026, 1, 1, 1), tz=tz)
    assert [balance(conn, a) for a in (short, flush, expiring)] == [d("400.00")] * 3
    assert balance(conn, midmonth) == 0 and not blocked(conn, midmonth)
    # Within one period: 22 days of 31 returned at the suspension (212.90), 100 spent,
    # the rest from the resume charged (164.52): -51.62 after the fee, as at a period
    # start. What the fee paid before the suspension does not count toward the rest.
    suspend_account(conn, midmonth, at=local(2026, 1, 10), tz=tz)
    spend(conn, midmonth, "100.00", local(2026, 1, 12))
    resume_account(conn, midmonth, at=local(2026, 1, 15))
    tick(conn, local(2026, 1, 15, 1), tz=tz)
    assert balance(conn, midmonth) == d("-51.62")
    assert blocked(conn, midmonth)
    assert pending(conn, midmonth) == (d("164.52"), local(2026, 1, 15))
    pay(conn, midmonth, "51.62", local(2026, 1, 15, 2))
    assert not blocked(conn, midmonth)
    suspend_account(conn, short, at=local(2026, 1, 20, 12), tz=tz)
    suspend_account(conn, flush, at=local(2026, 1, 20, 12), tz=tz)
    suspend_account(conn, expiring, at=local(2026, 1, 25), tz=tz, days=10)
    # January's fee paid for 11.5 days of 31 after the 20th, 12:00: 111.29 returned
    assert balance(conn, short) == d("511.29")

    tick(conn, local(2026, 2, 1, 1), tz=tz)
    spend(conn, short, "400.00", local(2026, 2, 5))
    spend(conn, expiring, "480.00", local(2026, 2, 2))
    tick(conn, local(2026, 2, 3, 1), tz=tz)
    # February began inside the suspensions: no fee, no check, whatever the money
    assert [balance(conn, a) for a in (short, flush)] == [d("111.29"), d("511.29")]
    assert not any(blocked(conn, a) for a in (short, flush, expiring))

    tick(conn, local(2026, 2, 6, 1), tz=tz)
    resume_account(conn, short, at=local(2026, 2, 10, 12))
    resume_account(conn, flush, at=local(2026, 2, 10, 12))
    tick(conn, local(2026, 2, 10, 13), tz=tz)
    # The expiring one ended by itself on 4 February at 00:00: 25 of 28 days charged;
    # 400 + 67.74 returned - 480 spent leaves -12.26 - 267.86 = -280.12: blocked for 267.86
    assert balance(conn, expiring) == d("-280.12")
    assert blocked(conn, expiring)
    assert pending(conn, expiring) == (d("267.86"), local(2026, 2, 4))
    # From the resume, 18.5 days of 28: 198.21 charged and required. The short one has
    # 111.29 - 198.21 = -86.92; the flush one 313.08.
    assert [balance(conn, a) for a in (short, flush)] == [d("-86.92"), d("313.08")]
    assert blocked(conn, short) and not blocked(conn, flush)
    assert pending(conn, short) == (d("198.21"), local(2026, 2, 10, 12))

    pay(conn, short, "86.91", local(2026, 2, 11))
    assert blocked(conn, short)
    pay(conn, short, "0.01", local(2026, 2, 11))
    assert not blocked(conn, short)  # at once, by the payment's own transaction
    pay(conn, expiring, "280.12", local(2026, 2, 11))
    assert not blocked(conn, expiring)

    tick(conn, local(2026, 2, 20, 1), tz=tz)
    assert not any(blocked(conn, a) for a in (short, flush, expiring))
    tick(conn, local(2026, 3, 1, 1), tz=tz)
    # March: an ordinary period start again; 300 charged, the short one has nothing left
    assert blocked(conn, short) and blocked(conn, expiring) and not blocked(conn, flush)
    # (a payment's unblock is recorded at the moment it was posted, not the ledger's time)
    assert sorted(h[6] for h in status_history(conn, short) if h[1] == "blocked_by_balance") \
        == ["package cost covered"] + ["package cost not covered at period start"] * 2
    assert ledger.verify(conn) == []


@pytest.mark.parametrize("tz_name", ZONES)
def test_a_block_from_before_the_suspension_is_decided_again_at_its_end(conn, tz_name):
    """Blocked at January's start, the subscriber suspends (access is gone anyway) over
    February's start and pays a part meanwhile: at the resume the pending block becomes
    February's share from the resume, and paying that lifts it."""
    tz = ZoneInfo(tz_name)

    def local(*args):
        return datetime(*args, tzinfo=tz)

    t = require_tariff(conn, tz, "GRADUAL")
    late = account(conn)
    pay(conn, late, "100", local(2026, 1, 1))
    assign(conn, late, t, local(2026, 1, 1))
    tick(conn, local(2026, 1, 1, 1), tz=tz)
    assert blocked(conn, late) and pending(conn, late) == (d("300.00"), local(2026, 1, 1))

    suspend_account(conn, late, at=local(2026, 1, 10), tz=tz, days=30)
    tick(conn, local(2026, 2, 1, 1), tz=tz)
    assert pending(conn, late)[1] == local(2026, 1, 1)  # February's start was not checked
    assert blocked(conn, late)
    pay(conn, late, "150", local(2026, 2, 1, 2))
    assert blocked(conn, late)  # 250 of January's 300.00
    resume_account(conn, late, at=local(2026, 2, 5))
    tick(conn, local(2026, 2, 5, 1), tz=tz)
    # 24 days of 28 left: 257.14 required. Nine daily steps of January (87.10) and the
    # 5th's (10.71) charged: 100 - 87.10 + 150 - 10.71 = 152.19, + 10.71 counted
    assert balance(conn, late) == d("152.19")
    assert blocked(conn, late) and pending(conn, late) == (d("257.14"), local(2026, 2, 5))
    pay(conn, late, "94.23", local(2026, 2, 5, 2))
    assert blocked(conn, late)
    pay(conn, late, "0.01", local(2026, 2, 5, 2))
    assert not blocked(conn, late) and pending(conn, late) is None
    assert ledger.verify(conn) == []
