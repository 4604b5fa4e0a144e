"""Express cards through the web app on a real PostgreSQL: the admin makes a series, exports
its PINs once (a print-ready sheet or CSV, never cached, refused the second time), keeps
dealers and sells to one with a printable invoice of the exact total; the cashier's desk
and the REST API activate a card once, each refusal in words and by code, wrong PINs
locked out; the ledger verified after each."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from billing import express_cards as cards
from billing import ledger
from tests.web.api_tools import api_as
from tests.web.conftest import csrf_token, login, submit

KEY_HEX = "ab" * 32
KEY = bytes.fromhex(KEY_HEX)
_PIN = re.compile(r'data-number="(\d+)">.*?<span class="pin">([^<]+)</span>', re.S)


@pytest.fixture
def keyed(app):
    """The host's credentials key, as `ebs up` makes one."""
    app.config["EBS_SETTINGS"].CREDENTIALS_KEY = KEY_HEX
    return app


@pytest.fixture(autouse=True)
def _ledger_verified(conn):
    yield
    assert ledger.verify(conn) == []


def _account(conn, contract="E-1") -> int:
    return conn.execute("INSERT INTO accounts (contract, login, full_name) VALUES (%s, %s,"
                        " 'Карточкин Пётр') RETURNING id",
                        (contract, contract.lower())).fetchone()[0]


def _balance(conn, account: int) -> Decimal:
    return conn.execute("SELECT balance FROM accounts WHERE id = %s", (account,)).fetchone()[0]


def _sold_card(conn, nominal="300.00", count=2) -> tuple[int, list[tuple[str, str]]]:
    series = cards.create_series(conn, name="Desk", count=count, nominal=nominal,
                                 valid_until=datetime.now(UTC) + timedelta(days=30), key=KEY)
    exported = cards.export_series(conn, series.id, key=KEY).cards
    dealer = conn.execute("INSERT INTO card_dealers (name) VALUES (%s) RETURNING id",
                          (f"Shop {series.id}",)).fetchone()[0]
    cards.sell_to_dealer(conn, series.id, dealer, count)
    return series.id, exported


def _new_series(client, **fields):
    data = {"name": "Winter", "count": "12", "nominal": "500.00",
            "valid_through": "2030-12-31", "pin_length": "12", "pin_alphabet": "0123456789",
            "comment": ""}
    return submit(client, "/express-cards/new", {**data, **fields})


def test_admin_makes_a_series_and_exports_its_pins_once_as_a_sheet(as_admin, keyed, conn):
    page = _new_series(as_admin)
    assert "Series Winter of 12 cards is made." in page.text
    series_id, valid_until = conn.execute("SELECT id, valid_until FROM card_series").fetchone()
    assert valid_until == datetime(2031, 1, 1, tzinfo=UTC) - timedelta(hours=3)  # Moscow
    assert conn.execute("SELECT count(*) FROM express_cards").fetchone()[0] == 12
    assert 'id="ebs-exported">no' in page.text

    series_page = as_admin.get(f"/express-cards/{series_id}")
    sheet = as_admin.post(f"/express-cards/{series_id}/export",
                          data={"format": "html", "csrf_token": csrf_token(series_page.text)})
    assert sheet.status_code == 200 and sheet.headers["Cache-Control"] == "no-store"
    printed = _PIN.findall(sheet.text)
    assert len(printed) == 12 and "@page" in sheet.text
    for number, pin in printed:
        stored = conn.execute("SELECT pin_hash FROM express_cards WHERE number = %s",
                              (number,)).fetchone()[0]
        assert bytes(stored) == cards.pin_hash(KEY, number, pin)

    again = as_admin.post(f"/express-cards/{series_id}/export",
                          data={"format": "csv", "csrf_token": csrf_token(series_page.text)})
    assert "exported once already" in again.text
    assert not _PIN.findall(again.text)
    assert conn.execute("SELECT pins_sealed IS NULL FROM card_series").fetchone() == (True,)
    assert conn.execute("SELECT count(*) FROM staff_audit_log WHERE object_type ="
                        " 'card_series'").fetchone()[0] == 2  # made, exported


def test_the_csv_export_holds_every_number_and_pin(as_admin, keyed, conn):
    _new_series(as_admin, count="3", nominal="150.00")
    series_id = conn.execute("SELECT id FROM card_series").fetchone()[0]
    page = as_admin.get(f"/express-cards/{series_id}")
    exported = as_admin.post(f"/express-cards/{series_id}/export",
                             data={"format": "csv", "csrf_token": csrf_token(page.text)})
    assert exported.headers["Content-Type"].startswith("text/csv")
    assert exported.headers["Cache-Control"] == "no-store"
    rows = list(csv.reader(io.StringIO(exported.text), delimiter=";"))
    assert rows[0] == ["number", "pin", "nominal", "valid_until"] and len(rows) == 4
    for number, pin, nominal, _until in rows[1:]:
        assert nominal == "150.00"
        assert cards.pin_hash(KEY, number, pin) == bytes(conn.execute(
            "SELECT pin_hash FROM express_cards WHERE number = %s", (number,)).fetchone()[0])


def test_a_series_is_refused_in_words_for_weak_pins_or_no_key(as_admin, app, conn, tmp_path):
    settings = app.config["EBS_SETTINGS"]
    settings.CREDENTIALS_KEY, settings.CREDENTIALS_KEY_FILE = "", str(tmp_path / "none.key")
    assert "no credentials key" in _new_series(as_admin).text
    settings.CREDENTIALS_KEY = KEY_HEX
    assert "Too few possible PINs" in _new_series(as_admin, pin_length="8").text
    assert conn.execute("SELECT count(*) FROM card_series").fetchone()[0] == 0


def test_a_dealer_buys_cards_with_an_exact_invoice(as_admin, keyed, conn):
    submit(as_admin, "/carddealerview/add", {"name": "Киоск у метро",
                                             "discount_percent": "12.35", "contact": "+7 900"})
    dealer = conn.execute("SELECT id, discount_percent FROM card_dealers").fetchone()
    assert dealer[1] == Decimal("12.35")
    _new_series(as_admin, count="7", nominal="333.33")
    series_id = conn.execute("SELECT id FROM card_series").fetchone()[0]

    invoice = submit(as_admin, f"/express-cards/{series_id}",
                     {"dealer": str(dealer[0]), "count": "3"},
                     post_url=f"/express-cards/{series_id}/sell")
    assert 'data-total="876.49"' in invoice.text  # 333.33 × 3 × 0.8765 = 876.4857
    assert "Киоск у метро" in invoice.text and "Invoice No." in invoice.text
    assert conn.execute("SELECT total, card_count FROM card_sales").fetchone() == (
        Decimal("876.49"), 3)
    refused = submit(as_admin, f"/express-cards/{series_id}",
                     {"dealer": str(dealer[0]), "count": "5"},
                     post_url=f"/express-cards/{series_id}/sell")
    assert "fewer unsold cards" in refused.text
    assert conn.execute("SELECT count(*) FROM express_cards WHERE sale_id IS NOT NULL"
                        ).fetchone()[0] == 3
    assert "876.49" in as_admin.get("/cardsaleview/list/").text


def test_a_disabled_series_is_said_so_and_enabled_again(as_admin, keyed, conn):
    _new_series(as_admin, count="1")
    series_id = conn.execute("SELECT id FROM card_series").fetchone()[0]
    page = as_admin.get(f"/express-cards/{series_id}")
    done = as_admin.post(f"/express-cards/{series_id}/enabled/0",
                         data={"csrf_token": csrf_token(page.text)}, follow_redirects=True)
    assert "The series is disabled." in done.text and 'id="ebs-enabled">no' in done.text
    assert conn.execute("SELECT enabled FROM card_series").fetchone() == (False,)
    as_admin.post(f"/express-cards/{series_id}/enabled/1",
                  data={"csrf_token": csrf_token(done.text)})
    assert conn.execute("SELECT enabled FROM card_series").fetchone() == (True,)
    assert as_admin.get("/express-cards/").status_code == 200


def _desk_activate(client, account: int, number: str, pin: str):
    return submit(client, f"/cashier/account/{account}", {"number": number, "pin": pin},
                  post_url=f"/cashier/card/{account}")


def test_the_cashier_activates_a_card_once_and_prints_the_receipt(as_cashier, keyed, conn,
                                                                   staff):
    account = _account(conn)
    _series, exported = _sold_card(conn, nominal="300.00")
    (number, pin), (other, _pin) = exported
    page = as_cashier.get(f"/cashier/account/{account}")
    assert 'id="ebs-card-form"' in page.text

    receipt = _desk_activate(as_cashier, account, number, pin)
    assert f"Card {number}: 300.00\xa0RUB is on the balance." in receipt.text
    assert "Receipt No." in receipt.text and 'data-amount="300.00"' in receipt.text
    assert _balance(conn, account) == Decimal("300.00")
    assert conn.execute("SELECT staff_user_id FROM ledger_entries").fetchone() == (
        staff["cashier"],)

    again = _desk_activate(as_cashier, account, number, pin)
    assert "This card has already been used." in again.text
    wrong = _desk_activate(as_cashier, account, other, "000000000000")
    assert "No card has this number and PIN." in wrong.text
    assert _balance(conn, account) == Decimal("300.00")
    # The wrong PIN was counted (committed with the refusal) for the account and the desk.
    assert sorted(conn.execute("SELECT scope, subject, failures FROM card_pin_guard")) == [
        ("account", str(account), 1), ("source", f"staff:{staff['cashier']}", 1)]


def test_the_desk_is_locked_after_too_many_wrong_pins(as_cashier, keyed, conn):
    account = _account(conn)
    _series, exported = _sold_card(conn)
    number, pin = exported[0]
    for _ in range(5):
        _desk_activate(as_cashier, account, number, "111111111111")
    locked = _desk_activate(as_cashier, account, number, pin)
    assert "Too many wrong PINs: try again after" in locked.text
    assert _balance(conn, account) == 0


def test_a_readonly_user_sees_series_but_cannot_export_or_activate(client, keyed, conn,
                                                                    staff):
    series_id, _exported = _sold_card(conn)
    login(client, "auditor", "auditor-Secret-1")
    page = client.get(f"/express-cards/{series_id}")
    assert page.status_code == 200 and 'id="ebs-export"' not in page.text
    assert 'id="ebs-sell"' not in page.text
    token = csrf_token(client.get("/resetmypassword/form").text)
    for url, data in ((f"/express-cards/{series_id}/sell", {"dealer": "1", "count": "1"}),
                      (f"/express-cards/{series_id}/export", {"format": "csv"})):
        refused = client.post(url, data={"csrf_token": token, **data})
        assert refused.status_code == 403
    unexported = cards.create_series(conn, name="Kept", count=1, nominal="10.00",
                                     valid_until=datetime.now(UTC) + timedelta(days=9),
                                     key=KEY)
    refused = client.post(f"/express-cards/{unexported.id}/export",
                          data={"csrf_token": token, "format": "csv"})
    assert refused.status_code == 403
    assert conn.execute("SELECT count(*) FROM card_series WHERE pins_sealed IS NOT NULL"
                        ).fetchone()[0] == 1
    assert conn.execute("SELECT count(*) FROM card_sales").fetchone()[0] == 1


def test_the_api_activates_a_card_once_and_refuses_by_code(client, keyed, conn, staff):
    account = _account(conn)
    series_id, exported = _sold_card(conn, nominal="750.00", count=3)
    (number, pin), (second, second_pin), (third, _third_pin) = exported
    api = api_as(client, "Cashier")
    url = f"/api/v1/account/{account}/card"

    done = api.post(url, {"number": number, "pin": pin})
    assert done.status_code == 201, done.text
    result = done.json["result"]
    assert result["card_number"] == number and result["nominal"] == "750.00"
    assert result["entry"]["balance"] == "750.00" and result["entry"]["kind"] == "payment"
    assert result["entry"]["staff_user_id"] == staff["cashier"]

    used = api.post(url, {"number": number, "pin": pin})
    assert (used.status_code, used.json["reason"]) == (422, "card_used")
    cards.set_enabled(conn, series_id, False)
    disabled = api.post(url, {"number": second, "pin": second_pin})
    assert (disabled.status_code, disabled.json["reason"]) == (422, "card_disabled")
    cards.set_enabled(conn, series_id, True)
    bad = api.post(url, {"number": third})
    assert bad.status_code == 400 and "pin" in bad.json["errors"]
    missing = api.post("/api/v1/account/999999/card", {"number": number, "pin": pin})
    assert missing.status_code == 404

    for _ in range(5):
        wrong = api.post(url, {"number": third, "pin": "222222222222"})
        assert (wrong.status_code, wrong.json["reason"]) == (422, "wrong_pin")
    locked = api.post(url, {"number": second, "pin": second_pin})
    assert (locked.status_code, locked.json["reason"]) == (429, "too_many_attempts")
    assert locked.json["locked_until"]
    assert _balance(conn, account) == Decimal("750.00")
    assert conn.execute("SELECT count(*) FROM ledger_entries").fetchone()[0] == 1
    assert conn.execute("SELECT count(*) FROM staff_audit_log WHERE action = 'payment'"
                        ).fetchone()[0] == 1

    readonly = api_as(client, "ReadOnly")
    assert readonly.post(url, {"number": second, "pin": second_pin}).status_code == 403
