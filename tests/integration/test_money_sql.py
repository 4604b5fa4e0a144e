"""The SQL twins of billing.money round exactly as Python does."""

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from billing.money import prorate, prorate_piece, round_money


@settings(max_examples=300)
@given(st.decimals(min_value=Decimal("-1e9"), max_value=Decimal("1e9"), places=4))
def test_sql_round_matches_python(conn, value):
    got = conn.execute("SELECT ebs_round_money(%s)", (value,)).fetchone()[0]
    assert got == round_money(value)


@settings(max_examples=300)
@given(
    st.decimals(min_value=0, max_value=Decimal("99999999.99"), places=2),
    st.integers(1, 10**9),
    st.data(),
)
def test_sql_prorate_matches_python(conn, cost, total, data):
    a = data.draw(st.integers(0, total))
    b = data.draw(st.integers(a, total))
    row = conn.execute(
        "SELECT ebs_prorate(%s, %s, %s), ebs_prorate_piece(%s, %s, %s, %s)",
        (cost, b, total, cost, a, b, total),
    ).fetchone()
    assert row == (prorate(cost, b, total), prorate_piece(cost, a, b, total))


def test_sql_prorate_on_exact_halves(conn):
    # 0.01 · 1/2 = 0.005 exactly: half up gives 0.01 in both.
    assert conn.execute("SELECT ebs_prorate(0.01, 1, 2)").fetchone()[0] == Decimal("0.01")
    assert prorate(Decimal("0.01"), 1, 2) == Decimal("0.01")
