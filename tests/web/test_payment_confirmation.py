"""The bound and the confirmation on amounts at the cashier's desk and in the API: above
``PAYMENT_MAX_AMOUNT`` nothing is posted and the maximum is named; above
``PAYMENT_CONFIRM_ABOVE`` the first submit posts nothing and asks, and only the
confirmation of that very sum posts it, once however often it is sent."""

from __future__ import annotations

import re
from decimal import Decimal

from billing import ledger
from tests.web.api_tools import api_as
from tests.web.conftest import ADMIN, login
from tests.web.test_money import _account, _pay_form

_CONFIRMATION = re.compile(r'name="confirmation"[^>]*value="([^"]*)"')
PROMPT = "ebs-confirm-prompt"


def _rows(conn) -> list[tuple]:
    return conn.execute("SELECT kind, amount FROM ledger_entries ORDER BY id").fetchall()


def _balance(conn, account: int) -> Decimal:
    return conn.execute("SELECT balance FROM accounts WHERE id = %s", (account,)).fetchone()[0]


def _token(html: str) -> str:
    return _CONFIRMATION.search(html).group(1)


def test_above_the_maximum_the_desk_refuses_and_names_it(as_cashier, conn):
    account = _account(conn)
    for amount in ("100000.01", "99999999999.00"):
        page = as_cashier.post(f"/cashier/account/{account}/pay",
                               data={**_pay_form(as_cashier, account), "amount": amount})
        assert page.status_code == 200, amount
        assert "The amount is above the maximum of one payment, 100,000.00\xa0RUB." in page.text
        assert PROMPT not in page.text and _token(page.text) == ""  # never asked about
    assert _rows(conn) == [] and _balance(conn, account) == 0


def test_above_the_threshold_the_desk_asks_and_posts_once_confirmed(as_cashier, conn, staff):
    account = _account(conn)
    url = f"/cashier/account/{account}/pay"
    form = {**_pay_form(as_cashier, account), "amount": "15000", "description": "наличные"}

    asked = as_cashier.post(url, data=form)
    assert asked.status_code == 200 and PROMPT in asked.text
    assert "Confirm the payment of 15,000.00 RUB to contract 30001." in asked.text
    assert "Confirm payment" in asked.text
    assert _rows(conn) == []

    # The first form sent again (a refresh, a double click) only asks again.
    again = as_cashier.post(url, data=form)
    assert again.status_code == 200 and PROMPT in again.text and _rows(conn) == []
    # A confirmation of another sum, or a made-up one, confirms nothing.
    edited = as_cashier.post(url, data={**form, "amount": "16000.00",
                                        "confirmation": _token(asked.text)})
    assert "Confirm the payment of 16,000.00 RUB" in edited.text
    forged = as_cashier.post(url, data={**form, "confirmation": "x.y"})
    assert PROMPT in forged.text and _rows(conn) == []

    confirmed = {**form, "confirmation": _token(asked.text)}
    done = as_cashier.post(url, data=confirmed)
    assert done.status_code == 302 and "/cashier/receipt/" in done.location
    twice = as_cashier.post(url, data=confirmed)  # a double click on "confirm"
    assert twice.status_code == 302 and twice.location == done.location
    assert _rows(conn) == [("payment", Decimal("15000.00"))]
    assert _balance(conn, account) == Decimal("15000.00")
    assert conn.execute("SELECT staff_user_id FROM ledger_entries").fetchone()[0] == (
        staff["cashier"])
    assert ledger.verify(conn) == []


def test_up_to_the_threshold_the_desk_posts_at_once(as_cashier, conn):
    account = _account(conn)
    for amount in ("150.00", "10000.00"):
        done = as_cashier.post(f"/cashier/account/{account}/pay",
                               data={**_pay_form(as_cashier, account), "amount": amount})
        assert done.status_code == 302 and "/cashier/receipt/" in done.location, amount
    assert _rows(conn) == [("payment", Decimal("150.00")), ("payment", Decimal("10000.00"))]


def test_a_correction_is_asked_about_and_bounded_by_its_size(client, conn):
    account = _account(conn)
    login(client, *ADMIN)
    url = f"/cashier/account/{account}/correct"
    refused = client.post(url, data={**_pay_form(client, account), "amount": "-100000.01",
                                     "description": "опечатка"})
    assert "The amount is above the maximum of one payment, 100,000.00\xa0RUB." in refused.text
    form = {**_pay_form(client, account), "amount": "-20000.00", "description": "возврат"}
    asked = client.post(url, data=form)
    assert "Confirm the correction of -20,000.00 RUB to contract 30001." in asked.text
    assert _rows(conn) == []
    done = client.post(url, data={**form, "confirmation": _token_of_correction(asked.text)})
    assert done.status_code == 302
    assert _rows(conn) == [("correction", Decimal("-20000.00"))]


def _token_of_correction(html: str) -> str:
    """The correction form follows the payment form on the page: its token is the last."""
    return [t for t in _CONFIRMATION.findall(html) if t][-1]


def test_the_api_refuses_above_the_maximum_with_the_code_and_the_maximum(client, conn, staff):
    account = _account(conn)
    api = api_as(client, "Cashier")
    response = api.post(f"/api/v1/account/{account}/payment",
                        {"amount": "99999999999.00", "idempotency_key": "big-1"})
    assert response.status_code == 422, response.text
    assert response.json["reason"] == "amount_above_maximum"
    assert "100000.00" in response.json["message"]
    # Below the maximum the API posts without asking: its client confirms by sending.
    fine = api.post(f"/api/v1/account/{account}/payment",
                    {"amount": "50000.00", "idempotency_key": "big-2"})
    assert fine.status_code == 201
    assert _rows(conn) == [("payment", Decimal("50000.00"))]


def test_the_prompt_and_the_refusal_speak_russian(as_cashier, conn):
    account = _account(conn)
    as_cashier.get("/lang/ru")
    url = f"/cashier/account/{account}/pay"
    asked = as_cashier.post(url, data={**_pay_form(as_cashier, account), "amount": "12000"})
    assert "Подтвердите платёж 12\xa0000,00 ₽ на договор 30001." in asked.text
    assert "Подтвердить платёж" in asked.text and "Отмена" in asked.text
    refused = as_cashier.post(url, data={**_pay_form(as_cashier, account),
                                         "amount": "200000"})
    assert ("Сумма больше допустимой для одного платежа (не более 100\xa0000,00\xa0₽)."
            in refused.text)
    assert _rows(conn) == []
