from decimal import Decimal

import pytest

from billing.money import MoneyError, prorate, prorate_piece, round_money, step_charge, to_money


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0.005", "0.01"), ("-0.005", "-0.01"), ("2.675", "2.68"), ("1.2349", "1.23"),
     ("0.125", "0.13"), ("10", "10.00")],
)
def test_round_money_is_half_up_not_bankers(value, expected):
    assert round_money(Decimal(value)) == Decimal(expected)


def test_to_money_refuses_floats_and_extra_decimals():
    with pytest.raises(MoneyError, match="not float"):
        to_money(0.1)
    with pytest.raises(MoneyError, match="more than 2 decimals"):
        to_money("1.001")
    with pytest.raises(MoneyError, match="not an amount"):
        to_money("NaN")
    assert to_money("12.5") == Decimal("12.50")


def test_thirty_one_daily_steps_sum_to_the_monthly_cost():
    cost = Decimal("1000.00")
    steps = [step_charge(cost, k, 31) for k in range(1, 32)]
    assert sum(steps) == cost
    assert set(steps) == {Decimal("32.26"), Decimal("32.25")}
    assert steps[0] == Decimal("32.26")  # 1000/31 = 32.258… rounds up first


def test_prorate_piece_of_a_tariff_change_mid_month():
    cost = Decimal("300.00")
    before = prorate_piece(cost, 0, 1_000_000, 2_592_000)
    after = prorate_piece(cost, 1_000_000, 2_592_000, 2_592_000)
    assert before + after == cost
    assert before == Decimal("115.74")


def test_prorate_rejects_impossible_fractions():
    with pytest.raises(ValueError):
        prorate(Decimal(1), 5, 4)
    with pytest.raises(ValueError):
        prorate(Decimal(1), 0, 0)
    with pytest.raises(ValueError):
        step_charge(Decimal(1), 0, 3)
