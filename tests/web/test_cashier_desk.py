"""The cashier's tariff change (by the rule matrix, with clear refusals) and the cashier's
own shift report (count, sum, list; another operator's shift is the Admin's alone)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from billing import ledger
from billing.staff import ensure_staff
from tests.web.conftest import ADMIN, CASHIER, READONLY, csrf_token, login, submit
from tests.web.test_money import _pay_form

NOW = datetime.now(UTC)


def _tariff(conn, name: str, period: int | None = None) -> int:
    return conn.execute("INSERT INTO tariffs (name, settlement_period_id) VALUES (%s, %s) "
                        "RETURNING id", (name, period)).fetchone()[0]


def _rule(conn, old: int, new: int, **cell) -> None:
    cell = {"allowed": True, "cost": "0", "min_balance": "0", "min_time_on_tariff": "0",
            "effective": "NOW", **cell}
    conn.execute(
        "INSERT INTO tariff_change_rules (from_tariff_id, to_tariff_id, allowed, cost,"
        " min_balance, min_time_on_tariff, effective) VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (old, new, cell["allowed"], cell["cost"], cell["min_balance"],
         cell["min_time_on_tariff"], cell["effective"]))


def _subscriber(conn, tariff: int, balance: str = "100.00", contract: str = "50001") -> int:
    account = conn.execute("INSERT INTO accounts (contract, login, full_name) "
                           "VALUES (%s, %s, 'Тарифов Иван') RETURNING id",
                           (contract, f"l{contract}")).fetchone()[0]
    conn.execute("INSERT INTO account_tariffs (account_id, tariff_id, assigned_at) "
                 "VALUES (%s, %s, %s)", (account, tariff, NOW - timedelta(days=3)))
    ledger.post(conn, ledger.Entry(account, "payment", Decimal(balance), f"seed:{account}",
                                   NOW - timedelta(days=3)))
    return account


def _change(client, account: int, to_tariff: int):
    return submit(client, f"/cashier/account/{account}/tariff", {"to_tariff": str(to_tariff)})


def _assignments(conn, account: int) -> list[int]:
    return [r[0] for r in conn.execute("SELECT tariff_id FROM account_tariffs "
                                       "WHERE account_id = %s ORDER BY assigned_at",
                                       (account,))]


@pytest.fixture
def tariffs(conn):
    period = conn.execute("INSERT INTO settlement_periods (name, unit, autostart, anchor) "
                          "VALUES ('Month', 'MONTH', false, '2026-01-01') RETURNING id"
                          ).fetchone()[0]
    return {name: _tariff(conn, name, period) for name in ("Home", "Turbo", "Night", "Gold")}


def test_cashier_changes_a_tariff_now_at_the_rules_cost(as_cashier, conn, staff, tariffs):
    _rule(conn, tariffs["Home"], tariffs["Turbo"], cost="50.00")
    account = _subscriber(conn, tariffs["Home"])
    page = as_cashier.get(f"/cashier/account/{account}")
    assert 'id="ebs-tariff">Home' in page.text and "Change tariff" in page.text
    form = as_cashier.get(f"/cashier/account/{account}/tariff")
    assert "Turbo — 50.00\xa0RUB, now" in form.text and "Night — not allowed" in form.text

    done = _change(as_cashier, account, tariffs["Turbo"])

    assert "The tariff is now Turbo; charged 50.00\xa0RUB." in done.text
    assert 'id="ebs-tariff">Turbo' in done.text and 'data-balance="50.00"' in done.text
    assert _assignments(conn, account) == [tariffs["Home"], tariffs["Turbo"]]
    entry = conn.execute("SELECT kind, amount, staff_user_id FROM ledger_entries "
                         "WHERE kind = 'charge_tariff_change'").fetchone()
    assert entry == ("charge_tariff_change", Decimal("-50.00"), staff["cashier"])
    assert conn.execute("SELECT staff_user_id, status FROM tariff_changes").fetchone() == (
        staff["cashier"], "applied")
    assert ledger.verify(conn) == []


@pytest.mark.parametrize("cell, target, message", [
    ({"min_balance": "500.00"}, "Turbo",
     "The change needs a balance of at least 500.00\xa0RUB; the balance is 100.00\xa0RUB."),
    ({"allowed": False}, "Turbo", "The matrix does not allow changing from Home to Turbo."),
    (None, "Gold", "The matrix does not allow changing from Home to Gold."),
    ({"min_time_on_tariff": "30 days"}, "Turbo",
     "The subscriber must stay 30 d 0 h on the current tariff"),
])
def test_a_refused_change_says_why_and_changes_nothing(as_cashier, conn, tariffs, cell,
                                                      target, message):
    if cell is not None:
        _rule(conn, tariffs["Home"], tariffs[target], cost="10.00", **cell)
    account = _subscriber(conn, tariffs["Home"])

    page = _change(as_cashier, account, tariffs[target])

    assert page.status_code == 200
    assert message in page.text
    assert _assignments(conn, account) == [tariffs["Home"]]
    assert conn.execute("SELECT count(*) FROM tariff_changes").fetchone()[0] == 0
    assert conn.execute("SELECT balance FROM accounts WHERE id = %s",
                        (account,)).fetchone()[0] == Decimal("100.00")


def test_a_next_period_change_is_scheduled_and_shown(as_cashier, conn, tariffs):
    _rule(conn, tariffs["Home"], tariffs["Night"], effective="NEXT_PERIOD")
    _rule(conn, tariffs["Home"], tariffs["Turbo"])
    account = _subscriber(conn, tariffs["Home"])

    done = _change(as_cashier, account, tariffs["Night"])

    assert "The change to Night is scheduled for" in done.text
    assert 'id="ebs-tariff">Home' in done.text  # still on the old tariff until then
    effective = conn.execute("SELECT effective_at FROM tariff_changes WHERE status = 'pending'"
                             ).fetchone()[0]
    assert effective > NOW
    form = as_cashier.get(f"/cashier/account/{account}/tariff")
    assert 'id="ebs-pending">Night' in form.text
    again = _change(as_cashier, account, tariffs["Turbo"])
    assert "A tariff change is already scheduled for this account." in again.text


def test_an_account_without_a_tariff_is_told_so(as_cashier, conn):
    account = conn.execute("INSERT INTO accounts (contract, login) VALUES ('9', 'n') "
                           "RETURNING id").fetchone()[0]
    page = as_cashier.get(f"/cashier/account/{account}/tariff")
    assert "The account has no tariff to change from" in page.text


@pytest.mark.parametrize("credentials", [READONLY])
def test_readonly_cannot_change_a_tariff_or_see_a_shift(client, conn, tariffs, credentials):
    _rule(conn, tariffs["Home"], tariffs["Turbo"])
    account = _subscriber(conn, tariffs["Home"])
    login(client, *credentials)
    assert client.get(f"/cashier/account/{account}/tariff").status_code == 403
    token = csrf_token(client.get("/resetmypassword/form").text)
    refused = client.post(f"/cashier/account/{account}/tariff",
                          data={"csrf_token": token, "to_tariff": tariffs["Turbo"]})
    assert refused.status_code == 403
    assert client.get("/cashier/shift").status_code == 403
    assert _assignments(conn, account) == [tariffs["Home"]]


# --- the shift report -------------------------------------------------------------------

def _pay(client, account: int, amount: str, comment: str = "") -> None:
    client.post(f"/cashier/account/{account}/pay",
                data={**_pay_form(client, account), "amount": amount,
                      "description": comment})


def _entry(conn, account: int, amount: str, staff_id: int, at: datetime, key: str) -> int:
    return ledger.post(conn, ledger.Entry(account, "payment", Decimal(amount), key, at,
                                          staff_user_id=staff_id)).id


def test_cashier_sees_own_shift_only(client, conn, staff):
    first = conn.execute("INSERT INTO accounts (contract, login, full_name) VALUES "
                         "('61', 'a61', 'Первый Абонент') RETURNING id").fetchone()[0]
    second = conn.execute("INSERT INTO accounts (contract, login, full_name) VALUES "
                          "('62', 'a62', 'Второй Абонент') RETURNING id").fetchone()[0]
    other = ensure_staff(conn, "cashier2", "cashier2-Secret-1", "Cashier")
    _entry(conn, first, "999.00", other, NOW, "other-cashier")
    _entry(conn, first, "777.00", staff["cashier"], NOW - timedelta(days=2), "old-shift")
    login(client, *CASHIER)
    _pay(client, first, "150.00", "наличные")
    _pay(client, second, "250.50")
    wrong = conn.execute("SELECT max(id) FROM ledger_entries").fetchone()[0]
    ledger.reverse(conn, wrong, effective_at=datetime.now(UTC), staff_user_id=staff["admin"])

    page = client.get("/cashier/shift")

    assert page.status_code == 200
    assert 'data-count="2"' in page.text and 'data-sum="400.50"' in page.text
    assert 'data-net="150.00"' in page.text and "reversed" in page.text
    assert "Первый Абонент" in page.text and "Второй Абонент" in page.text
    assert "999.00" not in page.text and "777.00" not in page.text
    assert "window.print()" in page.text
    # Another day is the cashier's own too; another operator's shift is refused.
    old_day = (NOW - timedelta(days=2)).astimezone(_tz()).date().isoformat()
    old = client.get(f"/cashier/shift?day={old_day}")
    assert 'data-count="1"' in old.text and "777.00" in old.text
    assert client.get(f"/cashier/shift/{other}").status_code == 403
    assert client.get(f"/cashier/shift/{staff['admin']}").status_code == 403
    assert "My shift report" in client.get("/cashier/").text


def _tz():
    from zoneinfo import ZoneInfo

    return ZoneInfo("Europe/Moscow")


def test_admin_sees_any_operators_shift(client, conn, staff):
    account = conn.execute("INSERT INTO accounts (contract, login, full_name) VALUES "
                           "('71', 'a71', 'Абонент') RETURNING id").fetchone()[0]
    # The day is named: the module's NOW may be yesterday in Moscow by the time this runs.
    at = datetime.now(UTC)
    day = at.astimezone(_tz()).date().isoformat()
    _entry(conn, account, "120.00", staff["cashier"], at, "k1")
    login(client, *ADMIN)
    page = client.get(f"/cashier/shift/{staff['cashier']}?day={day}")
    assert "(cashier)" in page.text and 'data-sum="120.00"' in page.text
    own = client.get(f"/cashier/shift?day={day}")
    assert 'data-count="0"' in own.text and "No payments in this shift." in own.text
    assert client.get("/cashier/shift/999999").status_code == 404


# --- queries per page -----------------------------------------------------------------

BUDGET = {"/cashier/shift": 5, "/cashier/account/{account}/tariff": 6}


def _count(client, counter, url) -> int:
    with counter() as seen:
        assert client.get(url).status_code == 200, url
    return seen.count


@pytest.mark.parametrize("page", sorted(BUDGET))
def test_cashier_pages_cost_the_same_at_any_size(as_cashier, conn, staff, tariffs,
                                                count_queries, page):
    account = _subscriber(conn, tariffs["Home"])
    _rule(conn, tariffs["Home"], tariffs["Turbo"])

    def grow(start: int, count: int) -> None:
        conn.execute(
            "INSERT INTO tariffs (name) SELECT 'X' || g FROM generate_series(%s::int, %s::int) g",
            (start, start + count - 1))
        conn.execute(
            "INSERT INTO ledger_entries (account_id, kind, amount, idempotency_key,"
            " effective_at, staff_user_id) SELECT %s, 'payment', 10, 'g' || g, now(), %s"
            " FROM generate_series(%s::int, %s::int) g",
            (account, staff["cashier"], start, start + count - 1))

    url = page.format(account=account)
    grow(1, 2)
    small = _count(as_cashier, count_queries, url)
    grow(3, 300)
    conn.execute("ANALYZE ledger_entries")
    large = _count(as_cashier, count_queries, url)
    assert large == small, f"{url}: {small} queries with 2 rows, {large} with 302"
    assert large <= BUDGET[page], f"{url}: {large} queries, budget {BUDGET[page]}"
