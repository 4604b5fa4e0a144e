"""The monthly traffic totals (flow/stats_monthly.py): the rater adds each change to the
ISP's local month beside its hour, a roll-up to days leaves them as they are, and a
rebuild — after an upgrade, a seed or a change of TIME_ZONE — cuts the same months from
the hours and days."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from flow import stats_monthly
from flow.stats_rollup import roll_up
from tests.integration.charging_helpers import account
from tests.integration.traffic_helpers import flow, run, session, traffic_class, traffic_group

MOSCOW = ZoneInfo("Europe/Moscow")
BERLIN = ZoneInfo("Europe/Berlin")
IP = "10.20.0.9"
# Moscow's November starts at 21:00 UTC on 31 October; Berlin's at 23:00.
EDGE = datetime(2026, 10, 31, 21, 0, tzinfo=UTC)


def _months(conn) -> dict[tuple, tuple[int, int, int]]:
    return {(r[0], r[1], r[2]): (r[3], r[4], r[5]) for r in conn.execute(
        "SELECT month, account_id, group_id, bytes_in, bytes_out, bytes_total"
        " FROM traffic_stats_monthly")}


def _by_local_month(conn, zone: ZoneInfo) -> dict[tuple, tuple[int, int, int]]:
    """The hours and days summed by the month they start in, as a reader would."""
    sums: dict[tuple, list[int]] = {}
    rows = conn.execute(
        "SELECT hour, account_id, group_id, bytes_in, bytes_out FROM traffic_stats_hourly"
        " UNION ALL SELECT day::timestamp AT TIME ZONE %s, account_id, group_id, bytes_in,"
        " bytes_out FROM traffic_stats_daily", (zone.key,)).fetchall()
    for at, account_id, group_id, bytes_in, bytes_out in rows:
        key = (at.astimezone(zone).date().replace(day=1), account_id, group_id)
        sums.setdefault(key, [0, 0])
        sums[key][0] += bytes_in
        sums[key][1] += bytes_out
    return {key: (i, o, i + o) for key, (i, o) in sums.items()}


def _rated_across_the_month_edge(conn) -> tuple[int, int]:
    web = traffic_class(conn)
    group = traffic_group(conn, [web])
    alice = account(conn)
    session(conn, alice, IP, EDGE - timedelta(hours=3))
    for minutes, nbytes in ((-90, 1000), (-61, 2000), (-1, 4000), (0, 8000), (59, 16000),
                            (125, 32000)):
        flow(conn, IP, web, "in", nbytes, EDGE + timedelta(minutes=minutes))
    flow(conn, IP, web, "out", 500, EDGE - timedelta(minutes=1))
    run(conn, EDGE + timedelta(hours=3), tz="Europe/Moscow", late_minutes=300)
    return alice, group


def test_the_rater_adds_each_change_to_its_local_month(conn):
    alice, group = _rated_across_the_month_edge(conn)
    assert _months(conn) == {
        (date(2026, 10, 1), alice, group): (7000, 500, 7500),
        (date(2026, 11, 1), alice, group): (56000, 0, 56000),
    }
    assert _months(conn) == _by_local_month(conn, MOSCOW)

    # A late row of a rated bin: the month grows by the change, as the hour does.
    flow(conn, IP, traffic_class_of(conn, group), "in", 100, EDGE - timedelta(minutes=1))
    run(conn, EDGE + timedelta(hours=3, minutes=5), tz="Europe/Moscow", late_minutes=300)
    assert _months(conn)[(date(2026, 10, 1), alice, group)] == (7100, 500, 7600)
    assert _months(conn) == _by_local_month(conn, MOSCOW)


def traffic_class_of(conn, group: int) -> int:
    return conn.execute("SELECT class_id FROM traffic_group_classes WHERE group_id = %s",
                        (group,)).fetchone()[0]


def test_a_rebuild_cuts_the_same_months_and_a_roll_up_keeps_them(conn):
    _rated_across_the_month_edge(conn)
    rated = _months(conn)

    # No zone recorded yet (an upgraded base): the roll-up cuts the months, once.
    first = roll_up(conn, date(2026, 11, 20), MOSCOW, 1)
    assert first.days >= 2 and first.months_rebuilt == len(rated)
    assert conn.execute("SELECT count(*) FROM traffic_stats_hourly").fetchone()[0] == 0
    assert _months(conn) == rated == _by_local_month(conn, MOSCOW)
    assert roll_up(conn, date(2026, 11, 20), MOSCOW, 1).months_rebuilt is None
    assert stats_monthly.built_zone(conn) == "Europe/Moscow"

    # The operator moves to Berlin: the same days are cut into Berlin's months. The
    # days were summed on Moscow's clock, so they keep the month they were cut in.
    assert stats_monthly.ensure(conn, BERLIN) == len(rated)
    assert stats_monthly.built_zone(conn) == "Europe/Berlin"
    assert _months(conn) == _by_local_month(conn, BERLIN)
    assert stats_monthly.ensure(conn, BERLIN) is None


def test_a_rebuild_in_another_zone_moves_the_hours_at_its_edge(conn):
    alice, group = _rated_across_the_month_edge(conn)
    with conn.transaction():
        stats_monthly.rebuild(conn, BERLIN)
    # 21:00-23:00 UTC on 31 October is still October in Berlin.
    assert _months(conn) == {
        (date(2026, 10, 1), alice, group): (7000 + 8000 + 16000, 500, 31500),
        (date(2026, 11, 1), alice, group): (32000, 0, 32000),
    }
    assert _months(conn) == _by_local_month(conn, BERLIN)
