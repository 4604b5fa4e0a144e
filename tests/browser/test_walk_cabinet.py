"""The subscriber cabinet in real Chromium, on a desktop window and on a phone-sized one
(360 px wide): a subscriber logs in and sees the balance, activates an express card, pays
online through a local Wallet One (tests/web/frontend_gateway_fake.py: the provider's
checkout page and its signed notification), changes the tariff, suspends and resumes,
sees a traffic chart; a debtor sees why access is limited and the sum to pay. The
screenshots of each page are kept as artefacts."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import expect

from billing import express_cards as cards
from billing import ledger
from billing.passwords import hash_password
from tests.browser.conftest import TIMEOUT_MS
from tests.web.frontend_gateway_fake import FakeWalletOne

pytestmark = pytest.mark.slow

PHONE = {"width": 360, "height": 740}
PASSWORD = "Cabinet-Secret-1"
W1_MERCHANT, W1_SECRET = "163789612661", "MFVSdmZNajdBRXdcWmE3Z191cjBLWFJsZjhb"
CALLBACK = "/payments.w1ru/w1ru/postback/"


@pytest.fixture
def wallet_one():
    """The local Wallet One, started before the stack so its URL can be in the settings;
    its callback is pointed at the stack once the stack is up."""
    fake = FakeWalletOne(callback_url="", merchant_id=W1_MERCHANT, secret=W1_SECRET).start()
    yield fake
    fake.stop()


@pytest.fixture
def stack_settings(wallet_one) -> str:
    return (
        "GETPAID_BACKENDS = ('payments.w1ru',)\n"
        "GETPAID_BACKENDS_SETTINGS = {'payments.w1ru': {\n"
        "    'TYPE': 'frontend', 'DEFAULT_CURRENCY': 'RUB',\n"
        f"    'MERCHANT_ID': '{W1_MERCHANT}', 'MERCHANT_PASSWORD': '{W1_SECRET}',\n"
        f"    'GATEWAY_URL': '{wallet_one.url}', 'allowed_ip': ('127.0.0.1',),\n"
        "}}\n")


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


def card_for_the_cabinet(conn, stack, nominal: str) -> tuple[str, str]:
    """A sold card whose PIN the web app can check: its series made under the key the
    app reads from its state directory (as `ebs up` keeps one)."""
    key = secrets.token_bytes(32)
    key_file = Path(stack.env["EBS_STATE_DIR"]) / "secrets" / "credentials.key"
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key_file.write_text(key.hex() + "\n")
    series = cards.create_series(conn, name="Walk", count=1, nominal=nominal,
                                 valid_until=datetime.now(UTC) + timedelta(days=30), key=key)
    number, pin = cards.export_series(conn, series.id, key=key).cards[0]
    dealer = conn.execute("INSERT INTO card_dealers (name) VALUES ('Kiosk') RETURNING id"
                          ).fetchone()[0]
    cards.sell_to_dealer(conn, series.id, dealer, 1)
    return number, pin


def services_to_walk(conn, account: int) -> str:
    """The subscriber's tariff allows a free self-suspension, and the matrix a change to
    "Fast 200" for 50.00 now; an hour of traffic to draw. Returns the new tariff's name."""
    period = conn.execute("INSERT INTO settlement_periods (name, unit, autostart)"
                          " VALUES ('Month from the start', 'MONTH', true) RETURNING id"
                          ).fetchone()[0]
    current = conn.execute("SELECT tariff_id FROM account_tariffs WHERE account_id = %s",
                           (account,)).fetchone()[0]
    fast = conn.execute("INSERT INTO tariffs (name, description) VALUES ('Fast 200',"
                        " '200 Mbit/s') RETURNING id").fetchone()[0]
    conn.execute("UPDATE tariffs SET settlement_period_id = %s, allow_self_suspension = true,"
                 " suspension_max_days = 10 WHERE id IN (%s, %s)", (period, current, fast))
    conn.execute("INSERT INTO tariff_change_rules (from_tariff_id, to_tariff_id, allowed, cost,"
                 " min_balance, effective) VALUES (%s, %s, true, 50, 0, 'NOW')",
                 (current, fast))
    group = conn.execute("INSERT INTO traffic_groups (name) VALUES ('Internet') RETURNING id"
                         ).fetchone()[0]
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
    conn.execute("INSERT INTO traffic_stats_hourly (hour, account_id, group_id, bytes_in,"
                 " bytes_out) VALUES (%s, %s, %s, 734003200, 52428800)", (hour, account, group))
    return "Fast 200"


def confirm(page) -> None:
    """The confirmation step every paid action shows: its figures, then the button."""
    expect(page.locator("#cabinet-confirm-figures")).to_be_visible()
    page.click("#cabinet-confirm")
    page.wait_for_load_state()


def test_the_cabinet_in_chromium(page, browser, shots, stack, conn, wallet_one):
    """One stack for the three walks: it takes seconds to start."""
    wallet_one.callback_url = stack.url + CALLBACK
    walk_on_a_desktop(page, shots, stack, conn, wallet_one)
    page.click("#cabinet-logout")
    expect(page.locator("#cabinet-login-form")).to_be_visible()
    a_debtor_sees_why_and_the_sum_to_pay(page, shots, conn)
    walk_on_a_phone(browser, stack, shots, "sidorov")
    assert not page.script_errors and not page.outside.urls


def walk_on_a_desktop(page, shots, stack, conn, wallet_one) -> None:
    account = make_subscriber(conn, "70001", "ivanov", "Иванов Иван")
    number, pin = card_for_the_cabinet(conn, stack, "500.00")
    fast = services_to_walk(conn, account)
    page.goto("/cabinet/")
    expect(page.locator("#cabinet-login-form")).to_be_visible()
    cabinet_login(page, "ivanov")
    expect(page.locator("#cabinet-balance")).to_have_attribute("data-value", "0.00")
    expect(page.locator("#cabinet-tariff")).to_contain_text("Home 70001")
    shots.take(page, "overview")

    page.goto("/cabinet/card")
    page.fill("#number", number)
    page.fill("#pin", pin)
    page.click("#cabinet-card-submit")
    expect(page.locator(".alert-success")).to_contain_text("is on the balance")
    shots.take(page, "card-activated")
    page.goto("/cabinet/")
    expect(page.locator("#cabinet-balance")).to_have_attribute("data-value", "500.00")

    page.goto("/cabinet/pay")
    page.check("#cabinet-pay-backend-w1ru")
    page.fill("#cabinet-pay-amount", "250")
    page.click("#cabinet-pay-submit")
    expect(page.locator("#cabinet-pay-provider-form")).to_be_visible()
    shots.take(page, "pay-continue")
    page.click("#cabinet-pay-continue")
    expect(page.locator("#fake-w1-amount")).to_contain_text("250")
    page.click("#fake-w1-pay")
    expect(page.locator("#cabinet-pay-state")).to_have_attribute("data-state", "paid")
    shots.take(page, "paid")
    assert [sent.answer.strip() for sent in wallet_one.notifications] == ["WMI_RESULT=OK"]
    page.goto("/cabinet/")
    expect(page.locator("#cabinet-balance")).to_have_attribute("data-value", "750.00")

    page.goto("/cabinet/tariff")
    page.check(f"#cabinet-tariff-choose-{tariff_id(conn, fast)}")
    page.click("#cabinet-tariff-submit")
    expect(page.locator("#cabinet-confirm-cost")).to_have_attribute("data-value", "50.00")
    shots.take(page, "tariff-confirm")
    confirm(page)
    expect(page.locator(".alert-success")).to_contain_text(f"Your tariff is now {fast}")
    page.goto("/cabinet/")
    expect(page.locator("#cabinet-tariff")).to_contain_text(fast)
    expect(page.locator("#cabinet-balance")).to_have_attribute("data-value", "700.00")

    page.goto("/cabinet/suspension")
    page.fill("#days", "3")
    page.click("#cabinet-suspend-submit")
    confirm(page)
    expect(page.locator(".alert-success")).to_contain_text("suspended until")
    shots.take(page, "suspended")
    page.goto("/cabinet/")
    expect(page.locator("#cabinet-limited")).to_have_attribute("data-action", "resume")
    shots.take(page, "overview-suspended")
    page.click("#cabinet-limited-resume")
    page.click("#cabinet-resume-submit")
    expect(page.locator(".alert-success")).to_contain_text("Your service is resumed")
    page.goto("/cabinet/")
    expect(page.locator("#cabinet-limited")).to_have_count(0)

    page.goto("/cabinet/traffic")
    expect(page.locator("#cabinet-traffic-groups tr[data-group='Internet']")).to_have_count(1)
    page.wait_for_function(
        "Chart.getChart(document.getElementById('ebs-chart-traffic-day')) !== undefined")
    shots.take(page, "traffic")
    assert conn.execute("SELECT status FROM accounts WHERE id = %s", (account,)
                        ).fetchone()[0] == "active"


def tariff_id(conn, name: str) -> int:
    return conn.execute("SELECT id FROM tariffs WHERE name = %s", (name,)).fetchone()[0]


def a_debtor_sees_why_and_the_sum_to_pay(page, shots, conn) -> None:
    account = make_subscriber(conn, "70003", "sidorov", "Сидоров Сидор")
    ledger.post(conn, ledger.Entry(account, "charge_onetime", Decimal("-150.00"),
                                   "walk:debt", datetime.now(UTC) - timedelta(days=1)))
    cabinet_login(page, "sidorov")
    banner = page.locator("#cabinet-limited")
    expect(banner).to_have_attribute("data-reason", "balance_negative")
    expect(banner).to_have_attribute("data-pay", "150.01")
    expect(page.locator("#cabinet-limited-fix")).to_contain_text("Pay 150.01")
    shots.take(page, "debtor")


def walk_on_a_phone(browser, stack, shots, login: str) -> None:
    context = browser.new_context(base_url=stack.url, viewport=PHONE, is_mobile=True,
                                  has_touch=True, locale="ru-RU")
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto("/cabinet/login")
        fits_the_width(page)
        shots.take(page, "phone-login")
        cabinet_login(page, login)
        fits_the_width(page)
        shots.take(page, "phone-overview")
        # Every page of the menu, as the menu offers them.
        links = page.eval_on_selector_all("#cabinet-menu a",
                                          "links => links.map(a => a.getAttribute('href'))")
        assert len(links) >= 5, links
        for href in links[1:]:
            page.goto(href)
            expect(page.locator("#cabinet-menu")).to_be_visible()
            fits_the_width(page)
            shots.take(page, "phone-" + href.strip("/").replace("/", "-"))
        assert not errors
    finally:
        context.close()
