"""Why access is limited, against a real PostgreSQL: every reason the cabinet can show,
each with its fix, and each the reason the RADIUS path gives the same account at the
same moment (``ebs_radius_check``'s facts, read by rlm_ebs, decided by
``billing.access.decide``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from billing import ledger
from billing.access import Reason, decide
from billing.access_state import limitation
from billing.accounts import set_status
from billing.suspension import add_local_days, suspend_account
from flow.limits import check_limits
from rlm_ebs.facts import access_facts, stored_facts
from rlm_ebs.request import AccessRequest, request_access
from tests.integration.charging_helpers import (
    account,
    assign,
    pay,
    periodic_service,
    settlement_period,
    tariff,
    tick,
)
from tests.integration.traffic_helpers import (
    MB,
    subaccount,
    time_period,
    traffic_class,
    traffic_group,
    traffic_limit,
)

TZ = ZoneInfo("Europe/Moscow")
YEAR = datetime(2026, 1, 1, tzinfo=TZ)
d = Decimal


def _now(conn) -> datetime:
    """The database's clock: ebs_radius_check asks for the tariff in force at now()."""
    return conn.execute("SELECT now()").fetchone()[0]


def _subscriber(conn, *, paid="100.00", credit="0", since=YEAR):
    """(tariff, account, username): an active account on an active PPPoE tariff with a
    monthly settlement period, since ``since``, with one subaccount."""
    plan = tariff(conn)
    period = settlement_period(conn, anchor=YEAR)
    conn.execute("UPDATE tariffs SET settlement_period_id = %s, allow_self_suspension = true"
                 " WHERE id = %s", (period, plan))
    acc = account(conn, credit=credit)
    assign(conn, acc, plan, since)
    if d(paid):
        pay(conn, acc, paid, since)
    sub = subaccount(conn, acc)
    user = conn.execute("SELECT username FROM subaccounts WHERE id = %s", (sub,)).fetchone()[0]
    return plan, acc, user


def _radius_reason(conn, user: str, at: datetime) -> Reason:
    """The reason a PPP Access-Request of ``user`` gets: the facts rlm_sql copies to the
    control list, read and decided as rlm_ebs does."""
    control: dict[str, list[str]] = {}
    for attribute, value in conn.execute(
            "SELECT attribute, value FROM ebs_radius_check(%s, '192.0.2.1')", (user,)):
        control.setdefault(attribute, []).append(value)
    request = AccessRequest(user_name=user, nas_ip="192.0.2.1",
                            access=request_access(framed_protocol="PPP"),
                            calling_station_id=None, framed_ip=None, chap=False, mschap=False)
    return decide(access_facts(stored_facts(control), request, at, TZ)).reason


def _agree(conn, acc: int, user: str):
    at = _now(conn)
    found = limitation(conn, acc, at, TZ)
    assert _radius_reason(conn, user, at) == (found.reason if found else Reason.OK)
    return found, at


def test_nothing_limits_a_paid_up_subscriber(conn):
    _, acc, user = _subscriber(conn)
    found, _ = _agree(conn, acc, user)
    assert found is None


def test_a_debt_is_paid_by_one_kopeck_more_than_it(conn):
    _, acc, user = _subscriber(conn, paid="0", credit="10.00")
    ledger.post(conn, ledger.Entry(acc, "correction", d("-60.25"), "debt", YEAR))
    found, at = _agree(conn, acc, user)
    assert (found.reason, found.action, found.pay) == (Reason.BALANCE_NEGATIVE, "pay",
                                                      d("50.26"))
    ledger.post(conn, ledger.Entry(acc, "payment", found.pay, "paid", at))
    assert _agree(conn, acc, user)[0] is None


def test_a_zero_balance_asks_for_a_kopeck_unless_the_subaccount_may_sit_at_zero(conn):
    _, acc, user = _subscriber(conn, paid="0")
    found, _ = _agree(conn, acc, user)
    assert (found.reason, found.action, found.pay) == (Reason.BALANCE_ZERO, "pay", d("0.01"))
    conn.execute("UPDATE subaccounts SET allow_at_zero = true WHERE account_id = %s", (acc,))
    assert _agree(conn, acc, user)[0] is None


def test_a_guest_pool_admits_the_debtor_and_still_says_why(conn):
    plan, acc, user = _subscriber(conn, paid="0")
    pool = conn.execute("INSERT INTO ip_pools (name, range_start, range_end)"
                        " VALUES ('guests', '10.99.0.1', '10.99.0.254') RETURNING id"
                        ).fetchone()[0]
    conn.execute("UPDATE tariffs SET guest_pool_id = %s WHERE id = %s", (pool, plan))
    found, _ = _agree(conn, acc, user)
    assert (found.reason, found.pay, found.guest) == (Reason.BALANCE_ZERO, d("0.01"), True)


def test_a_package_block_asks_for_what_the_check_still_lacks(conn):
    this_month = _now(conn).astimezone(TZ).replace(day=1, hour=0, minute=0, second=0,
                                                   microsecond=0)
    last_month = (this_month - timedelta(days=1)).replace(day=1)
    plan, acc, user = _subscriber(conn, paid="1000.00", since=last_month)
    conn.execute("UPDATE tariffs SET package_cost = 1000, require_package_cost = true"
                 " WHERE id = %s", (plan,))
    period = conn.execute("SELECT settlement_period_id FROM tariffs WHERE id = %s",
                          (plan,)).fetchone()[0]
    periodic_service(conn, plan, period, "100.00", "AT_START")
    tick(conn, _now(conn), tz=TZ, times=1)
    # Two fees paid 200.00 of 1000.00; this month's 100.00 counts toward the package:
    # 800.00 + 100.00 of 1000.00.
    found, at = _agree(conn, acc, user)
    assert (found.reason, found.action, found.pay) == (Reason.BLOCKED_BY_BALANCE, "pay",
                                                      d("100.00"))
    ledger.post(conn, ledger.Entry(acc, "payment", d("99.99"), "short", at))
    assert _agree(conn, acc, user)[0].pay == d("0.01")
    ledger.post(conn, ledger.Entry(acc, "payment", d("0.01"), "rest", at))
    assert _agree(conn, acc, user)[0] is None


def test_a_suspension_is_ended_by_resuming_and_ends_by_itself_when_planned(conn):
    _, acc, user = _subscriber(conn)
    at = _now(conn)
    suspend_account(conn, acc, at=at - timedelta(minutes=1), tz=TZ, days=5)
    found, _ = _agree(conn, acc, user)
    assert (found.reason, found.action) == (Reason.ACCOUNT_SUSPENDED, "resume")
    assert found.until == add_local_days(at - timedelta(minutes=1), 5, TZ)
    assert found.until.tzinfo == TZ


def test_a_disabled_account_or_tariff_is_for_support(conn):
    plan, acc, user = _subscriber(conn)
    for status in ("inactive_charged", "inactive_uncharged"):
        set_status(conn, acc, status, at=_now(conn))
        found, _ = _agree(conn, acc, user)
        assert (found.reason, found.action, found.pay) == (Reason.ACCOUNT_DISABLED, "support",
                                                          None)
    set_status(conn, acc, "active", at=_now(conn))
    conn.execute("UPDATE tariffs SET active = false WHERE id = %s", (plan,))
    found, _ = _agree(conn, acc, user)
    assert (found.reason, found.action) == (Reason.TARIFF_INACTIVE, "support")
    # No tariff at all: the same reason.
    stranger = account(conn)
    pay(conn, stranger, "10")
    sub = subaccount(conn, stranger)
    user = conn.execute("SELECT username FROM subaccounts WHERE id = %s", (sub,)).fetchone()[0]
    found, _ = _agree(conn, stranger, user)
    assert (found.reason, found.action) == (Reason.TARIFF_INACTIVE, "support")


def test_outside_the_access_window_it_opens_at_the_next_start(conn):
    plan, acc, user = _subscriber(conn)
    at = _now(conn)
    # An hour a day, starting two to three hours from now.
    opens = (at + timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)
    window = time_period(conn, [(opens - timedelta(days=7), timedelta(hours=1), "DAY")])
    conn.execute("UPDATE tariffs SET access_time_period_id = %s WHERE id = %s", (window, plan))
    found, _ = _agree(conn, acc, user)
    assert (found.reason, found.action) == (Reason.OUTSIDE_ACCESS_WINDOW, "wait_window")
    assert found.opens_at == opens and found.opens_at.tzinfo == TZ
    # Money comes after the window: a debtor outside it is told to wait, not to pay.
    ledger.post(conn, ledger.Entry(acc, "correction", d("-500"), "debt", at))
    assert _agree(conn, acc, user)[0].reason is Reason.OUTSIDE_ACCESS_WINDOW


def test_a_block_limit_lifts_when_its_period_ends(conn):
    plan, acc, user = _subscriber(conn)
    group = traffic_group(conn, [traffic_class(conn)])
    traffic_limit(conn, plan, group, "1")
    at = _now(conn)
    local = at.astimezone(TZ)
    start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (start + timedelta(days=32)).replace(day=1)
    assignment = conn.execute("SELECT id FROM account_tariffs WHERE account_id = %s",
                              (acc,)).fetchone()[0]
    conn.execute("INSERT INTO traffic_usage (account_id, group_id, assignment_id,"
                 " period_start, period_end, used_bytes) VALUES (%s, %s, %s, %s, %s, %s)",
                 (acc, group, assignment, start, end, 2 * MB))
    assert check_limits(conn, at).blocked == 1
    found, _ = _agree(conn, acc, user)
    assert (found.reason, found.action, found.until) == (Reason.BLOCKED_BY_LIMIT,
                                                        "wait_limit", end)
    # A subaccount allowed in when blocked is not limited, and RADIUS agrees.
    conn.execute("UPDATE subaccounts SET allow_when_blocked = true WHERE account_id = %s",
                 (acc,))
    assert _agree(conn, acc, user)[0] is None


def test_an_unknown_account_is_a_lookup_error(conn):
    with pytest.raises(LookupError):
        limitation(conn, 999_999, datetime.now(UTC), TZ)
