"""RADIUS-counter traffic: the growth of a session's accounting octets (gigawords
included) rated as usage of the tariff's accounting group, priced, prepaid and posted as
the collector's traffic is, at the interim's time, exactly once; a counter that starts
again is never a negative usage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import psycopg

from billing import ledger
from billing.sessions import sweep_stale_sessions
from flow.session_rater import rate_sessions
from tests.integration.charging_helpers import account, assign, tariff
from tests.integration.session_rating_helpers import (
    GIGAWORD,
    acct,
    at,
    new_session_id,
    run,
    snapshot,
    username,
)
from tests.integration.traffic_helpers import (
    MB,
    balance,
    charges,
    group_bytes,
    prepaid,
    price,
    time_period,
    traffic_class,
    traffic_group,
)


def _setup(conn, direction="both"):
    group = traffic_group(conn, [traffic_class(conn)], direction=direction)
    plan = tariff(conn)
    conn.execute("INSERT INTO tariff_accounting_traffic (tariff_id, group_id) VALUES (%s, %s)",
                 (plan, group))
    alice = account(conn)
    assign(conn, alice, plan, datetime(2026, 1, 1, tzinfo=UTC))
    return group, plan, alice, username(conn, alice)


def test_interims_with_gigawords_rate_exact_bytes_and_charges(conn):
    group, plan, alice, user = _setup(conn)
    price(conn, plan, group, "1")
    sid = new_session_id()
    assert acct(conn, "Start", sid, user, at(0), 0) == "created"
    # 4 GiB + 5 bytes up (one gigaword), 1 MiB down.
    acct(conn, "Interim-Update", sid, user, at(5), 300, in_octets=5, in_giga=1,
         out_octets=MB)
    first = run(conn, at(6))
    assert first.sessions == 1 and first.rated_bytes == GIGAWORD + 5 + MB
    # Downloads are the subscriber's "in": the NAS's output octets.
    assert group_bytes(conn, alice, group) == (MB, GIGAWORD + 5)
    # 4097 MiB and 5 bytes at 1 per MiB.
    assert charges(conn, alice, "charge_traffic") == Decimal("4097.00")

    acct(conn, "Interim-Update", sid, user, at(10), 600, in_octets=5, in_giga=1,
         out_octets=3 * MB)
    run(conn, at(11))
    assert group_bytes(conn, alice, group) == (3 * MB, GIGAWORD + 5)
    assert charges(conn, alice, "charge_traffic") == Decimal("4099.00")
    # The Stop's last growth is rated from the history row, once.
    acct(conn, "Stop", sid, user, at(12), 720, in_octets=5, in_giga=1, out_octets=4 * MB)
    run(conn, at(13))
    assert charges(conn, alice, "charge_traffic") == Decimal("4100.00")
    assert balance(conn, alice) == Decimal("-4100.00")
    usage = conn.execute("SELECT used_bytes, billed_bytes, charged, postings FROM traffic_usage"
                         ).fetchall()
    assert usage == [(GIGAWORD + 5 + 4 * MB, GIGAWORD + 5 + 4 * MB, Decimal("4100.00"), 3)]
    assert ledger.verify(conn) == []
    # Later runs neither rate it again nor forget it while its row is in the window.
    assert run(conn, at(20)).sessions == 0
    assert run(conn, at(60)).sessions == 0
    assert charges(conn, alice, "charge_traffic") == Decimal("4100.00")


def test_the_groups_direction_decides_which_counters_count(conn):
    group, plan, alice, user = _setup(conn, direction="in")
    price(conn, plan, group, "2")
    sid = new_session_id()
    acct(conn, "Interim-Update", sid, user, at(5), 300, in_octets=7 * MB, out_octets=MB // 2)
    run(conn, at(6))
    assert group_bytes(conn, alice, group) == (MB // 2, 0)
    assert charges(conn, alice, "charge_traffic") == Decimal("1.00")


def test_a_counter_that_starts_again_is_rated_from_zero(conn):
    group, plan, alice, user = _setup(conn)
    price(conn, plan, group, "1")
    sid = new_session_id()
    acct(conn, "Interim-Update", sid, user, at(5), 300, out_octets=10 * MB)
    run(conn, at(6))
    assert charges(conn, alice, "charge_traffic") == Decimal("10.00")
    # The NAS rebooted and reuses the id: the open row's counters are below what was rated.
    acct(conn, "Accounting-On", None, None, at(7), 0)
    conn.execute(
        "INSERT INTO sessions_open (acct_unique_id, acct_session_id, account_id, nas_ip,"
        " username, started_at, updated_at, output_octets, session_time)"
        " VALUES (%s, %s, %s, '127.0.0.1', %s, %s, %s, %s, 60)",
        (sid, sid, alice, user, at(8), at(9), 3 * MB))
    run(conn, at(10))
    assert charges(conn, alice, "charge_traffic") == Decimal("13.00")
    assert group_bytes(conn, alice, group) == (13 * MB, 0)
    assert conn.execute("SELECT min(amount) < 0 AND max(amount) < 0 FROM ledger_entries"
                        ).fetchone()[0]


def test_prepaid_first_and_price_by_the_interims_time(conn):
    group, plan, alice, user = _setup(conn)
    night = time_period(conn, [(datetime(2026, 1, 1, 22, 0, tzinfo=UTC), timedelta(hours=8),
                                "DAY")])
    price(conn, plan, group, "3")
    price(conn, plan, group, "1", night)
    prepaid(conn, plan, group, "2")
    sid = new_session_id()
    start = datetime(2026, 3, 10, 21, 50, tzinfo=UTC)
    acct(conn, "Start", sid, user, start, 0)
    # Interim at 21:55: 5 MiB, 2 of them prepaid, 3 at the day price.
    acct(conn, "Interim-Update", sid, user, start + timedelta(minutes=5), 300,
         out_octets=5 * MB)
    run(conn, start + timedelta(minutes=6))
    assert charges(conn, alice, "charge_traffic") == Decimal("9.00")
    # Interim at 22:05: 4 more MiB, at the night price of the interim's moment.
    acct(conn, "Interim-Update", sid, user, start + timedelta(minutes=15), 900,
         out_octets=9 * MB)
    run(conn, start + timedelta(minutes=16))
    assert charges(conn, alice, "charge_traffic") == Decimal("13.00")
    assert conn.execute("SELECT prepaid_bytes, used_bytes, billed_bytes FROM traffic_usage"
                        ).fetchone() == (2 * MB, 9 * MB, 7 * MB)


def test_a_tariff_without_accounting_traffic_is_not_rated(conn):
    group = traffic_group(conn, [traffic_class(conn)])
    plan = tariff(conn)
    price(conn, plan, group, "1")
    bob = account(conn)
    assign(conn, bob, plan, datetime(2026, 1, 1, tzinfo=UTC))
    acct(conn, "Interim-Update", new_session_id(), username(conn, bob), at(5), 300,
         out_octets=MB)
    result = run(conn, at(6))
    assert result.sessions == 0 and charges(conn, bob, "charge_traffic") == 0


def test_a_stop_that_comes_long_after_the_window_is_still_rated(conn):
    group, plan, alice, user = _setup(conn)
    price(conn, plan, group, "1")
    sid = new_session_id()
    acct(conn, "Interim-Update", sid, user, at(5), 300, out_octets=MB)
    run(conn, at(6))
    for minutes in (30, 60, 90):
        run(conn, at(minutes))
    # The Stop of 10:08 arrives at 11:30 (a spooled packet): the session was seen open,
    # so its history row is read although it stopped long before the window.
    acct(conn, "Stop", sid, user, at(8), 480, out_octets=2 * MB)
    assert run(conn, at(91)).sessions == 1
    assert charges(conn, alice, "charge_traffic") == Decimal("2.00")
    assert run(conn, at(120)).sessions == 0
    assert conn.execute("SELECT count(*) FROM session_rating_marks").fetchone()[0] == 0


def test_a_run_gives_way_while_another_holds_the_rater(conn, db):
    group, plan, alice, user = _setup(conn)
    price(conn, plan, group, "1")
    acct(conn, "Interim-Update", new_session_id(), user, at(5), 300, out_octets=MB)
    with psycopg.connect(db) as other:
        other.execute("SELECT pg_advisory_xact_lock(hashtext('ebs.rate_traffic')::bigint)")
        before = snapshot(conn)
        assert rate_sessions(conn, at(6), ZoneInfo("UTC"), wait=False).skipped
        assert snapshot(conn) == before
        other.rollback()
    run(conn, at(6))
    assert charges(conn, alice, "charge_traffic") == Decimal("1.00")


def test_a_stop_after_the_sweep_closed_the_session_is_rated(conn):
    group, plan, alice, user = _setup(conn)
    price(conn, plan, group, "1")
    sid = new_session_id()
    acct(conn, "Start", sid, user, at(0), 0)
    acct(conn, "Interim-Update", sid, user, at(5), 300, out_octets=MB)
    run(conn, at(6))
    # Silent for longer than its hold: the sweep closes it with what was heard.
    conn.execute("UPDATE sessions_open SET updated_at = %s", (at(5),))
    assert sweep_stale_sessions(conn, at(30)).closed == 1
    run(conn, at(31))
    for minutes in (60, 120):
        run(conn, at(minutes))
    assert charges(conn, alice, "charge_traffic") == Decimal("1.00")
    # The real Stop comes hours later with the final counters.
    assert acct(conn, "Stop", sid, user, at(9), 540, out_octets=3 * MB) == (
        "stopped:after-sweep")
    assert run(conn, at(180)).sessions == 1
    assert charges(conn, alice, "charge_traffic") == Decimal("3.00")
    assert run(conn, at(240)).sessions == 0
