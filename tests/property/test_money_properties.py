"""For any cost and any split of a period, the pieces sum to the cost exactly."""

import itertools
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from billing.money import CENT, prorate_piece, step_charge

costs = st.decimals(min_value=0, max_value=Decimal("99999999.99"), places=2)


@given(costs, st.integers(1, 10**7), st.data())
def test_any_split_of_a_period_sums_to_the_cost(cost, total, data):
    cuts = sorted(data.draw(st.sets(st.integers(1, total - 1), max_size=40)) if total > 1 else [])
    bounds = [0, *cuts, total]
    pieces = [prorate_piece(cost, a, b, total) for a, b in itertools.pairwise(bounds)]
    assert sum(pieces) == cost
    for piece in pieces:
        assert piece == piece.quantize(CENT)
        assert piece >= 0


@given(costs, st.integers(1, 1440 * 31))
def test_equal_steps_sum_to_the_cost_and_differ_by_at_most_a_cent(cost, steps):
    if steps > 2000:
        sample = [1, steps // 2, steps]
        total = None
    else:
        sample = range(1, steps + 1)
        total = sum(step_charge(cost, k, steps) for k in sample)
    if total is not None:
        assert total == cost
    values = {step_charge(cost, k, steps) for k in sample}
    assert max(values) - min(values) <= CENT
