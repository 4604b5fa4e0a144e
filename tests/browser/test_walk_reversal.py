"""A cashier finds a subscriber as people search (part of the street, the phone in three
spellings) and takes a payment; the admin reverses it. In real Chromium: every total of
money — the dashboard's payments today and its chart, the payments, gateways and cashiers
reports — drops by exactly the reversed sum, and the receipt printed again reads as it
did, marked reversed."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from billing import ledger
from billing.staff import ensure_staff
from tests.browser.test_walk import flash, login, logout

pytestmark = pytest.mark.slow

ADMIN = ("chief", "Chief-Secret-2026")
CASHIER = ("kassa2", "Kassa-Secret-2026")
NBSP = "\xa0"


def _subscribers(conn) -> int:
    """The one on Садовая with a phone, a neighbour elsewhere who paid 200.00 today."""
    found, other = (conn.execute(
        "INSERT INTO accounts (contract, login, full_name, phone, street, house)"
        " VALUES (%s, %s, %s, %s, %s, '5') RETURNING id", row).fetchone()[0]
        for row in (("99001", "sidorov", "Сидоров Сидор", "+7 916 123-45-01", "ул. Садовая"),
                    ("99002", "mirov", "Миров Мир", "+7 926 000-00-02", "пр. Мира")))
    ledger.post(conn, ledger.Entry(other, "payment", Decimal("200.00"), "walk-rev:neighbour",
                                   datetime.now(UTC)))
    return found


def _search(page, typed: str, account: int) -> None:
    page.goto("/cashier/")
    page.fill("input[name=q]", typed)
    page.click("button[type=submit]:has-text('Find')")
    page.wait_for_load_state()
    # One match: straight to the subscriber's page.
    expect(page).to_have_url(re.compile(rf".*/cashier/account/{account}$"))


def _totals(page) -> dict[str, str]:
    """What the admin reads: the dashboard's payments today and today's bar of its chart,
    and the total line of each payments report for this month."""
    page.goto("/")
    today = page.locator("#ebs-series-money tr[data-day]").first  # newest first
    seen = {"dashboard": page.locator("td[data-stat=payments]").inner_text(),
            "chart": today.locator("[data-payments]").get_attribute("data-payments")}
    for name in ("payments", "gateways", "cashiers"):
        page.goto(f"/reports/{name}/")
        table = page.locator("#ebs-report-table")
        seen[name] = table.locator("tfoot").inner_text() if table.count() else ""
    return seen


def test_a_reversal_nets_out_everywhere_and_the_receipt_stays(page, shots, stack, conn):
    ensure_staff(conn, *ADMIN, "Admin")
    ensure_staff(conn, *CASHIER, "Cashier")
    account = _subscribers(conn)

    login(page, *CASHIER)
    for typed in ("Садовая", "89161234501", "9161234501", "+7 916 123-45-01"):
        _search(page, typed, account)
    shots.take(page, "found-by-phone")
    page.fill("#amount", "1234.50")
    page.click("button:has-text('Post payment')")
    flash(page, f"Posted 1,234.50{NBSP}RUB to the balance.")
    receipt_url = page.url
    receipt = page.locator("#ebs-receipt")
    printed = {"amount": receipt.locator("[data-amount]").inner_text(),
               "after": receipt.locator("[data-balance-after]").inner_text(),
               "moment": receipt.locator("[data-moment]").inner_text()}
    assert printed["amount"] == printed["after"] == f"1,234.50{NBSP}RUB"
    entry = int(re.search(r"/receipt/(\d+)", receipt_url).group(1))
    logout(page)

    login(page, *ADMIN)
    before = _totals(page)
    assert "1,434.50" in before["dashboard"] and before["chart"] == "1434.50"
    assert "1,434.50" in before["payments"] and "1,434.50" in before["gateways"]
    assert "1,234.50" in before["cashiers"]

    page.goto(f"/ledgerview/show/{entry}")
    page.click("a:has-text('Reverse'), button:has-text('Reverse')")
    expect(page.locator("#modal-confirm:visible")).to_contain_text(
        "Post a reversal of this entry?")
    page.click("#modal-confirm-ok:visible")
    page.wait_for_load_state()
    flash(page, "Reversal No.")
    shots.take(page, "reversed")

    after = _totals(page)
    assert "200.00" in after["dashboard"] and "1,434.50" not in after["dashboard"]
    assert after["chart"] == "200.00"
    assert "200.00" in after["payments"] and "1,434.50" not in after["payments"]
    assert "200.00" in after["gateways"] and "1,434.50" not in after["gateways"]
    assert "1,234.50" not in after["cashiers"]
    shots.take(page, "dashboard-after-reversal")

    # The receipt printed again reads as it did when it was first printed.
    page.goto(receipt_url)
    receipt = page.locator("#ebs-receipt")
    assert {"amount": receipt.locator("[data-amount]").inner_text(),
            "after": receipt.locator("[data-balance-after]").inner_text(),
            "moment": receipt.locator("[data-moment]").inner_text()} == printed
    expect(page.locator("#ebs-receipt-reversed")).to_be_visible()
    shots.take(page, "receipt-reprinted")

    assert conn.execute("SELECT balance FROM accounts WHERE id = %s",
                        (account,)).fetchone()[0] == Decimal("0.00")
    assert ledger.verify(conn) == []
    assert page.outside.urls == [], "pages tried to reach beyond this machine"
    assert page.script_errors == [], "a page raised script errors"
