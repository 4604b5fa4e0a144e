"""Groups per subscriber and hour: the sum of a group's classes in its direction(s) or,
rule max, the largest of them; a bin rated again is rated by the change of its values."""

from __future__ import annotations

from datetime import timedelta

from tests.integration.charging_helpers import account
from tests.integration.traffic_helpers import (
    flow,
    group_bytes,
    minute,
    run,
    session,
    traffic_class,
    traffic_group,
)

IP = "10.20.0.5"


def _subscriber(conn):
    account_id = account(conn)
    session(conn, account_id, IP, minute(-60))
    return account_id


def test_sum_and_max_groups_over_the_same_rows(conn):
    local, world, games = (traffic_class(conn) for _ in range(3))
    everything = traffic_group(conn, [local, world, games], "both", "sum")
    largest = traffic_group(conn, [local, world, games], "both", "max")
    inbound = traffic_group(conn, [local, world], "in", "sum")
    outbound_max = traffic_group(conn, [world, games], "out", "max")
    alice = _subscriber(conn)
    flow(conn, IP, local, "in", 1000, minute(0))
    flow(conn, IP, world, "in", 3000, minute(0))
    flow(conn, IP, games, "in", 2000, minute(0))
    flow(conn, IP, world, "out", 400, minute(0))
    flow(conn, IP, games, "out", 700, minute(0))
    flow(conn, IP, local, "in", 5000, minute(1))
    flow(conn, IP, 0, "in", 123456, minute(1))  # no class: in no group
    run(conn, minute(3))
    assert group_bytes(conn, alice, everything) == (1000 + 3000 + 2000 + 5000, 400 + 700)
    # The largest class per bin and direction.
    assert group_bytes(conn, alice, largest) == (3000 + 5000, 700)
    assert group_bytes(conn, alice, inbound) == (1000 + 3000 + 5000, 0)
    assert group_bytes(conn, alice, outbound_max) == (0, 700)


def test_a_key_written_twice_is_summed(conn):
    web = traffic_class(conn)
    group = traffic_group(conn, [web], "in", "max")
    alice = _subscriber(conn)
    flow(conn, IP, web, "in", 600, minute(0))
    flow(conn, IP, web, "in", 900, minute(0))  # the collector restarted within the bin
    run(conn, minute(2))
    assert group_bytes(conn, alice, group) == (1500, 0)


def test_late_rows_change_a_max_group_by_the_change_of_its_largest_class(conn):
    a, b = traffic_class(conn), traffic_class(conn)
    largest = traffic_group(conn, [a, b], "in", "max")
    total = traffic_group(conn, [a, b], "in", "sum")
    alice = _subscriber(conn)
    flow(conn, IP, a, "in", 100, minute(0))
    flow(conn, IP, b, "in", 50, minute(0))
    run(conn, minute(2))
    assert group_bytes(conn, alice, largest) == (100, 0)
    flow(conn, IP, b, "in", 80, minute(0))  # late: b is now 130, the largest
    run(conn, minute(3))
    assert group_bytes(conn, alice, largest) == (130, 0)
    assert group_bytes(conn, alice, total) == (230, 0)


def test_hours_split_the_statistics(conn):
    web = traffic_class(conn)
    group = traffic_group(conn, [web])
    alice = _subscriber(conn)
    flow(conn, IP, web, "in", 10, minute(-1))
    flow(conn, IP, web, "in", 20, minute(0))
    flow(conn, IP, web, "out", 30, minute(59))
    run(conn, minute(61), late_minutes=120)
    rows = conn.execute("SELECT hour, bytes_in, bytes_out FROM traffic_stats_hourly"
                        " WHERE account_id = %s AND group_id = %s ORDER BY 1",
                        (alice, group)).fetchall()
    assert rows == [(minute(0) - timedelta(hours=1), 10, 0), (minute(0), 20, 30)]
