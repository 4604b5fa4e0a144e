"""The subscriber cabinet in real Chromium, on a desktop window and on a phone-sized one
(360 px wide): a subscriber logs in and sees the balance; the screenshots of each page
are kept as artefacts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from billing.passwords import hash_password
from tests.browser.conftest import TIMEOUT_MS

pytestmark = pytest.mark.slow

PHONE = {"width": 360, "height": 740}
PASSWORD = "Cabinet-Secret-1"


def make_subscriber(conn, contract: str, login: str, full_name: str) -> int:
    account = conn.execute(
        "INSERT INTO accounts (contract, login, password_hash, full_name, phone)"
        " VALUES (%s, %s, %s, %s, '+79160000001') RETURNING id",
        (contract, login, hash_password(PASSWORD, iterations=1000), full_name)).fetchone()[0]
    tariff = conn.execute("INSERT INTO tariffs (name, description) VALUES (%s, %s)"
                          " RETURNING id", (f"Home {contract}", "100 Mbit/s")).fetchone()[0]
    conn.execute("INSERT INTO account_tariffs (account_id, tariff_id, assigned_at)"
                 " VALUES (%s, %s, %s)", (account, tariff, datetime.now(UTC) - timedelta(days=3)))
    return account


def cabinet_login(page, login: str) -> None:
    page.goto("/cabinet/login")
    page.fill("#username", login)
    page.fill("#password", PASSWORD)
    page.click("#cabinet-login-form button[type=submit]")
    expect(page.locator("#cabinet-balance")).to_be_visible()


def fits_the_width(page) -> None:
    """Nothing forces a sideways scroll of the whole page."""
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page is {overflow} px wider than the window"


def test_the_cabinet_on_a_desktop(page, shots, conn):
    make_subscriber(conn, "70001", "ivanov", "Иванов Иван")
    page.goto("/cabinet/")
    expect(page.locator("#cabinet-login-form")).to_be_visible()
    cabinet_login(page, "ivanov")
    expect(page.locator("#cabinet-balance")).to_have_attribute("data-value", "0.00")
    expect(page.locator("#cabinet-tariff")).to_contain_text("Home 70001")
    shots.take(page, "overview")
    assert not page.script_errors and not page.outside.urls


def test_the_cabinet_on_a_phone(browser, stack, shots, conn):
    make_subscriber(conn, "70002", "petrova", "Петрова Мария")
    context = browser.new_context(base_url=stack.url, viewport=PHONE, is_mobile=True,
                                  has_touch=True, locale="ru-RU")
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        page.goto("/cabinet/login")
        fits_the_width(page)
        shots.take(page, "phone-login")
        cabinet_login(page, "petrova")
        fits_the_width(page)
        shots.take(page, "phone-overview")
    finally:
        context.close()
