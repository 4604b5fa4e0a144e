"""The admin's account list and the cashier's desk find a subscriber by the same rule
(billing.account_search): a phone however written, a street or name by any part, a
contract or login by its beginning."""

from __future__ import annotations

from urllib.parse import quote

import pytest

PHONES = ["89161234501", "9161234501", "+7 916 123-45-01"]


@pytest.fixture
def subscribers(conn):
    conn.execute(
        "INSERT INTO accounts (contract, login, full_name, phone, street, house) VALUES"
        " ('77001', 'sadovy', 'Садовников Илья', '+7 (916) 123-45-01', 'ул. Садовая', '5'),"
        " ('77002', 'lesnoy', 'Лесная Ольга', '84950000002', 'ул. Лесная', '7'),"
        " ('88003', 'polevoy', 'Полевой Олег', '', 'пр. Мира', '3')")


def admin_list(client, column: str, index: int, value: str) -> str:
    page = client.get(f"/accountview/list/?_flt_{index}_{column}={quote(value)}")
    assert page.status_code == 200
    return page.text


def test_the_admin_list_finds_by_the_rule(as_admin, subscribers):
    for typed in PHONES:
        found = admin_list(as_admin, "contract", 2, typed)  # the whole rule
        assert "77001" in found and "77002" not in found, typed
        found = admin_list(as_admin, "phone", 0, typed)  # the phone alone
        assert "77001" in found and "77002" not in found, typed
    found = admin_list(as_admin, "contract", 2, "Садовая")
    assert "77001" in found and "77002" not in found
    found = admin_list(as_admin, "street", 0, "Садовая")
    assert "77001" in found and "77002" not in found
    found = admin_list(as_admin, "full_name", 0, "ольга")
    assert "77002" in found and "77001" not in found
    found = admin_list(as_admin, "contract", 1, "770")
    assert "77001" in found and "77002" in found and "88003" not in found
    found = admin_list(as_admin, "login", 1, "pol")
    assert "88003" in found and "77001" not in found
    found = admin_list(as_admin, "contract", 2, "88")  # short: contract or login prefix
    assert "88003" in found and "77001" not in found


def test_the_cashier_desk_finds_by_the_rule(as_cashier, subscribers):
    for typed in PHONES:
        page = as_cashier.get(f"/cashier/?q={quote(typed)}")
        assert page.status_code == 302, typed  # the one match opens its card
        assert page.headers["Location"].endswith(_card(as_cashier, "77001")), typed
    for typed in ("Садовая", "садовн", "sadov"):  # street, name, login
        page = as_cashier.get("/cashier/?q=" + quote(typed))
        assert page.headers.get("Location") == _card(as_cashier, "77001"), typed
    page = as_cashier.get("/cashier/?q=" + quote("Оль"))  # a part of a first name
    assert page.headers.get("Location") == _card(as_cashier, "77002")
    short = as_cashier.get("/cashier/?q=" + quote("Ол"))  # in two names, but too short
    assert short.status_code == 200 and 'id="ebs-search-results"' not in short.text
    found = as_cashier.get("/cashier/?q=77").text
    assert "77001" in found and "77002" in found and "88003" not in found
    hint = as_cashier.get("/cashier/").text
    assert 'id="ebs-search-hint"' in hint and "3" in hint


def _card(client, contract: str) -> str:
    page = client.get(f"/cashier/?q={contract}")
    assert page.status_code == 302
    return page.headers["Location"]
