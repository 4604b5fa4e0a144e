"""Attribution at the bin's time: rows go to whoever held the address then (sessions open
and in history, static addresses), and rows of nobody's address are counted, not guessed."""

from __future__ import annotations

from tests.integration.charging_helpers import account
from tests.integration.traffic_helpers import (
    flow,
    group_bytes,
    minute,
    run,
    session,
    subaccount,
    traffic_class,
    traffic_group,
)

IP = "10.20.0.5"


def test_an_address_that_changed_hands_is_counted_for_each_holder_in_turn(conn):
    web = traffic_class(conn)
    group = traffic_group(conn, [web])
    alice, bob = account(conn), account(conn)
    # Alice held the address until 10:03:30, Bob from then on (his session is open).
    session(conn, alice, IP, minute(-30), minute(3) + (minute(1) - minute(0)) / 2)
    session(conn, bob, IP, minute(3) + (minute(1) - minute(0)) / 2)
    for k in range(6):
        flow(conn, IP, web, "in", 1000 * (k + 1), minute(k))
    run(conn, minute(10))
    # Bins 10:00-10:02 are Alice's; the bin of the hand-over (10:03) goes to the session
    # that started in it, and so do the later ones.
    assert group_bytes(conn, alice, group) == (1000 + 2000 + 3000, 0)
    assert group_bytes(conn, bob, group) == (4000 + 5000 + 6000, 0)


def test_todays_holder_never_takes_yesterdays_bytes(conn):
    web = traffic_class(conn)
    group = traffic_group(conn, [web])
    old, new = account(conn), account(conn)
    session(conn, old, IP, minute(-120), minute(-60))
    session(conn, new, IP, minute(-10))
    flow(conn, IP, web, "out", 777, minute(-90))
    run(conn, minute(0), late_minutes=180)
    assert group_bytes(conn, old, group) == (0, 777)
    assert group_bytes(conn, new, group) == (0, 0)


def test_a_static_address_is_its_subaccounts_and_a_session_comes_first(conn):
    web = traffic_class(conn)
    group = traffic_group(conn, [web])
    static_owner, roaming = account(conn), account(conn)
    subaccount(conn, static_owner, "10.30.0.9")
    subaccount(conn, roaming, None)
    flow(conn, "10.30.0.9", web, "in", 500, minute(0))
    session(conn, roaming, "10.30.0.9", minute(2), minute(3))
    flow(conn, "10.30.0.9", web, "in", 40, minute(2))
    run(conn, minute(5))
    assert group_bytes(conn, static_owner, group) == (500, 0)
    assert group_bytes(conn, roaming, group) == (40, 0)


def test_rows_of_nobodys_address_and_without_direction_are_counted_per_bin(conn):
    web = traffic_class(conn)
    group = traffic_group(conn, [web])
    someone = account(conn)
    session(conn, someone, IP, minute(-5))
    flow(conn, IP, web, "in", 100, minute(0))
    flow(conn, "10.99.0.1", web, "in", 300, minute(0))
    flow(conn, "10.99.0.1", web, "out", 200, minute(0))
    flow(conn, "10.99.0.2", web, "in", 50, minute(1))
    flow(conn, IP, web, "sideways", 70, minute(1))
    # The session ended before this bin: nobody's.
    session(conn, someone, "10.99.0.3", minute(-20), minute(-10))
    flow(conn, "10.99.0.3", web, "in", 9, minute(1))
    run(conn, minute(3))
    rejects = conn.execute("SELECT bin, reason, row_count, bytes FROM traffic_rejects"
                           " ORDER BY 1, 2").fetchall()
    assert rejects == [(minute(0), "no_holder", 2, 500),
                       (minute(1), "no_direction", 1, 70),
                       (minute(1), "no_holder", 2, 59)]
    assert group_bytes(conn, someone, group) == (100, 0)
    assert conn.execute("SELECT count(*) FROM traffic_stats_hourly").fetchone()[0] == 1


def test_a_late_row_of_nobody_updates_the_bins_count(conn):
    web = traffic_class(conn)
    traffic_group(conn, [web])
    flow(conn, "10.99.0.1", web, "in", 300, minute(0))
    run(conn, minute(2))
    flow(conn, "10.99.0.1", web, "in", 11, minute(0))
    run(conn, minute(3))
    assert conn.execute("SELECT row_count, bytes FROM traffic_rejects").fetchall() == [(2, 311)]
