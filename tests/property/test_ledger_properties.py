"""After any sequence of credits, debits and reversals, balance = sum of entries."""

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from billing import ledger
from tests.integration.ledger_helpers import NOW, balance, entry, make_account

amounts = st.decimals(min_value=Decimal("-9999.99"), max_value=Decimal("9999.99"), places=2).filter(
    lambda d: d != 0
)
ops = st.lists(
    st.one_of(
        st.tuples(st.just("post"), st.integers(0, 2), amounts, st.integers(0, 30)),
        st.tuples(st.just("reverse"), st.integers(0, 200)),
    ),
    max_size=40,
)


@settings(max_examples=60)
@given(ops)
def test_balance_equals_sum_of_entries(conn, operations):
    run = conn.execute("SELECT coalesce(max(id), 0) FROM accounts").fetchone()[0]
    accounts = [make_account(conn, f"p{run}-{i}") for i in range(3)]
    expected = dict.fromkeys(accounts, Decimal(0))
    posted: list[ledger.Posted] = []
    reversed_ids: set[int] = set()
    for op in operations:
        if op[0] == "post":
            _, who, amount, key = op
            key = f"{run}:{key}"
            known = conn.execute(
                "SELECT 1 FROM ledger_entries WHERE idempotency_key = %s", (key,)).fetchone()
            if known:
                continue  # a reused key with another amount is tested elsewhere
            p = ledger.post(conn, entry(accounts[who], str(amount), key))
            posted.append(p)
            expected[accounts[who]] += amount
        elif posted:
            target = posted[op[1] % len(posted)]
            ledger.reverse(conn, target.id, effective_at=NOW)
            if target.id not in reversed_ids:
                reversed_ids.add(target.id)
                expected[target.account_id] -= target.amount
    for acc, want in expected.items():
        assert balance(conn, acc) == want
    assert ledger.verify(conn) == []
