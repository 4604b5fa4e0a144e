"""Moments in real Chromium, in Russian, on the ISP's clock (Moscow): the date-time picker
of a moment field opens, writes the day and the time as Russian operators write them
(``15.03.2027 18:20``), and what it wrote is stored in UTC and shown back the same; a
moment typed by hand (a night starting 01:00) likewise."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from billing.staff import ensure_staff
from tests.browser.test_walk import LIST, choose, login

pytestmark = pytest.mark.slow

ADMIN = ("chrono", "Chrono-Secret-2026")


def submit_form(page) -> None:
    """FAB's Save, whatever the page's language calls it."""
    page.locator("form button[type=submit]").first.click()
    page.wait_for_load_state()


def pick_anchor_on_the_calendar(page, shots) -> None:
    page.goto("/settlementperiodview/add")
    page.fill("#name", "Месяц с 15-го")
    choose(page, "unit", "Месяц")
    field = page.locator("#anchor")
    expect(field).to_have_attribute("placeholder", "ДД.ММ.ГГГГ ЧЧ:ММ")
    field.fill("05.03.2027 10:00")
    page.click(".ebs-datetime-open")
    picker = page.locator(".datepicker-dropdown")
    expect(picker).to_be_visible()
    # It opens on the month of the day already typed.
    expect(picker.locator(".datepicker-switch").first).to_contain_text("Март 2027")
    shots.take(page, "time-picker-open")
    expect(picker.locator("td.day.active")).to_have_text("5")
    picker.locator("td.day:not(.old):not(.new)", has_text=re.compile(r"^15$")).click()
    expect(field).to_have_value("15.03.2027 10:00")  # the day picked, the time kept
    picker.locator("select.ebs-hour").select_option("18")
    picker.locator("select.ebs-minute").select_option("20")
    expect(field).to_have_value("15.03.2027 18:20")
    picker.locator(".ebs-datetime-done").click()
    expect(picker).to_be_hidden()
    submit_form(page)


def type_a_night(page, conn) -> None:
    period = conn.execute("INSERT INTO time_periods (name) VALUES ('Ночь') RETURNING id"
                          ).fetchone()[0]
    page.goto("/timeperiodnodeview/add")
    page.select_option("select#time_period", value=str(period), force=True)
    page.fill("#name", "ночь")
    page.fill("#starts_at", "01.01.2026 01:00")
    page.fill("#length", "6:00")
    submit_form(page)


def test_the_picker_opens_and_moments_are_local(page, shots, stack, conn):
    ensure_staff(conn, *ADMIN, "Admin")
    login(page, *ADMIN)
    page.goto("/lang/ru")

    pick_anchor_on_the_calendar(page, shots)
    anchor = conn.execute("SELECT anchor FROM settlement_periods WHERE name = 'Месяц с 15-го'"
                          ).fetchone()[0]
    assert anchor == datetime(2027, 3, 15, 15, 20, tzinfo=UTC)  # 18:20 in Moscow
    page.goto("/settlementperiodview/list/")
    expect(page.locator(f"{LIST} tr").filter(has_text="Месяц с 15-го")).to_contain_text(
        "15.03.2027 18:20")

    type_a_night(page, conn)
    assert conn.execute("SELECT starts_at FROM time_period_nodes").fetchone()[0] == \
        datetime(2025, 12, 31, 22, 0, tzinfo=UTC)
    page.goto("/timeperiodnodeview/list/")
    row = page.locator(f"{LIST} tr").filter(has_text="ночь")
    expect(row).to_contain_text("01.01.2026 01:00")
    expect(row).not_to_contain_text("+00:00")
    node = conn.execute("SELECT id FROM time_period_nodes").fetchone()[0]
    page.goto(f"/timeperiodnodeview/edit/{node}")
    expect(page.locator("#starts_at")).to_have_value("01.01.2026 01:00")
    shots.take(page, "time-node-local")

    assert page.outside.urls == [], "pages tried to reach beyond this machine"
    assert page.script_errors == [], "a page raised script errors"
