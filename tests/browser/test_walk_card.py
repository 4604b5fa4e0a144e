"""The account card in real Chromium: the admin opens a subscriber's card, pays through
its button and sees the balance change at the top, transfers to another subscriber
chosen by typing into the account picker, finds the past session in its tab, and binds
a new subaccount to an account picked the same way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from billing import ledger
from billing.staff import ensure_staff
from tests.browser.test_walk import LIST, flash, login, pick, save, tab

pytestmark = pytest.mark.slow

ADMIN = ("boss", "Boss-Secret-2026")


def _subscribers(conn) -> tuple[int, int]:
    tariff = conn.execute("INSERT INTO tariffs (name, allow_balance_transfer) VALUES"
                          " ('Семейный', true) RETURNING id").fetchone()[0]
    payer, relative = (conn.execute(
        "INSERT INTO accounts (contract, login, full_name, phone, street, house)"
        " VALUES (%s, %s, %s, %s, 'ул. Садовая', '3') RETURNING id", row).fetchone()[0]
        for row in (("88001", "petrov", "Петров Пётр", "+7 916 000-88-01"),
                    ("88002", "petrova", "Петрова Мария", "+7 916 000-88-02")))
    conn.execute("INSERT INTO account_tariffs (account_id, tariff_id, assigned_at)"
                 " VALUES (%s, %s, %s)", (payer, tariff, datetime.now(UTC) - timedelta(days=1)))
    conn.execute(
        "INSERT INTO sessions_history (acct_unique_id, acct_session_id, account_id, nas_ip,"
        " username, started_at, stopped_at, calling_station_id, terminate_cause) VALUES"
        " ('walk-past', 'x', %s, '10.9.0.1', 'petrov-ppp', now() - interval '3 hours',"
        " now() - interval '2 hours', 'AA:BB:CC:00:88:01', 'User-Request')", (payer,))
    return payer, relative


def test_the_card_in_chromium(page, shots, stack, conn):
    ensure_staff(conn, *ADMIN, "Admin")
    payer, relative = _subscribers(conn)
    login(page, *ADMIN)

    page.goto(f"/accountview/show/{payer}")
    balance = page.locator("#ebs-card-balance")
    expect(balance).to_have_attribute("data-balance", "0.00")
    expect(page.locator("#ebs-card-tariff")).to_have_text("Семейный")
    page.click("#ebs-account-actions a[data-action=pay]")
    page.fill("#amount", "1,750.00")
    page.fill("#description", "наличные")
    page.click("button[type=submit]:has-text('Post payment')")
    page.wait_for_load_state()
    flash(page, "Posted 1,750.00\xa0RUB to the balance.")
    expect(balance).to_have_attribute("data-balance", "1750.00")
    shots.take(page, "card-paid")

    page.click("#ebs-account-actions a[data-action=transfer]")
    pick(page, "to_account", "Петрова", "88002 — Петрова Мария")
    page.fill("#amount", "1,250.00")
    page.click("button[type=submit]:has-text('Transfer')")
    page.wait_for_load_state()
    flash(page, "Transferred 1,250.00\xa0RUB to contract 88002.")
    expect(balance).to_have_attribute("data-balance", "500.00")
    tab(page, "Past sessions")
    expect(page.locator(f"#AccountSessionHistoryTab {LIST} tr").filter(
        has_text="AA:BB:CC:00:88:01")).to_have_count(1)
    shots.take(page, "card-transferred")

    page.goto("/subaccountview/add")
    pick(page, "account", "916 000-88-02", "Петрова Мария")
    page.fill("#username", "petrova-ppp")
    save(page)
    flash(page, "Added Row")
    assert conn.execute("SELECT account_id FROM subaccounts WHERE username = 'petrova-ppp'"
                        ).fetchone()[0] == relative
    shots.take(page, "subaccount-picked")

    assert conn.execute("SELECT balance FROM accounts WHERE id = %s",
                        (relative,)).fetchone()[0] == Decimal("1250.00")
    assert ledger.verify(conn) == []
    assert page.outside.urls == [], "pages tried to reach beyond this machine"
    assert page.script_errors == [], "a page raised script errors"
