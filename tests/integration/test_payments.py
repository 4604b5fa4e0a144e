"""``billing.payments``: a payment credits once per (source, unique id), exactly to the
kopeck; a reversal cancels it once and is never itself reversed; balances stay the sum of
the rows."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing import ledger, payments
from billing.payments import PaymentError, post_correction, post_payment, reverse_entry
from tests.integration.ledger_helpers import NOW, balance, make_account


def _rows(conn, account: int) -> list[tuple]:
    return conn.execute(
        "SELECT kind, amount, idempotency_key, staff_user_id, description, details->>'source',"
        " reverses_id FROM ledger_entries WHERE account_id = %s ORDER BY id", (account,)
    ).fetchall()


def _sum(conn, account: int) -> Decimal:
    return conn.execute("SELECT coalesce(sum(amount), 0) FROM ledger_entries"
                        " WHERE account_id = %s", (account,)).fetchone()[0]


def test_a_payment_is_one_entry_with_its_source_operator_and_comment(conn):
    account = make_account(conn)
    paid = post_payment(conn, account, "150.50", source="cashier", unique_id="n-1",
                        comment="наличные", at=NOW)
    assert paid.created and paid.amount == Decimal("150.50")
    assert paid.idempotency_key == "cashier:payment:n-1"
    assert _rows(conn, account) == [
        ("payment", Decimal("150.50"), "cashier:payment:n-1", None, "наличные", "cashier", None)]
    assert balance(conn, account) == _sum(conn, account) == Decimal("150.50")


def test_a_retry_returns_the_first_payment_and_credits_nothing(conn):
    account = make_account(conn)
    first = post_payment(conn, account, Decimal("99.99"), source="payments.qiwiru",
                         unique_id="txn-42", at=NOW)
    for _ in range(3):
        again = post_payment(conn, account, Decimal("99.99"), source="payments.qiwiru",
                             unique_id="txn-42", at=NOW)
        assert (again.id, again.created, again.amount) == (first.id, False, first.amount)
    assert balance(conn, account) == Decimal("99.99")
    assert len(_rows(conn, account)) == 1


def test_the_same_id_from_another_source_is_another_payment(conn):
    account = make_account(conn)
    post_payment(conn, account, "10.00", source="api", unique_id="7:x", at=NOW)
    post_payment(conn, account, "10.00", source="cashier", unique_id="7:x", at=NOW)
    assert balance(conn, account) == Decimal("20.00")


@pytest.mark.parametrize("other", [("amount", "99.00"), ("account", "100.00")])
def test_the_same_id_for_another_amount_or_account_is_refused(conn, other):
    account = make_account(conn)
    second = make_account(conn, "1002")
    post_payment(conn, account, "100.00", source="api", unique_id="k", at=NOW)
    target = second if other[0] == "account" else account
    with pytest.raises(PaymentError, match="already used") as refused:
        post_payment(conn, target, other[1], source="api", unique_id="k", at=NOW)
    assert refused.value.code == "key_reused"
    assert (balance(conn, account), balance(conn, second)) == (Decimal("100.00"), 0)


@pytest.mark.parametrize("amount", ["0", "-5.00", "0.00", "1.005", "NaN", 1.5, "ten"])
def test_only_a_positive_exact_amount_is_a_payment(conn, amount):
    account = make_account(conn)
    with pytest.raises(PaymentError) as refused:
        post_payment(conn, account, amount, source="api", unique_id="k", at=NOW)
    assert refused.value.code == "bad_amount"
    assert _rows(conn, account) == []


def test_amounts_stay_exact_decimals(conn):
    account = make_account(conn)
    for i in range(10):
        post_payment(conn, account, "0.10", source="api", unique_id=f"dime-{i}", at=NOW)
    assert balance(conn, account) == Decimal("1.00")  # ten floats of 0.1 would not be


def test_an_unknown_account_is_refused_by_code(conn):
    with pytest.raises(PaymentError) as refused:
        post_payment(conn, 999_999, "10.00", source="api", unique_id="k", at=NOW)
    assert refused.value.code == "no_account"
    assert conn.execute("SELECT count(*) FROM ledger_entries").fetchone()[0] == 0


def test_a_correction_takes_money_off_or_adds_it_but_never_zero(conn):
    account = make_account(conn)
    post_correction(conn, account, "-40.00", source="cashier", unique_id="c1",
                    staff_user_id=None, comment="ошибка кассира", at=NOW)
    post_correction(conn, account, "15.00", source="cashier", unique_id="c2",
                    staff_user_id=None, comment="возврат", at=NOW)
    with pytest.raises(PaymentError):
        post_correction(conn, account, "0", source="cashier", unique_id="c3",
                        staff_user_id=None, comment="ничего", at=NOW)
    assert [r[:3] for r in _rows(conn, account)] == [
        ("correction", Decimal("-40.00"), "cashier:correction:c1"),
        ("correction", Decimal("15.00"), "cashier:correction:c2")]
    assert balance(conn, account) == Decimal("-25.00")


def test_a_reversal_cancels_once_and_is_never_itself_reversed(conn):
    account = make_account(conn)
    paid = post_payment(conn, account, "300.00", source="api", unique_id="p", at=NOW)
    first = reverse_entry(conn, paid.id, reason="ошибочный платёж", at=NOW)
    twice = reverse_entry(conn, paid.id, reason="ошибочный платёж", at=NOW)
    assert first.created and not twice.created and twice.id == first.id
    assert first.amount == Decimal("-300.00")
    assert balance(conn, account) == _sum(conn, account) == 0
    with pytest.raises(PaymentError, match="is a reversal") as refused:
        reverse_entry(conn, first.id, at=NOW)
    assert refused.value.code == "is_reversal"
    with pytest.raises(PaymentError) as missing:
        reverse_entry(conn, 999_999, at=NOW)
    assert missing.value.code == "no_entry"
    rows = _rows(conn, account)
    assert [(r[0], r[1], r[6]) for r in rows] == [
        ("payment", Decimal("300.00"), None), ("reversal", Decimal("-300.00"), paid.id)]
    # The payment's key stays taken: its retry after the reversal credits nothing again.
    again = post_payment(conn, account, "300.00", source="api", unique_id="p", at=NOW)
    assert not again.created and balance(conn, account) == 0


def test_balance_is_the_sum_of_the_rows_after_any_mix(conn):
    accounts = [make_account(conn, str(2000 + i)) for i in range(3)]
    posted = []
    for i in range(30):
        account = accounts[i % 3]
        posted.append(post_payment(conn, account, f"{i + 1}.{i:02d}", source="api",
                                   unique_id=f"m{i}", at=NOW))
        post_payment(conn, account, f"{i + 1}.{i:02d}", source="api", unique_id=f"m{i}",
                     at=NOW)  # a retry
    for done in posted[::4]:
        reverse_entry(conn, done.id, at=NOW)
        reverse_entry(conn, done.id, at=NOW)
    assert ledger.verify(conn) == []
    expected = sum((p.amount for i, p in enumerate(posted) if i % 4), Decimal("0.00"))
    assert sum(balance(conn, a) for a in accounts) == expected


def test_the_key_names_source_kind_and_id():
    assert payments.payment_key("api", "7:bank-77") == "api:payment:7:bank-77"
    assert payments.payment_key("cashier", "n", "correction") == "cashier:correction:n"
    with pytest.raises(PaymentError):
        payments.payment_key("", "x")
