"""Numbers as each language writes them, through the real app and PostgreSQL: an admin
form and the cashier's desk read ``1 000,50`` and ``750,00`` in Russian and ``1,000.50``
in English, store the exact amount and show it back the same way; garbage is refused
under the field in the operator's language; the REST API keeps its one strict format;
the report CSV opens in the spreadsheet program of the operator's language."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from billing import ledger
from tests.web.api_tools import api_as
from tests.web.conftest import submit
from tests.web.test_money import _account, _pay_form
from tests.web.test_reports import _entry

NBSP = "\u00a0"
TARIFF = {"name": "Цены", "access_type": "pppoe", "suspension_cost": "0",
          "suspension_min_balance": "0"}


def _package_cost(conn, name: str = "Цены"):
    row = conn.execute("SELECT package_cost FROM tariffs WHERE name = %s", (name,)).fetchone()
    return row and row[0]


def _field_value(page: str, name: str) -> str:
    found = re.search(rf'<input[^>]*name="{name}"[^>]*value="([^"]*)"', page) or re.search(
        rf'<input[^>]*value="([^"]*)"[^>]*name="{name}"', page)
    assert found, f"no input {name}"
    return html.unescape(found.group(1))


def test_a_russian_price_with_spaces_and_a_comma_is_stored_exactly_and_shown_back(
        as_admin, conn):
    as_admin.get("/lang/ru")
    submit(as_admin, "/tariffview/add", {**TARIFF, "package_cost": "1 000,50"})
    assert _package_cost(conn) == Decimal("1000.50")
    tariff = conn.execute("SELECT id FROM tariffs WHERE name = 'Цены'").fetchone()[0]
    listing = as_admin.get("/tariffview/list/").text
    assert f"1{NBSP}000,50{NBSP}₽" in listing
    assert f"1{NBSP}000,50" in as_admin.get(f"/tariffview/show/{tariff}").text
    # The edit form shows the stored price as Russian writes it, and saving it unchanged
    # (no-break spaces and all) keeps the amount.
    form = as_admin.get(f"/tariffview/edit/{tariff}").text
    assert _field_value(form, "package_cost") == f"1{NBSP}000,50"
    submit(as_admin, f"/tariffview/edit/{tariff}",
           {**TARIFF, "package_cost": _field_value(form, "package_cost")})
    assert _package_cost(conn) == Decimal("1000.50")
    # A narrow no-break space (some keyboards and CLDR's French) and a point read too;
    # zero is a price, not an empty field.
    for typed, stored in [("2\u202f500,75", "2500.75"), ("99.90", "99.90"), ("0", "0.00")]:
        submit(as_admin, f"/tariffview/edit/{tariff}", {**TARIFF, "package_cost": typed})
        assert _package_cost(conn) == Decimal(stored), typed


def test_an_english_price_with_commas_between_thousands(as_admin, conn):
    submit(as_admin, "/tariffview/add", {**TARIFF, "package_cost": "1,000.50"})
    assert _package_cost(conn) == Decimal("1000.50")
    assert f"1,000.50{NBSP}RUB" in as_admin.get("/tariffview/list/").text


def test_garbage_and_ambiguous_prices_are_refused_under_the_field(as_admin, conn):
    as_admin.get("/lang/ru")
    for typed, message in [
            ("12abc", f"Не сумма: 12abc. Пишите так: 1{NBSP}000,50."),
            ("1.000,50", f"Не сумма: 1.000,50. Пишите так: 1{NBSP}000,50."),
            ("1,000", "1,000 можно прочесть и как тысячи, и как дробь."),
            ("1 000,505", "Не более двух знаков после запятой (копейки).")]:
        page = submit(as_admin, "/tariffview/add", {**TARIFF, "package_cost": typed})
        assert message in html.unescape(page.text), typed
        assert _package_cost(conn) is None, typed
    as_admin.get("/lang/en")
    page = submit(as_admin, "/tariffview/add", {**TARIFF, "package_cost": "750,00"})
    assert "Not an amount: 750,00. Write it as 1,000.50." in html.unescape(page.text)
    assert _package_cost(conn) is None


def test_the_cashier_posts_a_russian_750_comma_00(as_cashier, conn, staff):
    account = _account(conn)
    as_cashier.get("/lang/ru")
    done = as_cashier.post(f"/cashier/account/{account}/pay",
                           data={**_pay_form(as_cashier, account), "amount": "750,00"})
    assert done.status_code == 302, done.text
    assert conn.execute("SELECT kind, amount FROM ledger_entries").fetchall() == [
        ("payment", Decimal("750.00"))]
    assert ledger.verify(conn) == []
    receipt = as_cashier.get(done.location).text
    assert f'data-amount="750.00">750,00{NBSP}₽</span>' in receipt
    desk = as_cashier.get(f"/cashier/account/{account}").text
    assert f'data-balance="750.00">750,00{NBSP}₽</td>' in desk
    # Thousands with a space, and a refusal that says how to write the sum.
    done = as_cashier.post(f"/cashier/account/{account}/pay",
                           data={**_pay_form(as_cashier, account), "amount": "1 000,50"})
    assert done.status_code == 302
    refused = as_cashier.post(f"/cashier/account/{account}/pay",
                              data={**_pay_form(as_cashier, account), "amount": "сто"})
    assert f"Не сумма: сто. Пишите так: 1{NBSP}000,50." in html.unescape(refused.text)
    assert conn.execute("SELECT sum(amount) FROM ledger_entries").fetchone()[0] == \
        Decimal("1750.50")


def test_the_cashier_posts_an_english_1_000_50(as_cashier, conn, staff):
    account = _account(conn)
    done = as_cashier.post(f"/cashier/account/{account}/pay",
                           data={**_pay_form(as_cashier, account), "amount": "1,000.50"})
    assert done.status_code == 302
    assert f"1,000.50{NBSP}RUB" in as_cashier.get(done.location).text
    assert conn.execute("SELECT amount FROM ledger_entries").fetchone()[0] == Decimal("1000.50")


def test_the_api_keeps_its_strict_format(client, conn, staff):
    account = _account(conn)
    api = api_as(client, "Cashier")
    url = f"/api/v1/account/{account}/payment"
    for typed in ("1 000,50", "750,00", "1,000.50", f"1{NBSP}000.50"):
        refused = api.post(url, {"amount": typed, "idempotency_key": "k"})
        assert refused.status_code == 400, typed
        assert "Not a valid amount" in " ".join(refused.json["errors"]["amount"]), typed
    assert conn.execute("SELECT count(*) FROM ledger_entries").fetchone()[0] == 0
    assert api.post(url, {"amount": "1000.50", "idempotency_key": "k"}).status_code == 201


def _report_money(conn, staff) -> None:
    """One payment of 1 234,50 on a day of October, at the desk."""
    _account(conn)
    _entry(conn, "30001", "payment", "1234.50", "r1",
           datetime(2026, 10, 15, 12, tzinfo=ZoneInfo("Europe/Moscow")), staff["cashier"],
           "cashier")


RANGE = "start=2026-10-01&end=2026-10-31"


def _download(client, query: str) -> str:
    response = client.get(f"/reports/payments/?{RANGE}&{query}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    return response.get_data(as_text=True)


def test_the_report_csv_opens_in_russian_excel_and_plain_csv_stays(as_admin, conn, staff):
    _report_money(conn, staff)
    as_admin.get("/lang/ru")
    page = as_admin.get(f"/reports/payments/?{RANGE}").text
    assert f"1{NBSP}234,50{NBSP}₽" in page
    assert 'name="format" value="excel"' in page and "format=csv" in page
    excel = _download(as_admin, "format=excel")
    assert excel.startswith("\ufeff")
    assert list(csv.reader(io.StringIO(excel[1:]), delimiter=";")) == [
        ["Период", "Платежи", "Сумма"], ["2026-10-15", "1", "1234,50"]]
    assert excel[1:].splitlines()[1] == "2026-10-15;1;1234,50"
    plain = _download(as_admin, "format=csv")
    assert plain.startswith("\ufeff")
    assert plain[1:].splitlines()[1] == "2026-10-15,1,1234.50"
    as_admin.get("/lang/en")
    english = _download(as_admin, "format=excel")
    assert english[1:].splitlines() == ["Period,Payments,Amount", "2026-10-15,1,1234.50"]
