"""The hourly statistics rolled up to local days (flow/stats_rollup.py): every byte moves,
none doubles, a second run changes nothing, the hours kept are the retention's, a day is
the ISP's calendar day, and a rater's upsert beside a roll-up is never lost."""

from __future__ import annotations

import json
import threading
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest
from click.testing import CliRunner

from cli.main import cli
from flow import locks
from flow.stats_rollup import roll_up
from tests.conftest import ebs_env
from tests.integration.charging_helpers import account
from tests.integration.traffic_helpers import traffic_class, traffic_group

MOSCOW = ZoneInfo("Europe/Moscow")
BERLIN = ZoneInfo("Europe/Berlin")
TODAY = date(2026, 11, 20)


def _stats(conn, hour: datetime, account_id: int, group_id: int, bytes_in: int,
           bytes_out: int = 0) -> None:
    """As flow/groups.py adds a rating run's change to an hour."""
    conn.execute(
        "INSERT INTO traffic_stats_hourly AS s (hour, account_id, group_id, bytes_in,"
        " bytes_out) VALUES (%s, %s, %s, %s, %s) ON CONFLICT (hour, account_id, group_id)"
        " DO UPDATE SET bytes_in = s.bytes_in + EXCLUDED.bytes_in,"
        " bytes_out = s.bytes_out + EXCLUDED.bytes_out",
        (hour.astimezone(UTC), account_id, group_id, bytes_in, bytes_out))


def _hourly(conn) -> list[tuple]:
    return conn.execute("SELECT hour, account_id, group_id, bytes_in, bytes_out"
                        " FROM traffic_stats_hourly ORDER BY 1, 2, 3").fetchall()


def _daily(conn) -> dict[tuple, tuple]:
    return {(r[0], r[1], r[2]): (r[3], r[4]) for r in conn.execute(
        "SELECT day, account_id, group_id, bytes_in, bytes_out FROM traffic_stats_daily")}


def _totals(conn) -> tuple[int, int]:
    return conn.execute(
        "SELECT sum(i)::bigint, sum(o)::bigint FROM ("
        " SELECT bytes_in, bytes_out FROM traffic_stats_hourly UNION ALL"
        " SELECT bytes_in, bytes_out FROM traffic_stats_daily) t(i, o)").fetchone()


def _group(conn) -> int:
    return traffic_group(conn, [traffic_class(conn)])


def test_older_hours_become_their_local_days_exactly_and_twice_is_once(conn):
    alice, bob = account(conn), account(conn)
    internet, city = _group(conn), _group(conn)
    expected: dict[tuple, list[int]] = {}
    start = datetime(2026, 11, 10, tzinfo=MOSCOW)
    for n in range(24 * 11):  # every hour of 10 to 20 November, Moscow time
        hour = start + timedelta(hours=n)
        for account_id, group_id, scale in ((alice, internet, 1), (alice, city, 7),
                                            (bob, internet, 1000)):
            _stats(conn, hour, account_id, group_id, scale * (n + 1), scale * 2 * n)
            key = (hour.astimezone(MOSCOW).date(), account_id, group_id)
            expected.setdefault(key, [0, 0])
            expected[key][0] += scale * (n + 1)
            expected[key][1] += scale * 2 * n
    before = _totals(conn)
    kept_before = [r for r in _hourly(conn) if r[0] >= datetime(2026, 11, 17, tzinfo=MOSCOW)]

    result = roll_up(conn, TODAY, MOSCOW, 4)  # 17, 18, 19 and 20 November stay hourly

    assert (result.days, result.hourly_rows, result.daily_rows) == (7, 7 * 24 * 3, 7 * 3)
    assert result.hourly_from == date(2026, 11, 17)
    assert _totals(conn) == before
    assert _daily(conn) == {key: tuple(v) for key, v in expected.items()
                            if key[0] < date(2026, 11, 17)}
    assert _hourly(conn) == kept_before
    assert min(r[0] for r in _hourly(conn)) == datetime(2026, 11, 17, tzinfo=MOSCOW)

    daily, hourly = _daily(conn), _hourly(conn)
    again = roll_up(conn, TODAY, MOSCOW, 4)
    assert (again.days, again.hourly_rows, again.daily_rows) == (0, 0, 0)
    assert _daily(conn) == daily and _hourly(conn) == hourly


def test_the_retention_boundary_is_the_first_kept_local_midnight(conn):
    alice, group = account(conn), _group(conn)
    first_kept = datetime(2026, 11, 18, tzinfo=MOSCOW)  # 3 days counting the 20th
    _stats(conn, first_kept - timedelta(hours=1), alice, group, 5)  # 17th, 23:00
    _stats(conn, first_kept, alice, group, 11)  # 18th, 00:00: kept
    roll_up(conn, TODAY, MOSCOW, 3)
    assert _daily(conn) == {(date(2026, 11, 17), alice, group): (5, 0)}
    assert [r[0] for r in _hourly(conn)] == [first_kept]
    # A day later the 18th turns: its hour joins its own day, not the 17th.
    roll_up(conn, TODAY + timedelta(days=1), MOSCOW, 3)
    assert _daily(conn) == {(date(2026, 11, 17), alice, group): (5, 0),
                            (date(2026, 11, 18), alice, group): (11, 0)}
    assert _hourly(conn) == []
    with pytest.raises(ValueError, match="at least 1"):
        roll_up(conn, TODAY, MOSCOW, 0)


def test_a_day_is_the_isps_calendar_day_in_its_zone(conn):
    """Moscow's day starts at 21:00 UTC the day before; Berlin's last Sunday of October has
    25 hours, all of them one day."""
    alice, group = account(conn), _group(conn)
    _stats(conn, datetime(2026, 11, 1, 20, 0, tzinfo=UTC), alice, group, 1)  # 1st 23:00
    _stats(conn, datetime(2026, 11, 1, 21, 0, tzinfo=UTC), alice, group, 10)  # 2nd 00:00
    _stats(conn, datetime(2026, 11, 2, 20, 0, tzinfo=UTC), alice, group, 100)  # 2nd 23:00
    roll_up(conn, TODAY, MOSCOW, 3)
    assert _daily(conn) == {(date(2026, 11, 1), alice, group): (1, 0),
                            (date(2026, 11, 2), alice, group): (110, 0)}

    bob = account(conn)
    october_25 = datetime(2026, 10, 25, tzinfo=BERLIN)
    hours = [october_25.astimezone(UTC) + timedelta(hours=n) for n in range(26)]
    assert hours[25].astimezone(BERLIN).date() == date(2026, 10, 26)  # the 26th begins
    for hour in hours:
        _stats(conn, hour, bob, group, 1, 2)
    roll_up(conn, TODAY, BERLIN, 3)
    assert _daily(conn)[(date(2026, 10, 25), bob, group)] == (25, 50)
    assert _daily(conn)[(date(2026, 10, 26), bob, group)] == (1, 2)


def test_an_hour_written_after_its_day_rolled_up_is_added_to_the_day_next_time(conn):
    alice, group = account(conn), _group(conn)
    hour = datetime(2026, 11, 5, 12, 0, tzinfo=MOSCOW)
    _stats(conn, hour, alice, group, 100)
    roll_up(conn, TODAY, MOSCOW, 3)
    _stats(conn, hour, alice, group, 7)  # late accounting of that hour
    assert _totals(conn) == (107, 0)  # readers add the day and the hour meanwhile
    result = roll_up(conn, TODAY, MOSCOW, 3)
    assert (result.hourly_rows, result.daily_rows) == (1, 1)
    assert _daily(conn) == {(date(2026, 11, 5), alice, group): (107, 0)}
    assert _hourly(conn) == []


def test_an_upsert_waiting_beside_a_roll_up_is_neither_lost_nor_doubled(conn, db):
    """The rater holds a row of an old hour (its chunk not committed) while a roll-up
    moves that hour: the roll-up waits and moves what the rater committed."""
    alice, group = account(conn), _group(conn)
    hour = datetime(2026, 11, 5, 12, 0, tzinfo=MOSCOW)
    _stats(conn, hour, alice, group, 100)
    with psycopg.connect(db, autocommit=True) as rater, psycopg.connect(
            db, autocommit=True) as roller:
        with rater.transaction():
            _stats(rater, hour, alice, group, 5)
            done = {}
            worker = threading.Thread(target=lambda: done.update(
                result=roll_up(roller, TODAY, MOSCOW, 3)))
            worker.start()
            worker.join(1.0)
            assert worker.is_alive()  # waiting for the rater's row
        worker.join(10.0)
        assert done["result"].hourly_rows == 1
    assert _daily(conn) == {(date(2026, 11, 5), alice, group): (105, 0)}
    assert _hourly(conn) == []


def test_a_run_gives_way_to_a_run_in_progress(conn, db):
    alice, group = account(conn), _group(conn)
    _stats(conn, datetime(2026, 11, 5, 12, 0, tzinfo=MOSCOW), alice, group, 100)
    with psycopg.connect(db, autocommit=True) as other, other.transaction():
        locks.hold(other, locks.STATS_ROLLUP)
        assert roll_up(conn, TODAY, MOSCOW, 3, wait=False).skipped
        assert _daily(conn) == {}
    assert roll_up(conn, TODAY, MOSCOW, 3, wait=False).hourly_rows == 1


def test_the_command_line_and_the_task_roll_up_by_the_settings(db, conn, tmp_path,
                                                               monkeypatch):
    alice, group = account(conn), _group(conn)
    settings = tmp_path / "settings.py"
    settings.write_text("TIME_ZONE = 'Europe/Moscow'\n")
    env = ebs_env(db, settings)
    helped = CliRunner().invoke(cli, ["traffic", "rollup", "--help"], env=env)
    assert helped.exit_code == 0 and "TRAFFIC_STATS_HOURLY_KEEP_DAYS" in helped.output

    _stats(conn, datetime(2026, 11, 5, 12, 0, tzinfo=MOSCOW), alice, group, 100)
    _stats(conn, datetime(2026, 11, 19, 12, 0, tzinfo=MOSCOW), alice, group, 9)
    done = CliRunner().invoke(cli, ["traffic", "rollup", "--today", "2026-11-20", "--json"],
                              env=env)
    assert done.exit_code == 0, done.output
    # 62 days by default: nothing of November is old enough.
    assert json.loads(done.output)["days"] == 0
    assert json.loads(done.output)["months_rebuilt"] == 1  # November, cut the first time
    done = CliRunner().invoke(cli, ["traffic", "rollup", "--today", "2026-11-20",
                                    "--keep-days", "3", "--json"], env=env)
    assert done.exit_code == 0, done.output
    assert json.loads(done.output) == {"days": 1, "hourly_rows": 1, "daily_rows": 1,
                                       "hourly_from": "2026-11-18", "skipped": False,
                                       "months_rebuilt": None}

    from worker.flow_tasks import traffic_stats_rollup

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("EBS_TRAFFIC_STATS_HOURLY_KEEP_DAYS", "1")
    result = traffic_stats_rollup.run()
    assert result["hourly_rows"] == 1 and not result["skipped"]
    assert _daily(conn) == {(date(2026, 11, 5), alice, group): (100, 0),
                            (date(2026, 11, 19), alice, group): (9, 0)}
