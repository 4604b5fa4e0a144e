"""Account state changes only through the account's actions, each calling its ``billing``
service: status, suspension, tariff (one account or many), passwords, promised payment.
A raw edit of those columns is no longer possible; a refusal is a clear form error and
writes nothing."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from billing import ledger
from billing.credentials import nt_password_hash
from billing.passwords import verify_password
from tests.web.conftest import csrf_token, submit

NOW = datetime.now(UTC)


def _account(conn, contract: str = "70001", balance: str = "0") -> int:
    account = conn.execute(
        "INSERT INTO accounts (contract, login, full_name) VALUES (%s, %s, 'Действий Иван')"
        " RETURNING id", (contract, f"l{contract}")).fetchone()[0]
    if Decimal(balance):
        ledger.post(conn, ledger.Entry(account, "payment", Decimal(balance), f"seed:{account}",
                                       NOW - timedelta(days=3)))
    return account


def _tariff(conn, name: str = "Home", **columns) -> int:
    names = ["name", *columns]
    return conn.execute(
        f"INSERT INTO tariffs ({', '.join(names)}) VALUES ({', '.join(['%s'] * len(names))})"
        " RETURNING id", (name, *columns.values())).fetchone()[0]


def _assign(conn, account: int, tariff: int, at: datetime) -> None:
    conn.execute("INSERT INTO account_tariffs (account_id, tariff_id, assigned_at)"
                 " VALUES (%s, %s, %s)", (account, tariff, at))


def _settled_until(conn, moment: datetime) -> None:
    """A finished charge tick that charged up to ``moment``."""
    conn.execute("INSERT INTO charge_runs (charged_to, finished_at, entries, amount)"
                 " VALUES (%s, now(), 0, 0)", (moment,))


def _status(conn, account: int) -> str:
    return conn.execute("SELECT status FROM accounts WHERE id = %s", (account,)).fetchone()[0]


def _refusal(page) -> str:
    found = re.search(r'id="ebs-refused">(.*?)</div>', page.text, re.S)
    assert found, "no refusal shown"
    return found.group(1)


def test_raw_status_and_password_edits_are_gone(as_admin, conn):
    account = _account(conn)
    before = conn.execute("SELECT password_hash FROM accounts WHERE id = %s",
                          (account,)).fetchone()[0]
    form = as_admin.get(f"/accountview/edit/{account}")
    assert 'name="status"' not in form.text and 'name="cabinet_password"' not in form.text
    submit(as_admin, f"/accountview/edit/{account}", {
        "contract": "70001", "login": "l70001", "full_name": "Действий Иван",
        "status": "suspended", "cabinet_password": "Changed-1", "credit": "0"})
    row = conn.execute("SELECT status, password_hash, full_name FROM accounts WHERE id = %s",
                       (account,)).fetchone()
    assert row == ("active", before, "Действий Иван")
    assert conn.execute("SELECT count(*) FROM account_status_history").fetchone()[0] == 0
    assignment = as_admin.get("/accounttariffview/add")
    assert assignment.status_code == 403
    # The account page offers the actions instead.
    show = as_admin.get(f"/accountview/show/{account}")
    assert f"/account-actions/{account}/status" in show.text
    assert f"/account-actions/{account}/tariff" in show.text


def test_status_changes_through_billing_and_lands_in_the_history(as_admin, conn, staff):
    account = _account(conn)
    page = submit(as_admin, f"/account-actions/{account}/status",
                  {"status": "inactive_uncharged", "reason": "moved out"})
    assert page.status_code == 200
    assert _status(conn, account) == "inactive_uncharged"
    history = conn.execute("SELECT what, old_value, new_value, actor, staff_user_id, reason"
                           " FROM account_status_history").fetchall()
    assert history == [("status", "active", "inactive_uncharged", "staff", staff["admin"],
                        "moved out")]
    listing = as_admin.get("/statushistoryview/list/")
    # The status by its label (webapp.labels), not its code.
    assert "moved out" in listing.text and "Inactive, not charged" in listing.text
    logged = conn.execute("SELECT action, object_type, object_id, new_values, staff_user_id"
                          " FROM staff_audit_log").fetchall()
    assert logged == [("status", "accounts", str(account),
                       {"status": "inactive_uncharged", "reason": "moved out"}, staff["admin"])]


def test_status_of_a_suspended_account_is_refused_on_the_form(as_admin, conn):
    account = _account(conn)
    conn.execute("UPDATE accounts SET status = 'suspended' WHERE id = %s", (account,))
    page = submit(as_admin, f"/account-actions/{account}/status", {"status": "active"})
    assert "The account is suspended: resume it first." in _refusal(page)
    assert _status(conn, account) == "suspended"


def test_suspension_and_resume_through_billing(as_admin, conn):
    tariff = _tariff(conn, allow_self_suspension=True, suspension_max_days=30)
    account = _account(conn, balance="100.00")
    _assign(conn, account, tariff, NOW - timedelta(days=3))
    submit(as_admin, f"/account-actions/{account}/suspend", {"days": "7", "reason": "trip"})
    row = conn.execute("SELECT requested_by, reason, planned_until > starts_at"
                       " FROM account_suspensions WHERE account_id = %s",
                       (account,)).fetchone()
    assert row == ("staff", "trip", True)
    assert _status(conn, account) == "suspended"
    assert "70001 Действий Иван" in as_admin.get("/suspensionview/list/").text
    submit(as_admin, f"/account-actions/{account}/resume", {"reason": "back"})
    assert _status(conn, account) == "active"
    assert conn.execute("SELECT end_reason FROM account_suspensions").fetchone()[0] == "requested"


def test_suspension_refused_by_the_tariff_is_a_form_error(as_admin, conn):
    tariff = _tariff(conn, allow_self_suspension=False)
    account = _account(conn)
    _assign(conn, account, tariff, NOW - timedelta(days=3))
    page = submit(as_admin, f"/account-actions/{account}/suspend", {"days": "7"})
    assert "The tariff does not allow this." in _refusal(page)
    assert conn.execute("SELECT count(*) FROM account_suspensions").fetchone()[0] == 0
    assert _status(conn, account) == "active"


def _assignments(conn, account: int) -> list[int]:
    return [r[0] for r in conn.execute(
        "SELECT tariff_id FROM account_tariffs WHERE account_id = %s ORDER BY assigned_at",
        (account,))]


def test_tariff_assignment_through_billing(as_admin, conn, staff):
    home, turbo = _tariff(conn, "Home"), _tariff(conn, "Turbo")
    account = _account(conn)
    _assign(conn, account, home, NOW - timedelta(days=3))
    page = submit(as_admin, f"/account-actions/{account}/tariff",
                  {"tariff": str(turbo), "at": ""})
    assert "The tariff is Turbo from" in page.text
    assert _assignments(conn, account) == [home, turbo]
    change = conn.execute("SELECT source, status, staff_user_id FROM tariff_changes").fetchone()
    assert change == ("bulk", "applied", staff["admin"])
    again = submit(as_admin, f"/account-actions/{account}/tariff",
                   {"tariff": str(turbo), "at": ""})
    assert "Nothing to change: the account is already on this tariff" in _refusal(again)
    assert _assignments(conn, account) == [home, turbo]
    assert conn.execute("SELECT count(*) FROM tariff_changes").fetchone()[0] == 1


def test_assignment_inside_charged_time_is_refused_on_the_form(as_admin, conn, web_settings):
    home, turbo = _tariff(conn, "Home"), _tariff(conn, "Turbo")
    account = _account(conn)
    _assign(conn, account, home, NOW - timedelta(days=3))
    _settled_until(conn, NOW - timedelta(hours=1))
    local = ZoneInfo(web_settings.TIME_ZONE)
    two_hours_ago = (NOW - timedelta(hours=2)).astimezone(local).strftime("%Y-%m-%d %H:%M")
    page = submit(as_admin, f"/account-actions/{account}/tariff",
                  {"tariff": str(turbo), "at": two_hours_ago})
    assert "an assignment cannot start inside time already charged" in _refusal(page)
    assert _assignments(conn, account) == [home]
    bad = submit(as_admin, f"/account-actions/{account}/tariff",
                 {"tariff": str(turbo), "at": "yesterday"})
    assert "Give the moment as YYYY-MM-DD HH:MM (local time)" in bad.text


def test_bulk_tariff_change_from_the_accounts_list(as_admin, conn, staff):
    home, turbo = _tariff(conn, "Home"), _tariff(conn, "Turbo")
    chosen = [_account(conn, f"7100{i}") for i in range(3)]
    other = _account(conn, "71009")
    for account in [*chosen, other]:
        _assign(conn, account, home, NOW - timedelta(days=3))
    listing = as_admin.get("/accountview/list/")
    assert "bulk_tariff" in listing.text  # the list offers the action
    picked = as_admin.post("/accountview/action_post", data={
        "action": "bulk_tariff", "rowid": [str(a) for a in chosen],
        "csrf_token": csrf_token(listing.text)})
    assert picked.status_code == 302
    form_url = picked.headers["Location"]
    assert "/account-actions/bulk-tariff" in form_url
    form = as_admin.get(form_url)
    assert all(f"7100{i}" in form.text for i in range(3)) and "71009" not in form.text
    ids = ",".join(map(str, sorted(chosen)))
    done = as_admin.post("/account-actions/bulk-tariff", data={
        "ids": ids, "tariff": str(turbo), "at": "", "csrf_token": csrf_token(form.text)},
        follow_redirects=True)
    assert "Moved to Turbo: 3; unchanged: 0" in done.text
    assert [_assignments(conn, a) for a in chosen] == [[home, turbo]] * 3
    assert _assignments(conn, other) == [home]
    assert conn.execute("SELECT count(*) FROM tariff_changes WHERE source = 'bulk'"
                        " AND staff_user_id = %s", (staff["admin"],)).fetchone()[0] == 3


def test_passwords_change_through_billing_credentials(as_admin, conn):
    account = _account(conn)
    sub = conn.execute("INSERT INTO subaccounts (account_id, username) VALUES (%s, 'ppp1')"
                       " RETURNING id", (account,)).fetchone()[0]
    assert 'name="password"' not in as_admin.get(f"/subaccountview/edit/{sub}").text
    submit(as_admin, f"/account-actions/{account}/password", {"password": "Cabinet-2"})
    stored = conn.execute("SELECT password_hash FROM accounts WHERE id = %s",
                          (account,)).fetchone()[0]
    assert verify_password(stored, "Cabinet-2")
    submit(as_admin, f"/account-actions/subaccount/{sub}/password", {"password": "net-2"})
    nt_hash = conn.execute("SELECT nt_password_hash FROM subaccounts WHERE id = %s",
                           (sub,)).fetchone()[0]
    assert nt_hash == nt_password_hash("net-2")
    logged = conn.execute("SELECT action, object_type, new_values FROM staff_audit_log"
                          " ORDER BY id").fetchall()
    assert logged == [("password", "accounts", {"password_hash": "***"}),
                      ("password", "subaccounts", {"nt_password_hash": "***"})]


def _shown_password(page) -> str:
    found = re.search(r"The new password is (\S+)\. Give it", page.text)
    assert found, page.text[-3000:]
    return found.group(1)


def test_an_empty_password_is_generated_and_shown_once(as_admin, conn):
    account = _account(conn)
    sub = conn.execute("INSERT INTO subaccounts (account_id, username) VALUES (%s, 'ppp2')"
                       " RETURNING id", (account,)).fetchone()[0]
    page = submit(as_admin, f"/account-actions/{account}/password", {"password": ""})
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    cabinet = _shown_password(page)
    assert len(cabinet) == 10 and not set(cabinet) & set("0O1lI")
    stored = conn.execute("SELECT password_hash FROM accounts WHERE id = %s",
                          (account,)).fetchone()[0]
    assert verify_password(stored, cabinet)
    page = submit(as_admin, f"/account-actions/subaccount/{sub}/password", {"password": ""})
    network = _shown_password(page)
    assert network != cabinet
    assert conn.execute("SELECT nt_password_hash FROM subaccounts WHERE id = %s",
                        (sub,)).fetchone()[0] == nt_password_hash(network)
    # Shown on that answer only: the account card afterwards does not carry it.
    assert cabinet not in as_admin.get(f"/accountview/show/{account}").text


@pytest.fixture
def promise_settings(conn):
    conn.execute("INSERT INTO promise_settings (tariff_id, max_sum, days) VALUES (NULL, 300, 5)")


def test_promised_payment_through_billing(as_admin, conn, promise_settings):
    account = _account(conn)
    _assign(conn, account, _tariff(conn), NOW - timedelta(days=3))
    refused = submit(as_admin, f"/account-actions/{account}/promise", {"amount": "500"})
    assert "above the promised payment" in _refusal(refused)
    assert conn.execute("SELECT count(*) FROM promised_payments").fetchone()[0] == 0
    submit(as_admin, f"/account-actions/{account}/promise", {"amount": "200"})
    row = conn.execute("SELECT amount, closed_at FROM promised_payments").fetchone()
    assert row == (Decimal("200.00"), None)
    assert conn.execute("SELECT balance FROM accounts WHERE id = %s",
                        (account,)).fetchone()[0] == Decimal("200.00")
    assert "200.00" in as_admin.get("/promisedpaymentview/list/").text
