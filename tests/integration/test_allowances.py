"""Allowances against a real PostgreSQL, from what the raters wrote: prepaid traffic and
minutes left in the period in force (the tariff's whole allowance before any usage),
and the traffic limits in force with the moment each lifts, which the limit check then
keeps to the minute."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from billing.allowances import ActiveLimit, PrepaidMinutes, PrepaidTraffic, allowances
from flow.limits import check_limits
from tests.integration import session_rating_helpers as sessions
from tests.integration.traffic_helpers import (
    MB,
    flow,
    holder,
    minute,
    prepaid,
    run,
    traffic_group,
    traffic_limit,
)

IP = "10.40.0.7"
APRIL = datetime(2026, 4, 1, tzinfo=UTC)
d = Decimal


def test_prepaid_left_and_limits_until_they_lift(conn):
    web, group, plan, acc = holder(conn, IP)
    conn.execute("UPDATE traffic_groups SET name = 'internet' WHERE id = %s", (group,))
    video = traffic_group(conn, [], name="video")
    prepaid(conn, plan, group, "100")
    prepaid(conn, plan, video, "50")
    conn.execute("INSERT INTO tariff_time_service (tariff_id, prepaid_minutes)"
                 " VALUES (%s, 60)", (plan,))
    # Nothing used yet: the tariff's whole allowances.
    before = allowances(conn, acc, minute(0))
    assert before.traffic == (PrepaidTraffic(group, "internet", 100 * MB, 100 * MB, False),
                              PrepaidTraffic(video, "video", 50 * MB, 50 * MB, False))
    assert before.minutes == PrepaidMinutes(d(60), d(60), False)
    assert before.limits == ()

    speed = traffic_limit(conn, plan, group, "20", action="speed", mode="percent",
                          percent="50")
    block = traffic_limit(conn, plan, group, "8", window=3600)
    flow(conn, IP, web, "in", 30 * MB, minute(0))
    flow(conn, IP, web, "out", 10 * MB, minute(2))
    run(conn, minute(3), times=1)
    user = sessions.username(conn, acc)
    sid = sessions.new_session_id()
    sessions.acct(conn, "Start", sid, user, minute(0), 0)
    sessions.acct(conn, "Interim-Update", sid, user, minute(15), 900)
    sessions.run(conn, minute(16), times=1)
    check_limits(conn, minute(16))

    now = allowances(conn, acc, minute(16))
    assert now.traffic == (PrepaidTraffic(group, "internet", 100 * MB, 60 * MB, True),
                           PrepaidTraffic(video, "video", 50 * MB, 50 * MB, False))
    assert now.minutes == PrepaidMinutes(d(60), d(45), True)
    # The speed limit lasts the settlement period; the window's block lifts once the
    # 10 MB of minute 2 leave the hour (the 30 MB of minute 0 leaving is not enough).
    assert now.limits == (
        ActiveLimit(speed, "internet", d("20.000"), "speed", "percent:50.00", minute(16),
                    APRIL),
        ActiveLimit(block, "internet", d("8.000"), "block", None, minute(16), minute(62)),
    )
    check_limits(conn, minute(61))
    assert [limit.limit_id for limit in allowances(conn, acc, minute(61)).limits] == [speed,
                                                                                      block]
    check_limits(conn, minute(62))
    assert [limit.limit_id for limit in allowances(conn, acc, minute(62)).limits] == [speed]
