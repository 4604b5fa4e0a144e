"""The maximum of one posting: a payment or correction above ``PAYMENT_MAX_AMOUNT`` is
refused with ``amount_above_maximum`` before anything is written, whoever posts."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing import ledger
from billing import settings as settings_mod
from billing.payments import PaymentError, maximum_amount, post_correction, post_payment
from tests.integration.ledger_helpers import NOW, balance, make_account


def _entries(conn) -> int:
    return conn.execute("SELECT count(*) FROM ledger_entries").fetchone()[0]


def test_a_payment_above_the_configured_maximum_is_refused_and_nothing_is_posted(conn):
    account = make_account(conn)
    post_payment(conn, account, "500.00", source="cashier", unique_id="before", at=NOW)
    configured = maximum_amount()
    assert configured == Decimal(settings_mod.DEFAULTS["PAYMENT_MAX_AMOUNT"])
    for amount in ("99999999999.00", configured + Decimal("0.01")):
        with pytest.raises(PaymentError) as refused:
            post_payment(conn, account, amount, source="cashier", unique_id=f"big-{amount}",
                         at=NOW)
        assert refused.value.code == "amount_above_maximum"
        assert str(configured) in str(refused.value)
    assert _entries(conn) == 1
    assert balance(conn, account) == Decimal("500.00")
    assert ledger.verify(conn) == []


def test_the_maximum_itself_is_accepted(conn):
    account = make_account(conn)
    paid = post_payment(conn, account, "2500.00", source="api", unique_id="at-max", at=NOW,
                        maximum=Decimal("2500.00"))
    assert paid.created and balance(conn, account) == Decimal("2500.00")
    with pytest.raises(PaymentError, match=r"2500\.00") as refused:
        post_payment(conn, account, "2500.01", source="api", unique_id="over", at=NOW,
                     maximum=Decimal("2500.00"))
    assert refused.value.code == "amount_above_maximum"
    assert balance(conn, account) == Decimal("2500.00") and _entries(conn) == 1


@pytest.mark.parametrize("amount", ["1000.01", "-1000.01"])
def test_a_correction_is_bounded_by_its_absolute_value(conn, amount):
    account = make_account(conn)
    with pytest.raises(PaymentError) as refused:
        post_correction(conn, account, amount, source="cashier", unique_id="c",
                        staff_user_id=None, comment="опечатка", at=NOW,
                        maximum=Decimal("1000.00"))
    assert refused.value.code == "amount_above_maximum"
    assert _entries(conn) == 0 and balance(conn, account) == 0
    done = post_correction(conn, account, amount[:-1] + "0", source="cashier",
                           unique_id="c", staff_user_id=None, comment="верно", at=NOW,
                           maximum=Decimal("1000.00"))
    assert done.created and balance(conn, account) == Decimal(amount[:-1] + "0")
    assert ledger.verify(conn) == []


def test_a_retry_after_the_maximum_was_lowered_finds_the_first_payment(conn):
    account = make_account(conn)
    first = post_payment(conn, account, "5000.00", source="qiwi", unique_id="txn-7", at=NOW,
                         maximum=Decimal("10000.00"))
    again = post_payment(conn, account, "5000.00", source="qiwi", unique_id="txn-7", at=NOW,
                         maximum=Decimal("1000.00"))
    assert first.created and not again.created and again.id == first.id
    assert balance(conn, account) == Decimal("5000.00") and _entries(conn) == 1
    with pytest.raises(PaymentError) as refused:  # a new one is bound by the new maximum
        post_payment(conn, account, "5000.00", source="qiwi", unique_id="txn-8", at=NOW,
                     maximum=Decimal("1000.00"))
    assert refused.value.code == "amount_above_maximum"
