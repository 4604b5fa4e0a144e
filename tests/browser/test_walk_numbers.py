"""Russian number habits in real Chromium: a cashier working in Russian types ``750,00``
and ``1 000,50`` as people there write sums, and the receipt, the desk's recent entries
and the ledger show them back the same way (``750,00 ₽``); a sum that is no amount is
refused under the field, in Russian, with the way to write one."""

from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from billing import ledger
from billing.staff import ensure_staff
from tests.browser.test_walk import CASHIER, LIST, flash, login

pytestmark = pytest.mark.slow

NBSP = "\u00a0"


def _post(page, typed: str) -> None:
    page.fill("form[action$='/pay'] #amount", typed)
    page.click("form[action$='/pay'] button[type=submit]")
    page.wait_for_load_state()


def test_a_cashier_types_russian_sums(page, shots, stack, conn):
    ensure_staff(conn, *CASHIER, "Cashier", "Анна", "Кассирова")
    account = conn.execute(
        "INSERT INTO accounts (contract, login, full_name, street, house)"
        " VALUES ('88001', 'petrov', 'Петров Пётр', 'ул. Мира', '3') RETURNING id"
    ).fetchone()[0]
    login(page, *CASHIER)
    page.goto("/lang/ru")
    page.goto(f"/cashier/account/{account}")
    expect(page.locator("#ebs-account [data-balance]")).to_have_text(f"0,00{NBSP}₽")

    _post(page, "750,00")
    flash(page, f"Зачислено на баланс: 750,00{NBSP}₽.")
    receipt = page.locator("#ebs-receipt")
    expect(receipt.locator("[data-amount]")).to_have_text(f"750,00{NBSP}₽")
    expect(receipt.locator("[data-balance-after]")).to_have_text(f"750,00{NBSP}₽")
    shots.take(page, "receipt-750-comma")

    page.goto(f"/cashier/account/{account}")
    _post(page, "1 000,50")
    expect(page.locator("#ebs-receipt [data-amount]")).to_have_text(f"1{NBSP}000,50{NBSP}₽")

    page.goto(f"/cashier/account/{account}")
    _post(page, "1.000,50")
    expect(page.locator("form[action$='/pay']")).to_contain_text(
        f"Не сумма: 1.000,50. Пишите так: 1{NBSP}000,50.")
    expect(page.locator("#ebs-account [data-balance]")).to_have_text(
        f"1{NBSP}750,50{NBSP}₽")
    recent = page.locator("#ebs-recent tbody tr")
    expect(recent).to_have_count(2)
    expect(recent.last.locator("[data-amount]")).to_have_text(f"750,00{NBSP}₽")
    shots.take(page, "desk-refuses-garbage")

    page.goto("/ledgerview/list/")
    rows = page.locator(f"{LIST} tr").filter(has_text="88001")
    expect(rows).to_have_count(2)
    expect(page.locator(LIST).first).to_contain_text(f"750,00{NBSP}₽")
    expect(page.locator(LIST).first).to_contain_text(f"1{NBSP}000,50{NBSP}₽")
    shots.take(page, "ledger-russian-sums")

    assert conn.execute("SELECT amount FROM ledger_entries ORDER BY id").fetchall() == [
        (Decimal("750.00"),), (Decimal("1000.50"),)]
    assert ledger.verify(conn) == []
    assert page.outside.urls == [] and page.script_errors == []
