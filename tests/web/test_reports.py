"""Reports (figures, chart, CSV, date ranges, permissions, queries per page) and the
dashboard's subscriber counts kept by triggers instead of a scan of accounts."""

import csv
import io
import json
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import ebs_env
from tests.web.conftest import CASHIER, READONLY, login

MSK = ZoneInfo("Europe/Moscow")
DAY = datetime(2026, 10, 15, 12, 0, tzinfo=MSK)
RANGE = "start=2026-10-01&end=2026-10-31"
REPORTS = ("payments", "gateways", "cashiers", "charges", "debtors", "tariffs")
# Statements per report page, measured: FAB's user, roles and permission lookups, the
# locale's, plus the report's one.
BUDGET = 5


def _accounts(conn, count: int, start: int = 0) -> None:
    conn.execute(
        "INSERT INTO accounts (contract, login, full_name, phone) "
        "SELECT (70000 + g)::text, 'r' || g, 'Абонент ' || g, '+7900' || g "
        "FROM generate_series(%s::int, %s::int) g", (start + 1, start + count))


def _entry(conn, contract: str, kind: str, amount: str, key: str, at: datetime,
           staff: int | None = None, source: str | None = None) -> None:
    details = json.dumps({"source": source} if source else {})
    conn.execute(
        "INSERT INTO ledger_entries (account_id, kind, amount, idempotency_key, effective_at,"
        " staff_user_id, details) SELECT id, %s, %s, %s, %s, %s, %s::jsonb FROM accounts"
        " WHERE contract = %s",
        (kind, amount, key, at, staff, details, contract))


@pytest.fixture
def money(conn, staff):
    """Three subscribers: two payments at the desk, one by a gateway, charges, a debtor,
    and entries outside October that no October report may count."""
    _accounts(conn, 3)
    sp = conn.execute("INSERT INTO settlement_periods (name, unit, autostart) "
                      "VALUES ('m', 'MONTH', true) RETURNING id").fetchone()[0]
    for name in ("Домашний", "Бизнес"):
        conn.execute("INSERT INTO tariffs (name, settlement_period_id) VALUES (%s, %s)",
                     (name, sp))
    conn.execute(
        "INSERT INTO account_tariffs (account_id, tariff_id, assigned_at) "
        "SELECT a.id, t.id, %s FROM accounts a, tariffs t "
        "WHERE (t.name = 'Домашний') = (a.contract <> '70003')", (DAY - timedelta(days=60),))
    cashier = staff["cashier"]
    _entry(conn, "70001", "payment", "1000.50", "p1", DAY, cashier, "cashier")
    _entry(conn, "70002", "payment", "500.25", "p2", DAY + timedelta(days=1), cashier,
           "cashier")
    _entry(conn, "70002", "payment", "300.00", "p3", DAY, source="sberbank")
    _entry(conn, "70001", "charge_periodic", "-750.00", "c1", DAY)
    _entry(conn, "70003", "charge_periodic", "-2500.00", "c2", DAY)
    _entry(conn, "70002", "charge_onetime", "-99.90", "c3", DAY)
    _entry(conn, "70001", "payment", "7777.00", "p-old", DAY - timedelta(days=40), cashier,
           "cashier")
    _entry(conn, "70002", "charge_periodic", "-1.00", "c-new", DAY + timedelta(days=30))


def _csv(client, name: str) -> list[list[str]]:
    response = client.get(f"/reports/{name}/?{RANGE}&format=csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    body = response.get_data(as_text=True)
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body[1:])))


def test_payments_by_period_gateway_and_cashier(as_admin, money):
    page = as_admin.get(f"/reports/payments/?{RANGE}")
    assert page.status_code == 200 and 'id="ebs-report-chart"' in page.text
    assert _csv(as_admin, "payments") == [
        ["Period", "Payments", "Amount"],
        ["2026-10-15", "2", "1300.50"], ["2026-10-16", "1", "500.25"]]
    assert _csv(as_admin, "gateways") == [
        ["Gateway", "Payments", "Amount"], ["cashier", "2", "1500.75"],
        ["sberbank", "1", "300.00"]]
    header, *rows = _csv(as_admin, "cashiers")
    assert header == ["Operator", "Name", "Payments", "Amount"]
    assert [(r[0], r[2], r[3]) for r in rows] == [("cashier", "2", "1500.75")]
    page = as_admin.get(f"/reports/gateways/?{RANGE}")
    assert "1,500.75\xa0RUB" in page.text and "1,800.75\xa0RUB" in page.text  # a row and the total


def test_charges_debtors_and_tariffs(as_admin, money):
    assert _csv(as_admin, "charges") == [
        ["Kind", "Charges", "Amount"], ["Periodic service", "2", "3250.00"],
        ["One-time service", "1", "99.90"]]
    # 70003 owes 2500 and paid nothing; 70001 paid in October (and is in credit anyway).
    rows = _csv(as_admin, "debtors")
    assert rows[0] == ["Contract", "Full name", "Phone", "Balance", "Credit", "Last payment"]
    assert rows[1:] == [["70003", "Абонент 3", "+79003", "-2500.00", "0.00", ""]]
    assert _csv(as_admin, "tariffs") == [
        ["Tariff", "Accounts", "Moved to it in the range"], ["Домашний", "2", "0"],
        ["Бизнес", "1", "0"]]


def test_csv_headers_follow_the_ui_language(as_admin, money):
    as_admin.get("/lang/ru")
    assert _csv(as_admin, "payments")[0] == ["Период", "Платежи", "Сумма"]


def test_a_bad_range_is_refused_with_a_message(as_admin, money):
    page = as_admin.get("/reports/payments/?start=2026-10-31&end=2026-10-01")
    assert "The end of the range is before its start." in page.text
    assert 'id="ebs-report-table"' not in page.text
    page = as_admin.get("/reports/charges/?start=2025-01-01&end=2026-10-01")
    assert "A report covers at most 366 days." in page.text
    assert "Give dates as YYYY-MM-DD." in as_admin.get("/reports/debtors/?start=1.10").text
    assert as_admin.get("/reports/nonsense/").status_code == 404


def test_readonly_reads_reports_and_a_cashier_does_not(client, money):
    login(client, *READONLY)
    assert client.get(f"/reports/debtors/?{RANGE}").status_code == 200
    assert "/reports/payments/" in client.get("/").text  # the menu entry
    client.get("/logout/")
    login(client, *CASHIER)
    denied = client.get(f"/reports/payments/?{RANGE}", follow_redirects=False)
    assert denied.status_code in (302, 403)


@pytest.mark.parametrize("name", REPORTS)
def test_queries_per_report_page_are_bounded(as_admin, conn, money, count_queries, name):
    url = f"/reports/{name}/?{RANGE}"
    as_admin.get(url)  # the first request of a client loads more (locale, menu)
    with count_queries() as small:
        assert as_admin.get(url).status_code == 200
    _accounts(conn, 300, start=3)
    conn.execute("INSERT INTO ledger_entries (account_id, kind, amount, idempotency_key,"
                 " effective_at) SELECT id, 'charge_periodic', -10, 'more' || id, %s"
                 " FROM accounts", (DAY,))
    conn.execute("ANALYZE")
    with count_queries() as large:
        assert as_admin.get(url).status_code == 200
    assert large.count == small.count <= BUDGET, (name, small.statements)


def _real_counts(conn) -> tuple:
    return conn.execute(
        """
        SELECT count(*),
               count(*) FILTER (WHERE status = 'active' AND NOT blocked_by_balance
                                AND NOT blocked_by_limit),
               count(*) FILTER (WHERE blocked_by_balance OR blocked_by_limit),
               count(*) FILTER (WHERE status = 'suspended'),
               count(*) FILTER (WHERE balance + credit < 0),
               coalesce(sum(balance) FILTER (WHERE balance < 0), 0)
          FROM accounts
        """).fetchone()


def _dashboard(client) -> dict[str, str]:
    import re

    text = client.get("/").text
    return dict(re.findall(r'data-stat="(\w+)">([^<(]+)', text))


def test_dashboard_counts_follow_every_change_without_scanning_accounts(
        as_admin, conn, money, count_queries):
    conn.execute("UPDATE accounts SET status = 'suspended' WHERE contract = '70002'")
    conn.execute("UPDATE accounts SET blocked_by_balance = true WHERE contract = '70003'")
    conn.execute("UPDATE accounts SET credit = 3000 WHERE contract = '70003'")
    _accounts(conn, 5, start=3)
    conn.execute("DELETE FROM accounts WHERE contract = '70008'")
    _entry(conn, "70004", "payment", "12.34", "today", datetime.now(MSK), source="x")
    _entry(conn, "70004", "charge_onetime", "-2.00", "today-c", datetime.now(MSK))
    total, active, blocked, suspended, debtors, debt = _real_counts(conn)
    assert (total, active, blocked, suspended, debtors) == (7, 5, 1, 1, 0)
    shown = _dashboard(as_admin)
    assert [shown[k].strip() for k in ("total", "active", "blocked", "suspended", "debtors")] \
        == ["7", "5", "1", "1", "0"]
    assert -debt == Decimal("2500.00") and shown["debt"].strip() == "2,500.00\xa0RUB"
    assert shown["payments"].strip() == "12.34\xa0RUB"
    assert shown["charges"].strip() == "2.00\xa0RUB"
    with count_queries() as seen:
        as_admin.get("/")
    assert not any("FROM accounts" in s for s in seen.statements), seen.statements


def test_dashboard_sums_unfolded_rows_and_the_beat_task_folds_them(
        as_admin, conn, money, db, monkeypatch):
    """The page only reads: rows piled up between two runs of ebs.fold_totals are summed
    to the right figures, and the task's fold changes the row count, not the figures."""
    for _ in range(201):  # each toggle changes the counts: one delta row each
        conn.execute("UPDATE accounts SET status = CASE status WHEN 'active' THEN 'suspended'"
                     " ELSE 'active' END WHERE contract = '70003'")
    for n in range(3):  # one ledger_totals row per statement, all in one bucket
        _entry(conn, "70001", "payment", "10.00", f"today-{n}", datetime.now(MSK),
               source="x")
    rows = "SELECT (SELECT count(*) FROM account_stats_deltas), (SELECT count(*) FROM" \
           " ledger_totals WHERE kind = 'payment' AND source = 'x')"
    piled = conn.execute(rows).fetchone()
    assert piled[0] > 200 and piled[1] == 3
    before = _dashboard(as_admin)
    assert conn.execute(rows).fetchone() == piled
    real = _real_counts(conn)
    assert [before[k].strip() for k in ("total", "active", "suspended")] == \
        [str(real[0]), str(real[1]), str(real[3])]
    assert before["payments"].strip() == "30.00\xa0RUB"

    for name, value in ebs_env(db).items():
        monkeypatch.setenv(name, value)
    from worker.totals_tasks import fold_totals

    assert fold_totals()["ledger_totals_merged"] >= 2
    assert conn.execute(rows).fetchone() == (1, 1)
    assert _dashboard(as_admin) == before


def test_dashboard_chart_shows_states_as_shares_of_all_subscribers(as_admin, conn, money):
    import re

    conn.execute("UPDATE accounts SET status = 'suspended' WHERE contract = '70002'")
    text = as_admin.get("/").text
    chart = text[text.index('id="ebs-dashboard-chart"'):]
    widths = re.findall(r'title="([^:"]+): (\d+)"', chart)[:5]
    assert widths == [("Active", "2"), ("Blocked", "0"), ("Suspended", "1"), ("Debtors", "1"),
                      ("Online now", "0")]
    assert "width: 66%" in chart and "width: 33%" in chart
