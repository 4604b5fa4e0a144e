"""Everything a person reads or types is on the ISP's clock (TIME_ZONE, Moscow here) in
the locale's writing, and stored in UTC: lists, cards and receipts show no ``+00:00`` and
no microseconds; a tariff start typed as 18:20 is stored as 15:20 UTC and shown back as
18:20; ``05.12.2026 18:20`` is taken; a mistyped moment is refused under its field."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from billing import ledger
from tests.web.conftest import submit

MSK = ZoneInfo("Europe/Moscow")
UTC_SHAPES = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?\+00:00|\d\d:\d\d:\d\d\.\d{6}")


def _account(conn, contract: str = "80001") -> int:
    return conn.execute(
        "INSERT INTO accounts (contract, login, full_name) VALUES (%s, %s, 'Времени Анна')"
        " RETURNING id", (contract, f"t{contract}")).fetchone()[0]


def _tariff(conn, name: str) -> int:
    return conn.execute("INSERT INTO tariffs (name) VALUES (%s) RETURNING id",
                        (name,)).fetchone()[0]


def _russian(client):
    client.get("/lang/ru")
    return client


def _local_minute(moment: datetime) -> datetime:
    return moment.astimezone(MSK).replace(second=0, microsecond=0)


def test_lists_cards_and_receipts_show_the_isp_clock_without_offset(as_admin, conn, staff):
    account = _account(conn)
    at = datetime(2026, 12, 5, 15, 16, 59, 516874, tzinfo=UTC)
    ledger.post(conn, ledger.Entry(account, "payment", Decimal("150.00"), "lt:1", at,
                                   staff_user_id=staff["admin"]))
    entry = conn.execute("SELECT id FROM ledger_entries").fetchone()[0]
    _russian(as_admin)
    pages = {url: as_admin.get(url) for url in (
        "/ledgerview/list/", f"/ledgerview/show/{entry}", f"/accountview/show/{account}",
        f"/cashier/receipt/{entry}", f"/cashier/account/{account}")}
    for url, page in pages.items():
        assert page.status_code == 200, url
        assert not UTC_SHAPES.search(page.text), (url, UTC_SHAPES.search(page.text).group(0))
    for url in ("/ledgerview/list/", f"/ledgerview/show/{entry}", f"/cashier/receipt/{entry}",
                f"/cashier/account/{account}"):
        assert "05.12.2026 18:16:59" in pages[url].text, url
    as_admin.get("/lang/en")
    english = as_admin.get("/ledgerview/list/").text
    assert "2026-12-05 18:16:59" in english and not UTC_SHAPES.search(english)


def test_a_tariff_start_typed_in_moscow_is_stored_in_utc_and_shown_back_the_same(
        as_admin, conn):
    home, turbo = _tariff(conn, "Home"), _tariff(conn, "Turbo")
    account = _account(conn)
    conn.execute("INSERT INTO account_tariffs (account_id, tariff_id, assigned_at)"
                 " VALUES (%s, %s, %s)", (account, home, datetime.now(UTC) - timedelta(days=3)))
    typed = _local_minute(datetime.now(UTC) - timedelta(hours=2))
    text = typed.strftime("%d.%m.%Y %H:%M")
    _russian(as_admin)
    form = as_admin.get(f"/account-actions/{account}/tariff").text
    assert 'placeholder="ДД.ММ.ГГГГ ЧЧ:ММ"' in form and "ebs-datetime" in form
    done = submit(as_admin, f"/account-actions/{account}/tariff",
                  {"tariff": str(turbo), "at": text})
    assert f"с {text}" in done.text or text in done.text
    stored = conn.execute(
        "SELECT assigned_at FROM account_tariffs WHERE account_id = %s AND tariff_id = %s",
        (account, turbo)).fetchone()[0]
    assert stored == typed.astimezone(UTC)
    assert stored.astimezone(UTC).hour == (typed.hour - 3) % 24  # Moscow is UTC+3
    again = as_admin.get(f"/account-actions/{account}/tariff").text
    assert text in again  # the action page's "on the tariff since"
    assert text in as_admin.get("/accounttariffview/list/").text


def test_the_iso_spelling_is_taken_in_any_language(as_admin, conn):
    home, turbo = _tariff(conn, "Home"), _tariff(conn, "Turbo")
    account = _account(conn)
    conn.execute("INSERT INTO account_tariffs (account_id, tariff_id, assigned_at)"
                 " VALUES (%s, %s, %s)", (account, home, datetime.now(UTC) - timedelta(days=3)))
    typed = _local_minute(datetime.now(UTC) - timedelta(hours=1))
    submit(as_admin, f"/account-actions/{account}/tariff",
           {"tariff": str(turbo), "at": typed.strftime("%Y-%m-%d %H:%M")})
    stored = conn.execute("SELECT assigned_at FROM account_tariffs WHERE tariff_id = %s",
                          (turbo,)).fetchone()[0]
    assert stored == typed.astimezone(UTC)


def test_admin_forms_read_moments_in_local_time_and_refuse_bad_ones(as_admin, conn):
    _russian(as_admin)
    period = {"name": "Месяц с 1-го", "unit": "MONTH", "length_seconds": "",
              "anchor": "05.12.2026 18:20"}
    submit(as_admin, "/settlementperiodview/add", period)
    anchor = conn.execute("SELECT anchor FROM settlement_periods WHERE name = %s",
                          (period["name"],)).fetchone()[0]
    assert anchor == datetime(2026, 12, 5, 15, 20, tzinfo=UTC)
    listing = as_admin.get("/settlementperiodview/list/").text
    assert "05.12.2026 18:20" in listing and not UTC_SHAPES.search(listing)
    row = conn.execute("SELECT id FROM settlement_periods WHERE name = %s",
                       (period["name"],)).fetchone()[0]
    edit = as_admin.get(f"/settlementperiodview/edit/{row}").text
    assert 'value="05.12.2026 18:20"' in edit  # the form shows back what was typed

    bad = submit(as_admin, "/settlementperiodview/add",
                 {**period, "name": "Кривой", "anchor": "31.02.2026 10:00"})
    assert "Укажите момент в виде ДД.ММ.ГГГГ ЧЧ:ММ" in bad.text
    assert conn.execute("SELECT count(*) FROM settlement_periods WHERE name = 'Кривой'"
                        ).fetchone()[0] == 0


def test_a_night_node_typed_0100_is_the_isp_night_and_reads_back_0100(as_admin, conn):
    """A node's start is an instant whose wall-clock time on the ISP's clock repeats
    (billing.time_windows): 01:00 in Moscow is stored as 22:00 UTC the day before."""
    period = conn.execute("INSERT INTO time_periods (name) VALUES ('Ночь') RETURNING id"
                          ).fetchone()[0]
    _russian(as_admin)
    submit(as_admin, "/timeperiodnodeview/add", {
        "time_period": str(period), "name": "ночь", "starts_at": "01.01.2026 01:00",
        "length": "6:00", "repeat": "DAY"})
    starts = conn.execute("SELECT starts_at FROM time_period_nodes").fetchone()[0]
    assert starts == datetime(2025, 12, 31, 22, 0, tzinfo=UTC)
    listing = as_admin.get("/timeperiodnodeview/list/").text
    assert "01.01.2026 01:00" in listing and "22:00" not in listing


def test_the_shift_report_and_the_receipt_say_the_same_time(as_cashier, conn, staff):
    account = _account(conn)
    at = datetime.now(UTC).replace(microsecond=0)
    ledger.post(conn, ledger.Entry(account, "payment", Decimal("10.00"), "lt:shift", at,
                                   staff_user_id=staff["cashier"]))
    entry = conn.execute("SELECT id FROM ledger_entries").fetchone()[0]
    local = at.astimezone(MSK)
    _russian(as_cashier)
    shift = as_cashier.get(f"/cashier/shift?day={local.date().isoformat()}").text
    assert local.strftime("%H:%M:%S") in shift
    assert local.strftime("%d.%m.%Y") in shift  # the day in the heading, as written here
    receipt = as_cashier.get(f"/cashier/receipt/{entry}").text
    assert local.strftime("%d.%m.%Y %H:%M:%S") in receipt
