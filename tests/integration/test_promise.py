"""Promised payment against a real PostgreSQL: the rules, closing by a covering payment
or at expiry, each exactly once however often the tick runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from billing import ledger
from billing.promise import PromiseError, settle_promises, take_promise
from tests.integration.charging_helpers import account, assign, pay, tariff, tick


def d(*args):
    return datetime(*args, tzinfo=UTC)


T0 = d(2026, 3, 10, 12)


def settings(conn, tariff_id=None, *, allowed=True, max_sum="500", min_balance="-100",
             days=5, cooldown_days=10):
    conn.execute(
        "INSERT INTO promise_settings (tariff_id, allowed, max_sum, min_balance, days,"
        " cooldown_days) VALUES (%s, %s, %s, %s, %s, %s)",
        (tariff_id, allowed, Decimal(max_sum), Decimal(min_balance), days, cooldown_days))


def balance(conn, acc):
    return conn.execute("SELECT balance FROM accounts WHERE id = %s", (acc,)).fetchone()[0]


def promise_entries(conn, acc):
    return conn.execute(
        "SELECT kind, amount, effective_at FROM ledger_entries WHERE account_id = %s"
        " AND kind LIKE 'promised%%' ORDER BY id", (acc,)).fetchall()


def counts(conn):
    return conn.execute(
        "SELECT (SELECT count(*) FROM ledger_entries), (SELECT count(*) FROM promised_payments),"
        " (SELECT sum(balance) FROM accounts)").fetchone()


@pytest.fixture
def subscriber(conn):
    t = tariff(conn)
    settings(conn)
    acc = account(conn)
    assign(conn, acc, t, d(2026, 1, 1))
    return acc, t


def test_taking_a_promise_posts_a_credit_and_expiry_takes_it_back_once(conn, subscriber):
    acc, _ = subscriber
    promise = take_promise(conn, acc, "300.00", at=T0)
    assert promise.expires_at == T0 + timedelta(days=5)
    assert balance(conn, acc) == Decimal("300.00")
    assert promise_entries(conn, acc) == [("promised_payment", Decimal("300.00"), T0)]

    tick(conn, T0 + timedelta(days=4))  # not expired, not paid: nothing closes
    assert conn.execute("SELECT closed_at FROM promised_payments").fetchone()[0] is None

    tick(conn, T0 + timedelta(days=6))  # three runs; the debit is posted by the first
    assert promise_entries(conn, acc) == [
        ("promised_payment", Decimal("300.00"), T0),
        ("promised_payment_close", Decimal("-300.00"), promise.expires_at)]
    assert conn.execute("SELECT closed_at, close_reason FROM promised_payments").fetchone() == (
        promise.expires_at, "expired")
    assert settle_promises(conn, T0 + timedelta(days=7)) == 0
    assert balance(conn, acc) == 0
    assert ledger.verify(conn) == []


def test_payments_that_cover_the_promise_close_it_at_the_covering_payment(conn, subscriber):
    acc, _ = subscriber
    take_promise(conn, acc, "100.00", at=T0)
    pay(conn, acc, "30.00", T0 - timedelta(days=1))  # before the promise: does not count
    pay(conn, acc, "60.00", T0 + timedelta(days=1))
    tick(conn, T0 + timedelta(days=1, hours=1))
    assert conn.execute("SELECT closed_at FROM promised_payments").fetchone()[0] is None
    covering = T0 + timedelta(days=2, hours=3)
    pay(conn, acc, "50.00", covering)  # 60 + 50 >= 100
    pay(conn, acc, "10.00", covering + timedelta(hours=1))
    for _ in range(3):
        settle_promises(conn, T0 + timedelta(days=3))
    assert conn.execute("SELECT closed_at, close_reason FROM promised_payments").fetchone() == (
        covering, "paid")
    assert promise_entries(conn, acc)[-1] == (
        "promised_payment_close", Decimal("-100.00"), covering)
    assert balance(conn, acc) == Decimal("150.00")  # the payments stay, the loan does not
    assert ledger.verify(conn) == []


def test_refusals_have_codes_and_write_nothing(conn, subscriber):
    acc, _ = subscriber
    before = counts(conn)

    def refused(code, account_id=acc, amount="100", at=T0):
        with pytest.raises(PromiseError) as caught:
            take_promise(conn, account_id, amount, at=at)
        assert caught.value.code == code, caught.value
        assert counts(conn) == before

    refused("over_max_sum", amount="500.01")
    refused("amount_not_positive", amount="0")
    refused("unknown_account", account_id=999_999)
    ledger.post(conn, ledger.Entry(acc, "correction", Decimal("-100.01"), "debt:1", T0))
    before = counts(conn)
    refused("balance_below_minimum")
    ledger.post(conn, ledger.Entry(acc, "correction", Decimal("0.01"), "debt:2", T0))

    take_promise(conn, acc, "100", at=T0)
    before = counts(conn)
    refused("already_open", at=T0 + timedelta(days=1))
    assert settle_promises(conn, T0 + timedelta(days=5)) == 1  # expired
    before = counts(conn)
    refused("too_soon", at=T0 + timedelta(days=9, hours=23))
    take_promise(conn, acc, "100", at=T0 + timedelta(days=10))  # 10 days after the last

    # A tariff's own settings replace the global ones: here, not offered at all.
    other = tariff(conn)
    settings(conn, other, allowed=False)
    acc2 = account(conn)
    assign(conn, acc2, other, d(2026, 1, 1))
    before = counts(conn)
    refused("not_allowed", account_id=acc2)


def test_a_tariffs_settings_replace_the_global_ones(conn, subscriber):
    acc, t = subscriber
    settings(conn, t, max_sum="50", min_balance="0", days=1, cooldown_days=0)
    with pytest.raises(PromiseError) as caught:
        take_promise(conn, acc, "60", at=T0)
    assert caught.value.code == "over_max_sum"
    promise = take_promise(conn, acc, "50", at=T0)
    assert promise.expires_at == T0 + timedelta(days=1)


def test_without_any_settings_promises_are_not_offered(conn):
    acc = account(conn)
    with pytest.raises(PromiseError) as caught:
        take_promise(conn, acc, "10", at=T0)
    assert caught.value.code == "not_allowed"
