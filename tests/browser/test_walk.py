"""An operator's first day, in real Chromium against gunicorn, Redis, a Celery worker and
PostgreSQL: the admin logs in with the documented admin/admin and is made to change it,
creates a monthly settlement period, a tariff with a monthly fee and a subscriber (account,
subaccount, tariff assignment); a cashier finds the subscriber, posts a payment, sees it on
the receipt, the account, the ledger and the shift report; the admin disconnects the
subscriber's online session, and the worker's Disconnect-Request reaches a NAS simulator
that ACKs it. Every step asserts what the page shows; screenshots follow the assertions.
"""

from __future__ import annotations

import re
import time
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from billing import ledger
from billing.staff import ensure_staff
from tests.nas_simulator import DISCONNECT_REQUEST, nas_simulator

pytestmark = pytest.mark.slow

NEW_ADMIN_PASSWORD = "Admin-Secret-2026"
CASHIER = ("kassir", "Kassir-Secret-1")
NAS_SECRET = b"walk-coa-secret-of-the-nas"
LIST = "table.table-bordered"  # FAB's list and show tables (not the search form's)
SUBSCRIBER = {"contract": "77001", "login": "ivanov", "full_name": "Иванов Иван Иванович",
              "username": "ivanov-ppp"}


def login(page, username: str, password: str) -> None:
    page.goto("/login/")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("input[type=submit]")
    page.wait_for_load_state()


def logout(page) -> None:
    page.goto("/logout/")
    page.goto("/cashier/")  # signed out: a staff page asks for a login again
    expect(page.locator("#username")).to_be_visible()


def flash(page, text: str) -> None:
    expect(page.locator(".alert").filter(has_text=text).first).to_be_visible()


def save(page) -> None:
    """FAB's forms end with a Save button; wait for the page it leads to."""
    page.click("button[type=submit]:has-text('Save')")
    page.wait_for_load_state()


def choose(page, field: str, label: str) -> None:
    """A Select2 field: choose on the underlying select, as Select2 itself does."""
    page.select_option(f"select#{field}", label=label, force=True)


def pick(page, field: str, typed: str, label: str) -> None:
    """A picker that searches as one types (webapp.pickers): open it, type, choose the
    match the server offers."""
    page.click(f"select#{field} + .select2 .select2-selection")
    page.fill(".select2-container--open .select2-search__field", typed)
    page.locator(".select2-results__option", has_text=label).first.click()


def tab(page, label: str) -> None:
    """A related list on an object's page (the menu has links of the same name)."""
    page.click(f"ul.nav-tabs a:has-text('{label}')")


def change_default_password(page, shots) -> None:
    login(page, "admin", "admin")
    expect(page).to_have_url(re.compile(r".*/resetmypassword/form"))
    flash(page, "Please choose a new password before you continue.")
    page.goto("/tariffview/list/")  # anything else leads back to the form
    expect(page).to_have_url(re.compile(r".*/resetmypassword/form"))
    page.fill("#current_password", "admin")
    page.fill("#password", "admin")
    page.fill("#conf_password", "admin")
    save(page)
    expect(page.locator("form")).to_contain_text(
        "The password must be at least 8 characters long.")
    page.fill("#current_password", "admin")
    page.fill("#password", "changeme")
    page.fill("#conf_password", "changeme")
    save(page)
    expect(page.locator("form")).to_contain_text(
        "This is a documented default password; choose another one.")
    shots.take(page, "forced-password-change")
    page.fill("#current_password", "admin")
    page.fill("#password", NEW_ADMIN_PASSWORD)
    page.fill("#conf_password", NEW_ADMIN_PASSWORD)
    save(page)
    flash(page, "Password Changed")
    page.goto("/tariffview/list/")
    expect(page).to_have_url(re.compile(r".*/tariffview/list/"))


def create_tariff_with_monthly_fee(page, shots) -> None:
    page.goto("/settlementperiodview/add")
    page.fill("#name", "Месяц")
    choose(page, "unit", "Month")
    page.check("#autostart")
    save(page)
    flash(page, "Added Row")

    page.goto("/tariffview/add")
    page.fill("#name", "Домашний 100")
    page.fill("#description", "100 Мбит/с")
    choose(page, "settlement_period", "Месяц")
    save(page)
    flash(page, "Added Row")

    page.goto("/periodicserviceview/add")
    choose(page, "tariff", "Домашний 100")
    page.fill("#name", "Абонентская плата")
    choose(page, "settlement_period", "Месяц")
    page.fill("#cost", "500.00")
    choose(page, "charge_method", "At the start of the period")
    save(page)
    flash(page, "Added Row")
    # FAB returns to the list seen before the form; the tariff's page lists its services.
    page.goto("/tariffview/list/")
    page.locator(f"{LIST} tr").filter(has_text="Домашний 100").locator(
        "a[href*='/tariffview/show/']").click()
    tab(page, "Periodic services")
    row = page.locator(f"{LIST} tr").filter(has_text="Абонентская плата")
    expect(row).to_contain_text("500.00")
    expect(row).to_contain_text("Месяц")
    shots.take(page, "tariff-monthly-fee")


def create_subscriber(page, shots) -> None:
    page.goto("/accountview/add")
    for name, value in [("contract", SUBSCRIBER["contract"]), ("login", SUBSCRIBER["login"]),
                        ("cabinet_password", "Cabinet-Pass-1"),
                        ("full_name", SUBSCRIBER["full_name"]), ("phone", "+79160000077"),
                        ("city", "Москва"), ("street", "ул. Ленина"), ("house", "7"),
                        ("flat", "12")]:
        page.fill(f"#{name}", value)
    save(page)
    flash(page, "Added Row")

    page.goto("/subaccountview/add")
    pick(page, "account", SUBSCRIBER["contract"], SUBSCRIBER["full_name"])
    page.fill("#username", SUBSCRIBER["username"])
    page.fill("#password", "Net-Pass-1")
    save(page)
    flash(page, "Added Row")

    # The first tariff through the account's action (billing.tariff_change), from now:
    # an assignment never starts inside time the worker's charge tick has settled.
    page.goto("/accountview/list/?_flt_0_contract=" + SUBSCRIBER["contract"])
    page.locator(f"{LIST} tr").filter(has_text=SUBSCRIBER["full_name"]).locator(
        "a[href*='/accountview/show/']").click()
    page.click("#ebs-account-actions a:has-text('Change tariff')")
    choose(page, "tariff", "Домашний 100")
    page.click("button[type=submit]:has-text('Change tariff')")
    page.wait_for_load_state()
    flash(page, "The tariff is Домашний 100 from")
    expect(page.locator(LIST).first).to_contain_text(SUBSCRIBER["login"])
    tab(page, "Subaccounts")
    expect(page.locator(f"{LIST} tr").filter(has_text=SUBSCRIBER["username"])).to_have_count(1)
    tab(page, "Tariff assignments")
    expect(page.locator(f"{LIST} tr").filter(has_text="Домашний 100")).to_have_count(1)
    shots.take(page, "subscriber-tariff")


def cashier_posts_a_payment(page, shots) -> None:
    login(page, *CASHIER)
    page.goto("/cashier/")
    page.fill("input[name=q]", SUBSCRIBER["login"])
    page.click("button[type=submit]")
    account = page.locator("#ebs-account")  # one match: straight to the account
    expect(page.locator("h2").first).to_contain_text(SUBSCRIBER["full_name"])
    expect(account).to_contain_text("ул. Ленина 7, 12")
    expect(account.locator("[data-balance]")).to_have_text("0.00\xa0RUB")
    expect(page.locator("#ebs-tariff")).to_contain_text("Домашний 100")
    # A large sum is asked about first; cancelled, it leaves the balance as it was.
    page.fill("#amount", "15000.00")
    page.click("button:has-text('Post payment')")
    expect(page.locator(".ebs-confirm-prompt")).to_have_text(
        f"Confirm the payment of 15,000.00 RUB to contract {SUBSCRIBER['contract']}.")
    shots.take(page, "payment-confirmation")
    page.click(".ebs-confirm a:has-text('Cancel')")
    expect(page.locator(".ebs-confirm-prompt")).to_have_count(0)
    expect(account.locator("[data-balance]")).to_have_text("0.00\xa0RUB")
    page.fill("#amount", "1500.00")
    page.fill("#description", "наличные")
    page.click("button:has-text('Post payment')")
    flash(page, "Posted 1,500.00\xa0RUB to the balance.")
    receipt = page.locator("#ebs-receipt")
    expect(receipt.locator("[data-amount]")).to_have_text("1,500.00\xa0RUB")
    expect(receipt).to_contain_text(SUBSCRIBER["contract"])
    balance_after = receipt.locator("tr").filter(has_text="Balance after the operation")
    expect(balance_after).to_contain_text("1,500.00\xa0RUB")
    shots.take(page, "receipt")


def cashier_sees_the_ledger_and_shift(page, shots, account_id: int) -> None:
    page.goto(f"/cashier/account/{account_id}")
    expect(page.locator("#ebs-account [data-balance]")).to_have_text("1,500.00\xa0RUB")
    recent = page.locator("#ebs-recent tbody tr")
    expect(recent).to_have_count(1)
    expect(recent.first).to_contain_text("Payment")
    expect(recent.first).to_contain_text("1,500.00\xa0RUB")
    expect(recent.first).to_contain_text(CASHIER[0])
    shots.take(page, "cashier-account")

    page.goto(f"/accountview/show/{account_id}")
    balance = page.locator(f"{LIST} tr").filter(
        has=page.locator("th", has_text=re.compile(r"^\s*Balance\s*$")))
    expect(balance.first).to_contain_text("1,500.00\xa0RUB")
    tab(page, "Account ledger")
    entries = page.locator(f"{LIST} tr").filter(has_text="наличные")
    expect(entries).to_have_count(1)
    expect(entries).to_contain_text("1,500.00\xa0RUB")
    expect(entries).to_contain_text(CASHIER[0])
    shots.take(page, "account-ledger")

    page.goto("/cashier/shift")
    expect(page.locator("[data-count]")).to_have_text("1")
    expect(page.locator("[data-sum]")).to_have_text("1,500.00\xa0RUB")
    expect(page.locator("#ebs-shift-payments")).to_contain_text(SUBSCRIBER["full_name"])
    shots.take(page, "shift-report")
    logout(page)


def seed_online_session(conn, port: int) -> str:
    """A NAS whose CoA port is the simulator's, and the subscriber online on it."""
    nas = conn.execute(
        "INSERT INTO nas (name, vendor, ip_address, secret, coa_port, coa_timeout_ms,"
        " coa_attempts) VALUES ('nas-walk', 'mikrotik', '127.0.0.1', %s, %s, 500, 3)"
        " RETURNING id", (NAS_SECRET.decode(), port)).fetchone()[0]
    account, sub = conn.execute(
        "SELECT s.account_id, s.id FROM subaccounts s WHERE s.username = %s",
        (SUBSCRIBER["username"],)).fetchone()
    conn.execute(
        "INSERT INTO sessions_open (acct_unique_id, acct_session_id, subaccount_id,"
        " account_id, nas_id, nas_ip, username, framed_ip, started_at, updated_at)"
        " VALUES ('walk-1', '81a00001', %s, %s, %s, '127.0.0.1', %s, '10.10.0.77',"
        " now() - interval '5 minutes', now())",
        (sub, account, nas, SUBSCRIBER["username"]))
    return "walk-1"


def wait_for(condition, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.2)
    return condition()


def admin_kicks_the_session(page, shots, conn, sim) -> None:
    session_id = seed_online_session(conn, sim.port)
    login(page, "admin", NEW_ADMIN_PASSWORD)
    page.goto("/opensessionview/list/")
    row = page.locator(f"{LIST} tr").filter(has_text=SUBSCRIBER["username"])
    expect(row).to_contain_text("10.10.0.77")
    shots.take(page, "online-sessions")
    row.locator("input.action_check").check()
    page.click("button.dropdown-toggle:has-text('Actions')")
    page.click("a.kick_menu_item")
    expect(page.locator("#modal-confirm")).to_contain_text("Disconnect the selected sessions?")
    page.click("#modal-confirm-ok:visible")
    page.wait_for_load_state()
    flash(page, "Disconnect requested for 1 session(s).")

    # The worker takes the task from Redis and the NAS answers the Disconnect-Request.
    outcome = wait_for(lambda: conn.execute(
        "SELECT kind, result FROM coa_requests WHERE acct_unique_id = %s AND result IS NOT NULL",
        (session_id,)).fetchone())
    assert outcome == ("disconnect", "ACK")
    [packet] = sim.packets()
    assert packet.authentic and packet.code == DISCONNECT_REQUEST
    assert (1, SUBSCRIBER["username"].encode()) in packet.attributes
    shots.take(page, "session-kicked")


def test_operator_day_in_chromium(page, shots, stack, conn):
    ensure_staff(conn, "admin", "admin", "Admin")
    ensure_staff(conn, *CASHIER, "Cashier", "Анна", "Кассирова")

    change_default_password(page, shots)
    create_tariff_with_monthly_fee(page, shots)
    create_subscriber(page, shots)
    logout(page)
    account_id = conn.execute("SELECT id FROM accounts WHERE contract = %s",
                              (SUBSCRIBER["contract"],)).fetchone()[0]

    cashier_posts_a_payment(page, shots)
    cashier_sees_the_ledger_and_shift(page, shots, account_id)
    assert conn.execute("SELECT balance FROM accounts WHERE id = %s",
                        (account_id,)).fetchone()[0] == Decimal("1500.00")
    assert ledger.verify(conn) == []

    with nas_simulator(NAS_SECRET) as sim:
        admin_kicks_the_session(page, shots, conn, sim)

    assert page.outside.urls == [], "pages tried to reach beyond this machine"
    assert page.script_errors == [], "a page raised script errors"
    assert len(shots.taken) >= 8
