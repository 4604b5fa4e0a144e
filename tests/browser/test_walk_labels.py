"""A short walk in Russian, in real Chromium: what the operator sees (the rendered text,
Select2's widgets included) has no English of FAB's, no Python value and no stored code,
and the tariff form reads in the guide's groups with an empty choice that says so."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from billing.staff import ensure_staff
from cli import demo
from tests.browser.test_walk import login
from tests.web.test_labels_ru import _problems

pytestmark = pytest.mark.slow

ADMIN = ("glavbuh", "Glavbuh-Secret-2026")
PAGES = ["/tariffview/list/", "/tariffview/add", "/accountview/list/", "/ledgerview/list/",
         "/periodicserviceview/list/", "/nasview/list/", "/auditlogview/list/"]


def test_a_russian_walk_shows_no_english_and_no_codes(page, shots, stack, conn):
    demo.load(conn, tz=ZoneInfo("Europe/Moscow"))
    ensure_staff(conn, *ADMIN, "Admin")
    allowed = {row[0] for row in conn.execute(
        "SELECT login FROM accounts UNION SELECT username FROM subaccounts "
        "UNION SELECT username FROM ab_user UNION SELECT name FROM nas")}
    login(page, *ADMIN)
    page.goto("/lang/ru")
    found = {}
    for url in PAGES:
        page.goto(url)
        page.wait_for_load_state()
        problems = _problems(page.locator("body").inner_text(), allowed)
        if problems:
            found[url] = sorted(set(problems))
    assert found == {}

    page.goto("/tariffview/add")
    for group in ("Общие параметры", "Параметры доступа", "Списания",
                  "Возможности абонента", "Параметры блокировки"):
        expect(page.get_by_text(group, exact=True).first).to_be_visible()
    # Select2 shows the empty related choice by its text, as the operator reads it.
    expect(page.locator("#s2id_guest_pool, .select2-container").filter(
        has_text="— не выбрано —").first).to_be_visible()
    shots.take(page, "tariff-form-ru")
