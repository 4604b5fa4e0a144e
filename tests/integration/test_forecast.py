"""The forecast against a real PostgreSQL: an exact daily rate from the tariff's periodic
services and the last 30 days of usage charges, the days the money covers, and the next
charge, which is the charge the tick then makes, at its moment in the operator's zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from billing import ledger
from billing.accounts import set_status
from billing.forecast import NextCharge, PackageDue, forecast
from tests.integration.charging_helpers import (
    account,
    assign,
    pay,
    periodic_service,
    settlement_period,
    tariff,
    tick,
)

TZ = ZoneInfo("Europe/Moscow")
d = Decimal


def _charge(conn, acc, kind, amount, at) -> int:
    return ledger.post(conn, ledger.Entry(acc, kind, d(amount), f"{kind}:{acc}:{at}", at)).id


def test_rate_is_the_services_per_day_plus_the_usage_of_30_days(conn):
    sp = settlement_period(conn, anchor=datetime(2026, 1, 1, tzinfo=TZ))
    plan = tariff(conn)
    periodic_service(conn, plan, sp, "310.00", "AT_START", name="internet")
    periodic_service(conn, plan, sp, "31.00", "GRADUAL", name="tv")
    # Charges only while balance + credit < 0: not now.
    periodic_service(conn, plan, sp, "62.00", "GRADUAL", condition="LT", condition_sum="0")
    acc = account(conn, credit="20.00")
    assign(conn, acc, plan, datetime(2025, 11, 1, tzinfo=TZ))
    pay(conn, acc, "200.00", datetime(2025, 11, 1, tzinfo=TZ))
    at = datetime(2026, 1, 20, 12, tzinfo=TZ)
    _charge(conn, acc, "charge_traffic", "-50.00", at - timedelta(days=31))  # too old
    _charge(conn, acc, "charge_traffic", "-18.00", datetime(2026, 1, 5, tzinfo=TZ))
    _charge(conn, acc, "charge_traffic", "-12.00", datetime(2026, 1, 10, tzinfo=TZ))
    wrong = _charge(conn, acc, "charge_traffic", "-6.00", datetime(2026, 1, 12, tzinfo=TZ))
    ledger.reverse(conn, wrong, effective_at=datetime(2026, 1, 15, tzinfo=TZ))
    _charge(conn, acc, "charge_time", "-15.00", datetime(2026, 1, 19, tzinfo=TZ))
    _charge(conn, acc, "charge_onetime", "-7.00", datetime(2026, 1, 19, tzinfo=TZ))

    f = forecast(conn, acc, at, TZ)
    # January has 31 days: 310.00 + 31.00 a month; 30.00 of traffic and 15.00 of time in
    # the 30 days before.
    assert (f.periodic_per_day, f.traffic_per_day, f.time_per_day) == (d("11.00"), d("1.00"),
                                                                      d("0.50"))
    assert f.daily_rate == d("12.50")
    # 200 - 50 - 18 - 12 - 6 + 6 - 15 - 7 = 98.00, with 20.00 of credit: 118.00 / 12.50
    assert (f.balance, f.credit, f.days_left) == (d("98.00"), d("20.00"), 9)
    # The tv's next daily step comes before the internet's next month.
    assert f.next_charge == NextCharge(datetime(2026, 1, 21, tzinfo=TZ), d("1.00"), ("tv",))
    assert f.package_due is None


def test_next_charge_crosses_the_month_in_the_operators_zone(conn):
    sp = settlement_period(conn, anchor=datetime(2026, 1, 1, tzinfo=TZ))
    plan = tariff(conn)
    conn.execute("UPDATE tariffs SET settlement_period_id = %s, package_cost = 500,"
                 " require_package_cost = true WHERE id = %s", (sp, plan))
    periodic_service(conn, plan, sp, "300.00", "AT_START", name="internet")
    acc = account(conn)
    assign(conn, acc, plan, datetime(2026, 1, 1, tzinfo=TZ))
    pay(conn, acc, "1000.00", datetime(2026, 1, 1, tzinfo=TZ))
    at = datetime(2026, 1, 31, 20, 30, tzinfo=UTC)  # 23:30 in Moscow, still January
    tick(conn, at, tz=TZ, times=1)

    f = forecast(conn, acc, at, TZ)
    february = datetime(2026, 2, 1, tzinfo=TZ)
    assert f.next_charge == NextCharge(february, d("300.00"), ("internet",))
    assert f.next_charge.due_at.tzinfo == TZ
    assert f.next_charge.due_at == datetime(2026, 1, 31, 21, tzinfo=UTC)
    assert f.package_due == PackageDue(february, d("500.00"))
    # 300.00 over January's 31 days; 700.00 left.
    assert (f.daily_rate, f.balance, f.days_left) == (d("9.68"), d("700.00"), 72)
    # The tick charges exactly that, then.
    tick(conn, february, tz=TZ, times=1)
    assert conn.execute("SELECT amount FROM ledger_entries WHERE account_id = %s"
                        " AND effective_at = %s", (acc, february)).fetchall() == [(d("-300.00"),)]
    # February has 28 days.
    assert forecast(conn, acc, february + timedelta(hours=1), TZ).daily_rate == d("10.71")


def test_no_charges_no_rate_and_a_debt_covers_no_day(conn):
    sp = settlement_period(conn, anchor=datetime(2026, 1, 1, tzinfo=TZ))
    free, paid = tariff(conn), tariff(conn)
    periodic_service(conn, paid, sp, "31.00", "GRADUAL", name="tv")
    at = datetime(2026, 1, 20, 12, tzinfo=TZ)
    idle, debtor, new, off = (account(conn) for _ in range(4))
    assign(conn, idle, free, datetime(2025, 6, 1, tzinfo=TZ))
    pay(conn, idle, "10.00")
    for acc in (debtor, off):
        assign(conn, acc, paid, datetime(2025, 6, 1, tzinfo=TZ))
    _charge(conn, debtor, "correction", "-5.00", at - timedelta(days=1))
    assign(conn, new, free, at - timedelta(days=3))
    _charge(conn, new, "charge_traffic", "-9.00", at - timedelta(days=1))
    set_status(conn, off, "inactive_uncharged", at=at)

    f = forecast(conn, idle, at, TZ)
    assert (f.daily_rate, f.days_left, f.next_charge, f.package_due) == (d("0.00"), None,
                                                                         None, None)
    assert forecast(conn, debtor, at, TZ).days_left == 0
    # Three days on the books: 9.00 of traffic is 3.00 a day.
    assert forecast(conn, new, at, TZ).traffic_per_day == d("3.00")
    # Not charged while inactive_uncharged (the tick's rule).
    f = forecast(conn, off, at, TZ)
    assert (f.periodic_per_day, f.days_left, f.next_charge) == (d("0.00"), None, None)
