"""``billing.express_cards`` on a real PostgreSQL: a series made set-based with PINs kept
as keyed hashes, exported once, sold to a dealer at an exact discounted total, and each
card credited exactly once through ``billing.payments`` (ten concurrent activations
included), every refusal by its own code, wrong PINs throttled per account and source,
and the ledger verified after all."""

from __future__ import annotations

import secrets
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest

from billing import express_cards as cards
from billing import ledger
from billing.express_cards import CardRefused, PinLimits
from tests.integration.ledger_helpers import balance, make_account

KEY = bytes.fromhex("11" * 32)
NOW = datetime(2026, 12, 15, 9, 0, tzinfo=UTC)
LIMITS = PinLimits(failures=3, lock_seconds=60, max_lock_seconds=3600)


def _series(conn, count=5, nominal="500.00", days=365, **kw):
    return cards.create_series(conn, name="Autumn", count=count, nominal=nominal,
                               valid_until=NOW + timedelta(days=days), key=KEY,
                               maximum=Decimal("100000.00"), at=NOW, **kw)


def _dealer(conn, discount="7.50", name="Kiosk") -> int:
    return conn.execute("INSERT INTO card_dealers (name, discount_percent) VALUES (%s, %s)"
                        " RETURNING id", (name, discount)).fetchone()[0]


def _sold_series(conn, count=5, **kw):
    """A series, exported and wholly sold: {number: pin}."""
    series = _series(conn, count=count, **kw)
    pins = dict(cards.export_series(conn, series.id, key=KEY, at=NOW).cards)
    cards.sell_to_dealer(conn, series.id, _dealer(conn, name=f"d{series.id}"), count, at=NOW)
    return pins


def _activate(conn, account, number, pin, source="staff:1", at=NOW, limits=LIMITS):
    return cards.activate(conn, account, number, pin, source=source, key=KEY, limits=limits,
                          at=at)


def _card_entries(conn) -> int:
    return conn.execute("SELECT count(*) FROM ledger_entries"
                        " WHERE idempotency_key LIKE 'card:payment:%'").fetchone()[0]


@pytest.fixture(autouse=True)
def _ledger_verified(conn):
    yield
    assert ledger.verify(conn) == []


def test_a_series_is_its_cards_with_unique_numbers_and_only_hashes_of_pins(conn):
    series = _series(conn, count=1000, pin_length=14, pin_alphabet="ACEFHKMNPRTX3479")
    rows = conn.execute("SELECT serial, number, pin_hash, sale_id FROM express_cards"
                        " WHERE series_id = %s ORDER BY serial", (series.id,)).fetchall()
    assert [r[0] for r in rows] == list(range(1, 1001))
    assert len({r[1] for r in rows}) == 1000
    assert rows[0][1] == f"{series.id}000001" and rows[-1][1] == f"{series.id}001000"
    assert all(len(bytes(r[2])) == 32 and r[3] is None for r in rows)

    exported = cards.export_series(conn, series.id, key=KEY, at=NOW)
    pins = [pin for _, pin in exported.cards]
    assert all(len(p) == 14 and set(p) <= set("ACEFHKMNPRTX3479") for p in pins)
    assert len(set(pins)) == 1000  # 16^14 possible: a repeat would mean a broken source
    for number, pin in exported.cards[:20]:
        stored = conn.execute("SELECT pin_hash FROM express_cards WHERE number = %s",
                              (number,)).fetchone()[0]
        assert bytes(stored) == cards.pin_hash(KEY, number, pin)
        assert bytes(stored) != cards.pin_hash(bytes(32), number, pin)  # the key matters
    # No PIN is anywhere in the database, in any form but the keyed hash.
    dump = conn.execute("SELECT string_agg(t::text, ' ') FROM card_series t").fetchone()[0]
    dump += conn.execute("SELECT string_agg(t::text, ' ') FROM express_cards t").fetchone()[0]
    assert not any(pin in dump for pin in pins[:50])


def test_ten_thousand_cards_are_made_in_a_few_seconds(conn):
    started = datetime.now(UTC)
    series = _series(conn, count=10_000)
    assert (datetime.now(UTC) - started).total_seconds() < 10
    assert conn.execute("SELECT count(*) FROM express_cards WHERE series_id = %s",
                        (series.id,)).fetchone()[0] == 10_000


@pytest.mark.parametrize(("kw", "code"), [
    ({"count": 0}, "bad_series"),
    ({"count": 100_001}, "bad_series"),
    ({"nominal": "0"}, "bad_series"),
    ({"nominal": "10.005"}, "bad_series"),
    ({"nominal": "100000.01"}, "bad_series"),  # no card could ever be credited
    ({"days": -1}, "bad_series"),
    ({"pin_length": 5}, "bad_series"),
    ({"pin_alphabet": "0 1"}, "bad_series"),
    ({"pin_alphabet": "00112233"}, "bad_series"),
    ({"pin_length": 9}, "weak_pin"),  # 10^9 digits: too few to resist guessing
    ({"pin_length": 30, "pin_alphabet": "01"}, "weak_pin"),
])
def test_a_series_out_of_range_is_refused_by_code_and_writes_nothing(conn, kw, code):
    with pytest.raises(CardRefused) as refused:
        _series(conn, **kw)
    assert refused.value.code == code
    assert conn.execute("SELECT count(*) FROM card_series").fetchone()[0] == 0


def test_the_pins_are_exported_exactly_once(conn):
    series = _series(conn, count=3)
    first = cards.export_series(conn, series.id, key=KEY, staff_user_id=None, at=NOW)
    assert [n for n, _ in first.cards] == [cards.card_number(series.id, i) for i in (1, 2, 3)]
    assert conn.execute("SELECT pins_sealed IS NULL, exported_at FROM card_series"
                        " WHERE id = %s", (series.id,)).fetchone() == (True, NOW)
    with pytest.raises(CardRefused) as again:
        cards.export_series(conn, series.id, key=KEY, at=NOW)
    assert again.value.code == "already_exported"
    with pytest.raises(CardRefused) as missing:
        cards.export_series(conn, 999_999, key=KEY, at=NOW)
    assert missing.value.code == "no_series"


def test_the_sealed_pins_open_only_under_their_key(conn):
    series = _series(conn, count=2)
    with pytest.raises(CardRefused) as wrong:
        cards.export_series(conn, series.id, key=bytes.fromhex("22" * 32), at=NOW)
    assert wrong.value.code == "bad_series"
    assert len(cards.export_series(conn, series.id, key=KEY, at=NOW).cards) == 2


def test_a_dealers_invoice_is_the_nominal_times_count_less_the_discount_exactly(conn):
    series = _series(conn, count=7, nominal="333.33")
    dealer = _dealer(conn, discount="12.35")
    sale = cards.sell_to_dealer(conn, series.id, dealer, 3, at=NOW)
    # 333.33 × 3 × 0.8765 = 876.4857... → 876.49
    assert sale.total == Decimal("876.49") and isinstance(sale.total, Decimal)
    assert (sale.first_number, sale.last_number) == (cards.card_number(series.id, 1),
                                                     cards.card_number(series.id, 3))
    assert conn.execute("SELECT card_count, nominal, discount_percent, total FROM card_sales"
                        " WHERE id = %s", (sale.id,)).fetchone() == (
        3, Decimal("333.33"), Decimal("12.35"), Decimal("876.49"))
    second = cards.sell_to_dealer(conn, series.id, dealer, 4, at=NOW)
    assert second.first_number == cards.card_number(series.id, 4)
    assert second.total == Decimal("1168.65")  # 333.33 × 4 × 0.8765 = 1168.6549...
    with pytest.raises(CardRefused) as none_left:
        cards.sell_to_dealer(conn, series.id, dealer, 1, at=NOW)
    assert none_left.value.code == "not_enough_cards"
    assert conn.execute("SELECT count(*) FROM express_cards WHERE sale_id IS NULL"
                        ).fetchone()[0] == 0


def test_a_sale_is_refused_for_no_dealer_a_disabled_or_expired_series(conn):
    series = _series(conn, count=2, days=10)
    with pytest.raises(CardRefused) as no_dealer:
        cards.sell_to_dealer(conn, series.id, 999, 1, at=NOW)
    assert no_dealer.value.code == "no_dealer"
    dealer = _dealer(conn)
    cards.set_enabled(conn, series.id, False)
    with pytest.raises(CardRefused) as disabled:
        cards.sell_to_dealer(conn, series.id, dealer, 1, at=NOW)
    assert disabled.value.code == "series_disabled"
    cards.set_enabled(conn, series.id, True)
    with pytest.raises(CardRefused) as expired:
        cards.sell_to_dealer(conn, series.id, dealer, 1, at=NOW + timedelta(days=11))
    assert expired.value.code == "series_expired"
    assert conn.execute("SELECT count(*) FROM card_sales").fetchone()[0] == 0


def test_a_card_credits_its_nominal_once_through_the_payments_door(conn):
    account = make_account(conn)
    pins = _sold_series(conn, count=2, nominal="250.00")
    number = next(iter(pins))
    done = _activate(conn, account, f" {number[:3]} {number[3:]} ", pins[number])
    assert done.payment.created and done.nominal == Decimal("250.00")
    assert done.payment.idempotency_key == f"card:payment:{done.card_id}"
    assert balance(conn, account) == Decimal("250.00")
    assert conn.execute("SELECT account_id, activated_at, ledger_entry_id FROM express_cards"
                        " WHERE number = %s", (number,)).fetchone() == (
        account, NOW, done.payment.id)
    assert conn.execute("SELECT kind, details->>'source', description FROM ledger_entries"
                        " WHERE id = %s", (done.payment.id,)).fetchone() == (
        "payment", "card", f"Express card {number}")

    for who in (account, make_account(conn, "1002")):
        with pytest.raises(CardRefused) as used:
            _activate(conn, who, number, pins[number])
        assert used.value.code == "card_used"
    assert balance(conn, account) == Decimal("250.00") and _card_entries(conn) == 1


def test_a_number_and_pin_are_read_as_printed_in_groups(conn):
    """Spaces and dashes group a printed number; a PIN's alphabet may hold a dash."""
    account = make_account(conn)
    series = _series(conn, count=1, pin_length=12, pin_alphabet="AB-CDEFGH")
    (number, pin), = cards.export_series(conn, series.id, key=KEY, at=NOW).cards
    cards.sell_to_dealer(conn, series.id, _dealer(conn), 1, at=NOW)
    typed_number = f"{number[:2]}-{number[2:5]} {number[5:]}"
    done = _activate(conn, account, typed_number, f" {pin[:4]} {pin[4:8]} {pin[8:]} ")
    assert done.number == number and balance(conn, account) == Decimal("500.00")


def test_each_refusal_has_its_own_code_and_credits_nothing(conn):
    account = make_account(conn)
    pins = _sold_series(conn, count=4, days=30)
    numbers = list(pins)
    series_id = conn.execute("SELECT series_id FROM express_cards WHERE number = %s",
                             (numbers[0],)).fetchone()[0]
    unsold = _series(conn, count=1)
    unsold_pin = dict(cards.export_series(conn, unsold.id, key=KEY, at=NOW).cards)

    def refused(number, pin, at=NOW, who=account) -> str:
        with pytest.raises(CardRefused) as exc:
            _activate(conn, who, number, pin, source=secrets.token_hex(4), at=at,
                      limits=PinLimits(100, 60, 3600))  # the throttle is tested below
        return exc.value.code

    wrong = "0" if pins[numbers[0]][0] != "0" else "1"
    assert refused(numbers[0], wrong + pins[numbers[0]][1:]) == "wrong_pin"
    assert refused("999999999", pins[numbers[0]]) == "wrong_pin"  # unknown: the same answer
    assert refused(numbers[0], "") == "wrong_pin"
    assert refused(numbers[0], "9" * 5000) == "wrong_pin"
    assert refused(numbers[1], pins[numbers[1]], at=NOW + timedelta(days=31)) == "card_expired"
    (unsold_number, pin), = unsold_pin.items()
    assert refused(unsold_number, pin) == "card_unsold"
    cards.set_enabled(conn, series_id, False)
    assert refused(numbers[2], pins[numbers[2]]) == "card_disabled"
    cards.set_enabled(conn, series_id, True)
    _activate(conn, account, numbers[2], pins[numbers[2]])
    assert refused(numbers[2], pins[numbers[2]]) == "card_used"
    assert _card_entries(conn) == 1 and balance(conn, account) == Decimal("500.00")


def test_a_state_is_told_only_with_the_right_pin(conn):
    """A disabled or unsold card and a wrong PIN answer alike: the state is no oracle."""
    account = make_account(conn)
    series = _series(conn, count=1)
    (number, pin), = cards.export_series(conn, series.id, key=KEY, at=NOW).cards
    cards.set_enabled(conn, series.id, False)
    with pytest.raises(CardRefused) as exc:
        _activate(conn, account, number, pin[::-1] + "x")
    assert exc.value.code == "wrong_pin"


def test_an_unknown_account_is_refused_and_the_card_stays_unused(conn):
    pins = _sold_series(conn, count=1)
    (number, pin), = pins.items()
    with pytest.raises(Exception) as exc:
        _activate(conn, 999_999, number, pin)
    assert getattr(exc.value, "code", None) == "no_account"
    assert conn.execute("SELECT activated_at FROM express_cards").fetchone() == (None,)


def test_ten_concurrent_activations_of_one_card_credit_once(conn, db):
    accounts = [make_account(conn, f"20{i:02d}") for i in range(10)]
    pins = _sold_series(conn, count=1, nominal="1000.00")
    (number, pin), = pins.items()
    barrier = threading.Barrier(10)
    results: list[str] = []

    def attempt(account: int, i: int) -> None:
        with psycopg.connect(db, autocommit=True) as own:
            barrier.wait()
            try:
                _activate(own, account, number, pin, source=f"staff:{i}")
                results.append("credited")
            except CardRefused as exc:
                results.append(exc.code)

    threads = [threading.Thread(target=attempt, args=(a, i)) for i, a in enumerate(accounts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["card_used"] * 9 + ["credited"]
    assert _card_entries(conn) == 1
    assert sum(balance(conn, a) for a in accounts) == Decimal("1000.00")


def test_ten_concurrent_activations_by_one_account_credit_once(conn, db):
    account = make_account(conn)
    pins = _sold_series(conn, count=1)
    (number, pin), = pins.items()
    barrier = threading.Barrier(10)
    results: list[str] = []

    def attempt() -> None:
        with psycopg.connect(db, autocommit=True) as own:
            barrier.wait()
            try:
                _activate(own, account, number, pin)
                results.append("credited")
            except CardRefused as exc:
                results.append(exc.code)

    threads = [threading.Thread(target=attempt) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["card_used"] * 9 + ["credited"]
    assert balance(conn, account) == Decimal("500.00") and _card_entries(conn) == 1


def _guess(conn, account, number, source, at=NOW) -> str:
    with pytest.raises(CardRefused) as exc:
        _activate(conn, account, number, "000000000000", source=source, at=at)
    return exc.value.code


def test_wrong_pins_lock_the_account_for_a_doubling_while(conn):
    account = make_account(conn)
    pins = _sold_series(conn, count=2)
    number, good = next(iter(pins.items()))
    # Three wrong PINs from three sources: the account is locked, whatever the source.
    assert [_guess(conn, account, number, f"addr:{i}") for i in range(3)] == ["wrong_pin"] * 3
    with pytest.raises(CardRefused) as locked:
        _activate(conn, account, number, good, source="addr:new")
    assert locked.value.code == "too_many_attempts"
    assert locked.value.locked_until == NOW + timedelta(seconds=60)
    # Another account from a fresh source is not locked.
    other = make_account(conn, "1002")
    assert _guess(conn, other, number, "addr:other") == "wrong_pin"
    # After the lock a fourth wrong PIN locks for twice as long.
    later = NOW + timedelta(seconds=61)
    assert _guess(conn, account, number, "addr:x", at=later) == "wrong_pin"
    assert _guess(conn, account, number, "addr:y", at=later) == "too_many_attempts"
    assert conn.execute("SELECT failures, locked_until FROM card_pin_guard"
                        " WHERE scope = 'account' AND subject = %s", (str(account),)
                        ).fetchone() == (4, later + timedelta(seconds=120))
    # Once the lock is over the right PIN works, and the count starts again.
    done = _activate(conn, account, number, good, source="addr:z",
                     at=later + timedelta(seconds=121))
    assert done.payment.created
    assert conn.execute("SELECT count(*) FROM card_pin_guard WHERE subject = %s",
                        (str(account),)).fetchone()[0] == 0


def test_wrong_pins_lock_the_source_across_accounts(conn):
    pins = _sold_series(conn, count=1)
    number, good = next(iter(pins.items()))
    accounts = [make_account(conn, f"30{i}") for i in range(4)]
    assert [_guess(conn, a, number, "addr:203.0.113.9") for a in accounts[:3]] == [
        "wrong_pin"] * 3
    with pytest.raises(CardRefused) as locked:
        _activate(conn, accounts[3], number, good, source="addr:203.0.113.9")
    assert locked.value.code == "too_many_attempts"
    assert balance(conn, accounts[3]) == 0
    assert _activate(conn, accounts[3], number, good, source="addr:198.51.100.1").payment


def test_a_locked_attempt_never_reaches_the_pin_check(conn):
    """While locked, even the right PIN is refused and counts nothing more."""
    account = make_account(conn)
    pins = _sold_series(conn, count=1)
    number, good = next(iter(pins.items()))
    for i in range(3):
        _guess(conn, account, number, f"s{i}")
    for _ in range(5):
        with pytest.raises(CardRefused):
            _activate(conn, account, number, good, source="s9")
    assert conn.execute("SELECT failures FROM card_pin_guard WHERE scope = 'account'"
                        ).fetchone() == (3,)
    assert conn.execute("SELECT activated_at FROM express_cards").fetchone() == (None,)


def test_old_failures_are_forgotten(conn):
    account = make_account(conn)
    pins = _sold_series(conn, count=1)
    number, _good = next(iter(pins.items()))
    _guess(conn, account, number, "a")
    _guess(conn, account, number, "b")
    much_later = NOW + timedelta(seconds=3601)
    assert _guess(conn, account, number, "c", at=much_later) == "wrong_pin"
    assert conn.execute("SELECT failures, locked_until FROM card_pin_guard"
                        " WHERE scope = 'account'").fetchone() == (1, None)


def test_the_attempt_count_survives_the_callers_rollback_only_if_committed(conn, db):
    """Inside a caller's transaction the wrong PIN's count is the caller's to commit
    (the adapters do); the refusal wrote nothing else."""
    account = make_account(conn)
    pins = _sold_series(conn, count=1)
    number, _good = next(iter(pins.items()))
    with psycopg.connect(db) as own:  # not autocommit: the caller's transaction
        own.execute("SELECT 1")
        with pytest.raises(CardRefused):
            _activate(own, account, number, "000000000000")
        own.commit()
    assert conn.execute("SELECT failures FROM card_pin_guard WHERE scope = 'account'"
                        ).fetchone() == (1,)
