"""The pure rules of tariff change, promised payment and balance transfer, at their edges."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from billing.promise import PromiseError, PromiseSettings, check_promise
from billing.tariff_change import Effective, Rule, TariffChangeError, check_rule
from billing.transfer import TransferError, check_transfer

T0 = datetime(2026, 3, 1, tzinfo=UTC)
RULE = Rule(True, Decimal("10"), Decimal("100"), timedelta(days=7), Effective.NOW)


def code_of(call, error):
    with pytest.raises(error) as caught:
        call()
    return caught.value.code


@pytest.mark.parametrize(("rule", "balance", "leaving", "code"), [
    (None, Decimal("1000"), T0 + timedelta(days=30), "not_allowed"),
    (Rule(False, Decimal(0), Decimal(0), timedelta(0), Effective.NOW), Decimal("1000"),
     T0 + timedelta(days=30), "not_allowed"),
    (RULE, Decimal("99.99"), T0 + timedelta(days=30), "balance_below_minimum"),
    (RULE, Decimal("100"), T0 + timedelta(days=7, microseconds=-1), "too_early"),
])
def test_tariff_change_refusals(rule, balance, leaving, code):
    assert code_of(lambda: check_rule(rule, balance=balance, on_tariff_since=T0,
                                      leaving_at=leaving), TariffChangeError) == code


def test_tariff_change_allowed_exactly_at_the_limits():
    check_rule(RULE, balance=Decimal("100"), on_tariff_since=T0, leaving_at=T0 + timedelta(days=7))


SETTINGS = PromiseSettings(True, Decimal("500"), Decimal("-100"), 5, 10)


@pytest.mark.parametrize(("settings", "amount", "balance", "has_open", "last", "code"), [
    (None, Decimal("1"), Decimal(0), False, None, "not_allowed"),
    (SETTINGS, Decimal("0"), Decimal(0), False, None, "amount_not_positive"),
    (SETTINGS, Decimal("500.01"), Decimal(0), False, None, "over_max_sum"),
    (SETTINGS, Decimal("1"), Decimal(0), True, None, "already_open"),
    (SETTINGS, Decimal("1"), Decimal("-100.01"), False, None, "balance_below_minimum"),
    (SETTINGS, Decimal("1"), Decimal(0), False, T0 - timedelta(days=10) + timedelta(seconds=1),
     "too_soon"),
])
def test_promise_refusals(settings, amount, balance, has_open, last, code):
    assert code_of(lambda: check_promise(settings, amount=amount, balance=balance,
                                         has_open=has_open, last_taken_at=last, at=T0),
                   PromiseError) == code


def test_promise_allowed_exactly_at_the_limits():
    check_promise(SETTINGS, amount=Decimal("500"), balance=Decimal("-100"), has_open=False,
                  last_taken_at=T0 - timedelta(days=10), at=T0)


@pytest.mark.parametrize(("kwargs", "code"), [
    ({"same_account": True}, "same_account"),
    ({"allowed": False}, "not_allowed"),
    ({"amount": Decimal("0")}, "amount_not_positive"),
    ({"amount": Decimal("50.01")}, "insufficient_balance"),
])
def test_transfer_refusals(kwargs, code):
    args = {"allowed": True, "amount": Decimal("50"), "balance": Decimal("50"),
            "same_account": False} | kwargs
    assert code_of(lambda: check_transfer(**args), TransferError) == code
