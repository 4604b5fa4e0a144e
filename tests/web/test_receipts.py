"""A receipt names the ISP, shows the sum with the currency and the moment on the ISP's
clock, and the balance right after its entry; a reprint after later payments and after a
reversal of the very entry shows the same figures."""

import re
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from billing import payments
from tests.web.conftest import csrf_token

_NONCE = re.compile(r'name="nonce"[^>]*value="([^"]+)"')
_BALANCE = re.compile(r'data-balance-after="([^"]+)"')
_AMOUNT = re.compile(r'data-amount="([^"]+)"')
_MOMENT = re.compile(r"<td data-moment>([^<]+)</td>")
MSK = ZoneInfo("Europe/Moscow")


@pytest.fixture
def web_settings(web_settings):
    web_settings.ISP_NAME = "ООО «Тест-Связь»"
    web_settings.ISP_DETAILS = "г. Москва, ул. Примерная, 1\nИНН 7701234567, КПП 770101001"
    return web_settings


def _account(conn) -> int:
    return conn.execute(
        "INSERT INTO accounts (contract, login, full_name, street, house) "
        "VALUES ('40001', 'r40001', 'Чекова Вера', 'ул. Садовая', '3') RETURNING id"
    ).fetchone()[0]


def _pay_at_desk(client, account: int, amount: str) -> str:
    page = client.get(f"/cashier/account/{account}")
    done = client.post(f"/cashier/account/{account}/pay", data={
        "csrf_token": csrf_token(page.text), "nonce": _NONCE.search(page.text).group(1),
        "amount": amount, "description": "наличные"})
    assert done.status_code == 302 and "/cashier/receipt/" in done.location
    return done.location


def _figures(html: str) -> tuple[str, str, str]:
    return (_AMOUNT.search(html).group(1), _BALANCE.search(html).group(1),
            _MOMENT.search(html).group(1))


def test_a_receipt_names_the_isp_currency_local_time_and_balance_after(
        as_cashier, conn, staff):
    account = _account(conn)
    payments.post_correction(conn, account, Decimal("-40.00"), source="x", unique_id="debt",
                             staff_user_id=staff["admin"], comment="долг")
    receipt = as_cashier.get(_pay_at_desk(as_cashier, account, "150.50"))
    assert receipt.status_code == 200
    html = receipt.text
    assert "ООО «Тест-Связь»" in html
    assert "г. Москва, ул. Примерная, 1" in html and "ИНН 7701234567, КПП 770101001" in html
    at = conn.execute("SELECT effective_at FROM ledger_entries WHERE kind = 'payment'"
                      ).fetchone()[0]
    amount, balance, moment = _figures(html)
    assert (amount, balance) == ("150.50", "110.50")
    assert moment == at.astimezone(MSK).strftime("%Y-%m-%d %H:%M:%S")
    assert 'data-amount="150.50">150.50\xa0RUB</span>' in html
    assert 'data-balance-after="110.50">110.50\xa0RUB</span>' in html
    assert "Чекова Вера" in html and "40001" in html and "cashier" in html
    as_cashier.get("/lang/ru")
    russian = as_cashier.get(receipt.request.path).text
    assert _MOMENT.search(russian).group(1) == at.astimezone(MSK).strftime(
        "%d.%m.%Y %H:%M:%S")
    assert "Баланс после операции" in russian


def test_a_reprint_after_a_payment_and_a_reversal_is_the_same_receipt(
        as_cashier, conn, staff):
    account = _account(conn)
    first = _pay_at_desk(as_cashier, account, "150.50")
    second = _pay_at_desk(as_cashier, account, "100.00")
    printed = {url: _figures(as_cashier.get(url).text) for url in (first, second)}
    assert printed[first][:2] == ("150.50", "150.50")
    assert printed[second][:2] == ("100.00", "250.50")

    later = payments.post_payment(conn, account, Decimal("30.00"), source="x",
                                  unique_id="later")
    assert {url: _figures(as_cashier.get(url).text) for url in (first, second)} == printed
    first_id = int(first.rstrip("/").rsplit("/", 1)[1])
    payments.reverse_entry(conn, first_id, staff_user_id=staff["admin"],
                           at=datetime.now(MSK))
    assert conn.execute("SELECT balance FROM accounts WHERE id = %s", (account,)
                        ).fetchone()[0] == Decimal("130.00")
    reprinted = {url: as_cashier.get(url).text for url in (first, second)}
    assert {url: _figures(html) for url, html in reprinted.items()} == printed
    assert 'id="ebs-receipt-reversed"' in reprinted[first]
    assert 'id="ebs-receipt-reversed"' not in reprinted[second]
    assert later.created


def test_a_receipt_of_no_entry_is_not_found(as_cashier):
    assert as_cashier.get("/cashier/receipt/987654").status_code == 404
