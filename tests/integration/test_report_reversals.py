"""Reports and the dashboard net reversals out, in the period of the reversal.

Every figure of the payments, gateways, cashiers and charges reports (their own SQL, with
the parameters their view builds) and the dashboard's money of the day is checked against
a recomputation straight from ``ledger_entries`` by the documented rule: a reversal counts
at its own moment under its original's kind, source and operator, as -1 entry with its
own amount. A closed day's report does not move when a payment of that day is reversed
the next day.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine

from billing import ledger, payments
from billing.schema import MIGRATIONS_DIR
from tests.integration.ledger_helpers import balance, make_account
from webapp.reports import REPORTS
from webapp.views.dashboard import today_money
from webapp.views.reports import csv_lines, range_params

MSK = ZoneInfo("Europe/Moscow")
DAY1, DAY2 = date(2026, 10, 15), date(2026, 10, 16)
MONEY_REPORTS = ("payments", "gateways", "cashiers", "charges")
REBUILD = MIGRATIONS_DIR / "202612070100_ledger_totals_net_reversals.sql"


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=MSK)


def _staff(conn, username: str) -> int:
    return conn.execute(
        "INSERT INTO ab_user (first_name, last_name, username, password, active, email)"
        " VALUES (%s, '-', %s, '-', true, %s) RETURNING id",
        (username.title(), username, f"{username}@isp.example")).fetchone()[0]


@pytest.fixture
def sql(db):
    engine = create_engine(f"postgresql+psycopg:///?{db.replace(' ', '&')}")
    with engine.connect() as connection:
        yield connection
    engine.dispose()


def report(sql, name: str, first: date, last: date) -> dict:
    """A report's rows by their label column, as the page shows them."""
    chosen = REPORTS[name]
    rows = sql.execute(chosen.statement, range_params(first, last, MSK)).mappings().all()
    label = chosen.columns[0].key
    count, amount = chosen.columns[-2].key, chosen.columns[-1].key
    return {row[label]: (row[count], row[amount]) for row in rows}


def recomputed(conn, name: str, first: date, last: date) -> dict:
    """What the report must say, from the entries themselves."""
    start, end = range_params(first, last, MSK)["start"], range_params(first, last, MSK)["end"]
    entries = {row[0]: row for row in conn.execute(
        "SELECT e.id, e.kind, e.amount, e.effective_at, e.staff_user_id, e.reverses_id,"
        "       e.details->>'source', u.username"
        "  FROM ledger_entries e LEFT JOIN ab_user u ON u.id = e.staff_user_id")}
    figures: dict = defaultdict(lambda: (0, Decimal("0.00")))
    for _id, _kind, amount, moment, _staff_id, reverses, _source, _user in entries.values():
        if not start <= moment < end:
            continue
        counted = entries[reverses] if reverses else entries[_id]
        _, kind, _, _, staff_id, _, source, username = counted
        one = -1 if reverses else 1
        if name == "charges":
            if kind.startswith("charge"):
                key, amount = kind, -amount
            else:
                continue
        elif kind != "payment":
            continue
        elif name == "payments":
            key = moment.astimezone(MSK).date()
        elif name == "gateways":
            key = source or "-"
        elif staff_id is None:  # cashiers: a gateway's payment has no operator
            continue
        else:
            key = username
        entries_so_far, sum_so_far = figures[key]
        figures[key] = (entries_so_far + one, sum_so_far + amount)
    return dict(figures)


def dashboard_recomputed(conn, day: date) -> dict:
    """The dashboard's money since the day's local midnight (nothing is posted later)."""
    paid = recomputed(conn, "payments", day, day + timedelta(days=30)).values()
    charged = recomputed(conn, "charges", day, day + timedelta(days=30)).values()
    return {"payments": sum((amount for _, amount in paid), Decimal("0.00")),
            "payment_count": sum(count for count, _ in paid),
            "charges": sum((amount for _, amount in charged), Decimal("0.00"))}


def totals_by_key(conn) -> list:
    return conn.execute(
        "SELECT bucket, kind, source, staff_user_id, sum(entries)::bigint, sum(amount)"
        "  FROM ledger_totals GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4").fetchall()


def test_reversals_net_out_in_their_own_period_under_the_original(conn, sql):
    anna, boris, admin = _staff(conn, "anna"), _staff(conn, "boris"), _staff(conn, "admin")
    first, second, third = (make_account(conn, c) for c in ("8001", "8002", "8003"))

    def pay(account, amount, source, key, moment, staff=None):
        return payments.post_payment(conn, account, amount, source=source, unique_id=key,
                                     staff_user_id=staff, at=moment).id

    def charge(account, amount, kind, key, moment):
        return ledger.post(conn, ledger.Entry(account, kind, Decimal(amount), key, moment)).id

    def reverse(entry_id, moment):
        payments.reverse_entry(conn, entry_id, staff_user_id=admin, reason="ошибка",
                               at=moment)

    # Day one, a closed day once it is over.
    charge(first, "-750.00", "charge_periodic", "c1", at(DAY1, 3))
    onetime = charge(second, "-99.90", "charge_onetime", "c2", at(DAY1, 4))
    pay(first, "1000.50", "cashier", "p1", at(DAY1, 10), anna)
    mistaken = pay(second, "500.25", "cashier", "p2", at(DAY1, 12), boris)
    late = pay(third, "300.00", "sberbank", "p3", at(DAY1, 23, 50))
    reverse(mistaken, at(DAY1, 18))  # the same day, by another operator than the cashier
    closed = {name: report(sql, name, DAY1, DAY1) for name in MONEY_REPORTS}
    assert closed["payments"] == {DAY1: (2, Decimal("1300.50"))}
    assert closed["cashiers"] == {"anna": (1, Decimal("1000.50")),
                                  "boris": (0, Decimal("0.00"))}
    assert "admin" not in closed["cashiers"]

    # Day two: the last payment of day one is reversed five minutes after midnight (a
    # bucket and a day later), the one-time charge of day one too, and a payment of the
    # day within the day.
    reverse(late, at(DAY2, 0, 5))
    reverse(onetime, at(DAY2, 2))
    charge(third, "-30.00", "charge_periodic", "c3", at(DAY2, 1))
    today = pay(first, "200.00", "cashier", "p4", at(DAY2, 9), anna)
    pay(second, "70.00", "sberbank", "p5", at(DAY2, 10))
    reverse(today, at(DAY2, 11))

    for name in MONEY_REPORTS:
        assert report(sql, name, DAY1, DAY1) == closed[name], name
        for first_day, last_day in ((DAY1, DAY1), (DAY2, DAY2), (DAY1, DAY2)):
            assert report(sql, name, first_day, last_day) == recomputed(
                conn, name, first_day, last_day), (name, first_day, last_day)
    # The same figures, written out: day two's payments net the 300.00 of day one.
    assert report(sql, "payments", DAY1, DAY2) == {
        DAY1: (2, Decimal("1300.50")), DAY2: (0, Decimal("-230.00"))}
    assert report(sql, "gateways", DAY2, DAY2) == {
        "sberbank": (0, Decimal("-230.00")), "cashier": (0, Decimal("0.00"))}
    assert report(sql, "charges", DAY1, DAY2) == {
        "charge_periodic": (2, Decimal("780.00")), "charge_onetime": (0, Decimal("0.00"))}
    assert report(sql, "charges", DAY2, DAY2)["charge_onetime"] == (-1, Decimal("-99.90"))

    money_today = today_money(sql, MSK, now=at(DAY2, 23))
    assert money_today == dashboard_recomputed(conn, DAY2) == {
        "payments": Decimal("-230.00"), "payment_count": 0, "charges": Decimal("-69.90")}

    # What the ledger holds in all: the totals add up to the balances, kind by kind.
    assert ledger.verify(conn) == []
    assert conn.execute("SELECT sum(amount) FROM ledger_totals").fetchone()[0] == \
        conn.execute("SELECT sum(balance) FROM accounts").fetchone()[0] == Decimal("290.50")
    assert conn.execute("SELECT count(*) FROM ledger_totals WHERE kind = 'reversal'"
                        ).fetchone()[0] == 0

    # Folding changes no figure.
    before = {name: report(sql, name, DAY1, DAY2) for name in MONEY_REPORTS}
    conn.execute("SELECT ebs_ledger_totals_fold()")
    assert {name: report(sql, name, DAY1, DAY2) for name in MONEY_REPORTS} == before


def test_the_rebuild_by_the_migration_equals_what_the_trigger_keeps(conn):
    """The migration's rebuild follows the trigger's rule, and replaces totals kept by
    the earlier rule (a reversal under kind 'reversal', its own operator)."""
    cashier, admin = _staff(conn, "anna"), _staff(conn, "admin")
    account = make_account(conn)
    paid = payments.post_payment(conn, account, "400.00", source="cashier", unique_id="p",
                                 staff_user_id=cashier, at=at(DAY1, 10))
    payments.reverse_entry(conn, paid.id, staff_user_id=admin, at=at(DAY2, 9))
    payments.post_payment(conn, account, "50.00", source="qiwi", unique_id="q",
                          at=at(DAY2, 9))
    kept = totals_by_key(conn)
    conn.execute(
        "INSERT INTO ledger_totals (bucket, kind, source, staff_user_id, entries, amount)"
        " VALUES (ebs_ledger_bucket(%s), 'reversal', '', %s, 1, -400.00)", (at(DAY2, 9), admin))
    with conn.transaction():
        conn.execute(Path(REBUILD).read_text(encoding="utf-8").encode())
    assert totals_by_key(conn) == kept
    assert [row[1:] for row in kept] == [
        ("payment", "cashier", cashier, 1, Decimal("400.00")),
        ("payment", "cashier", cashier, -1, Decimal("-400.00")),
        ("payment", "qiwi", 0, 1, Decimal("50.00"))]


def test_the_largest_payment_posted_and_reversed_the_same_day_nets_to_zero(conn, sql):
    """Everywhere an operator looks: the payments report and its CSV, the gateways and
    cashiers reports, the dashboard."""
    cashier, admin = _staff(conn, "anna"), _staff(conn, "admin")
    account = make_account(conn)
    huge = Decimal("99999999999.00")
    paid = payments.post_payment(conn, account, huge, source="cashier", unique_id="huge",
                                 staff_user_id=cashier, at=at(DAY1, 11), maximum=huge)
    payments.reverse_entry(conn, paid.id, staff_user_id=admin, at=at(DAY1, 11, 2))
    assert balance(conn, account) == 0 and ledger.verify(conn) == []

    zero = (0, Decimal("0.00"))
    assert report(sql, "payments", DAY1, DAY1) == {DAY1: zero}
    assert report(sql, "gateways", DAY1, DAY1) == {"cashier": zero}
    assert report(sql, "cashiers", DAY1, DAY1) == {"anna": zero}
    rows = sql.execute(REPORTS["payments"].statement,
                       range_params(DAY1, DAY1, MSK)).mappings().all()
    lines = "".join(csv_lines(REPORTS["payments"], rows)).lstrip("\ufeff").splitlines()
    assert lines[1:] == ["2026-10-15,0,0.00"]
    assert today_money(sql, MSK, now=at(DAY1, 20)) == {
        "payments": Decimal("0.00"), "payment_count": 0, "charges": Decimal("0")}
