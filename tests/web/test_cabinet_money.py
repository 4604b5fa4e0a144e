"""The cabinet's promised payment, balance transfer and express card: figures shown before
confirming, the billing functions the admin, the cashier and the API call, refusals in the
subscriber's words with nothing written, a repeated confirmation done once."""

from __future__ import annotations

import re
from decimal import Decimal

from tests.integration.charging_helpers import assign, pay, tariff
from tests.web.cabinet_helpers import cabinet_login, cabinet_post, subscriber
from tests.web.test_cabinet_services import SINCE, _confirm
from tests.web.test_express_cards import _sold_card, keyed  # noqa: F401 (a fixture)


def _balance(conn, account_id) -> Decimal:
    return conn.execute("SELECT balance FROM accounts WHERE id = %s",
                        (account_id,)).fetchone()[0]


def _customer(conn, balance="100", full_name="", **tariff_flags):
    account_id, name, password = subscriber(conn, full_name=full_name)
    current = tariff(conn)
    for flag, value in tariff_flags.items():
        conn.execute(f"UPDATE tariffs SET {flag} = %s WHERE id = %s", (value, current))
    assign(conn, account_id, current, SINCE)
    if Decimal(balance):
        pay(conn, account_id, balance)
    return account_id, name, password


def _promises(conn, account_id):
    return conn.execute("SELECT count(*), coalesce(sum(amount), 0) FROM promised_payments"
                        " WHERE account_id = %s", (account_id,)).fetchone()


def _offer_promises(conn, max_sum="300", days=5):
    conn.execute("INSERT INTO promise_settings (tariff_id, max_sum, days) VALUES (NULL, %s, %s)",
                 (Decimal(max_sum), days))


def test_a_promise_shows_its_end_first_then_is_taken_once(client, conn):
    _offer_promises(conn)
    account_id, name, password = _customer(conn, balance="0")
    cabinet_login(client, name, password)
    page = client.get("/cabinet/promise")
    assert 'id="cabinet-promise-max" data-value="300.00"' in page.text
    check = cabinet_post(client, "/cabinet/promise", {"amount": "200"})
    assert 'id="cabinet-confirm-amount" data-value="200.00"' in check.text
    assert 'id="cabinet-confirm-until" data-value=' in check.text
    assert _promises(conn, account_id) == (0, 0)
    done = _confirm(client, check, {"amount": ""})
    assert "A promised payment of" in done.text
    assert 'id="cabinet-promise-open" data-value="200.00"' in done.text
    _confirm(client, check, {"amount": ""})
    assert _promises(conn, account_id) == (1, Decimal("200.00"))
    assert _balance(conn, account_id) == Decimal("200.00")


def test_a_promise_above_the_maximum_or_not_an_amount_writes_nothing(client, conn):
    _offer_promises(conn, max_sum="300")
    account_id, name, password = _customer(conn, balance="0")
    cabinet_login(client, name, password)
    over = cabinet_post(client, "/cabinet/promise", {"amount": "301"})
    assert "A promised payment is at most 300" in over.text
    negative = cabinet_post(client, "/cabinet/promise", {"amount": "-5"})
    assert "The amount must be above zero." in negative.text
    words = cabinet_post(client, "/cabinet/promise", {"amount": "abc", "confirm": "1"})
    assert "has-error" in words.text
    assert _promises(conn, account_id) == (0, 0)


def test_no_promise_is_offered_without_settings(client, conn):
    account_id, name, password = _customer(conn)
    cabinet_login(client, name, password)
    page = cabinet_post(client, "/cabinet/promise", {"amount": "10", "confirm": "1"})
    assert "Promised payments are not offered on your tariff." in page.text
    assert 'id="cabinet-promise-form"' not in page.text
    assert _promises(conn, account_id) == (0, 0)


def test_a_transfer_shows_the_masked_recipient_then_moves_the_money_once(client, conn):
    sender, name, password = _customer(conn, balance="100", allow_balance_transfer=True)
    recipient, _, _ = subscriber(conn, full_name="Иванов Пётр")
    contract = conn.execute("SELECT contract FROM accounts WHERE id = %s",
                            (recipient,)).fetchone()[0]
    cabinet_login(client, name, password)
    check = cabinet_post(client, "/cabinet/transfer",
                         {"recipient_contract": contract, "amount": "60"})
    assert 'id="cabinet-confirm-recipient">Ив*** П***<' in check.text
    assert "Иванов" not in check.text
    assert 'id="cabinet-confirm-amount" data-value="60.00"' in check.text
    assert _balance(conn, recipient) == 0
    done = _confirm(client, check, {"request_key": ""})
    assert f"is transferred to contract {contract}" in done.text
    twice = _confirm(client, check, {"request_key": ""})
    assert "This transfer is already made." in twice.text
    assert (_balance(conn, sender), _balance(conn, recipient)) == (Decimal("40.00"),
                                                                  Decimal("60.00"))
    assert conn.execute("SELECT count(*) FROM ledger_entries WHERE kind = 'transfer'"
                        ).fetchone()[0] == 2


def test_a_refused_transfer_says_why_and_moves_nothing(client, conn):
    sender, name, password = _customer(conn, balance="100", allow_balance_transfer=True)
    recipient, _, _ = subscriber(conn)
    contracts = dict(conn.execute("SELECT id, contract FROM accounts").fetchall())
    cabinet_login(client, name, password)
    too_much = cabinet_post(client, "/cabinet/transfer",
                            {"recipient_contract": contracts[recipient], "amount": "150"})
    assert "The amount is more than your balance" in too_much.text
    nobody = cabinet_post(client, "/cabinet/transfer",
                          {"recipient_contract": "no-such-contract", "amount": "10"})
    assert "No subscriber has this contract." in nobody.text
    myself = cabinet_post(client, "/cabinet/transfer",
                          {"recipient_contract": contracts[sender], "amount": "10",
                           "request_key": "0" * 32, "confirm": "1"})
    assert "This is your own contract." in myself.text
    zero = cabinet_post(client, "/cabinet/transfer",
                        {"recipient_contract": contracts[recipient], "amount": "0"})
    assert "The amount must be above zero." in zero.text
    empty = cabinet_post(client, "/cabinet/transfer", {"amount": "5"})
    assert "Enter the recipient&#39;s contract." in empty.text or \
        "Enter the recipient's contract." in empty.text
    assert conn.execute("SELECT count(*) FROM ledger_entries WHERE kind = 'transfer'"
                        ).fetchone()[0] == 0


def test_no_transfer_where_the_tariff_does_not_allow_it(client, conn):
    _account_id, name, password = _customer(conn, balance="100")
    cabinet_login(client, name, password)
    page = client.get("/cabinet/transfer")
    assert "Your tariff does not allow balance transfers." in page.text
    assert 'id="cabinet-transfer-form"' not in page.text


def test_a_card_is_activated_once_and_wrong_pins_are_throttled(client, keyed, conn):  # noqa: F811
    account_id, name, password = _customer(conn, balance="0")
    _, exported = _sold_card(conn, nominal="300.00", count=2)
    (number, pin), (other_number, other_pin) = exported
    cabinet_login(client, name, password)
    done = cabinet_post(client, "/cabinet/card", {"number": number, "pin": pin})
    assert f"Card {number}:" in done.text
    again = cabinet_post(client, "/cabinet/card", {"number": number, "pin": pin})
    assert "This card has already been used." in again.text
    assert _balance(conn, account_id) == Decimal("300.00")
    empty = cabinet_post(client, "/cabinet/card", {"number": other_number})
    assert "Enter the PIN." in empty.text
    for _ in range(5):
        wrong = cabinet_post(client, "/cabinet/card", {"number": other_number, "pin": "1"})
    assert "No card has this number and PIN." in wrong.text
    locked = cabinet_post(client, "/cabinet/card", {"number": other_number, "pin": other_pin})
    assert "Too many wrong PINs" in locked.text
    assert _balance(conn, account_id) == Decimal("300.00")
    first = cabinet_post(client, "/cabinet/card", {"number": "1", "pin": "2"})
    assert re.search(r'id="cabinet-refused"', first.text)


def test_the_pages_read_in_russian_and_a_russian_amount_survives_the_confirmation(client,
                                                                                   conn):
    sender, name, password = _customer(conn, balance="2000", allow_balance_transfer=True)
    recipient, _, _ = subscriber(conn, full_name="Петров Иван")
    contract = conn.execute("SELECT contract FROM accounts WHERE id = %s",
                            (recipient,)).fetchone()[0]
    cabinet_login(client, name, password)
    client.get("/cabinet/language/ru")
    for path, words in (("/cabinet/tariff", "Тариф"), ("/cabinet/suspension", "Блокировка"),
                        ("/cabinet/promise", "Обещанный платёж"),
                        ("/cabinet/card", "Экспресс-карта"), ("/cabinet/contacts", "Контакты"),
                        ("/cabinet/password", "Текущий пароль")):
        page = client.get(path)
        assert page.status_code == 200 and words in page.text, path
    check = cabinet_post(client, "/cabinet/transfer",
                         {"recipient_contract": contract, "amount": "1 500,50"})
    assert "Перевести деньги?" in check.text
    _confirm(client, check, {"amount": ""})
    assert (_balance(conn, sender), _balance(conn, recipient)) == (Decimal("499.50"),
                                                                  Decimal("1500.50"))
