"""``ebs seed``: realistic accounts and history, loaded by COPY, balances equal to the ledger."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import psycopg
import pytest
from click.testing import CliRunner

from billing import ledger
from cli import seed_data, seed_traffic
from cli.main import cli
from cli.seed import run_seed
from flow.stats_rollup import roll_up
from tests.conftest import ebs_env


def _invoke(conninfo: str, *args: str):
    return CliRunner().invoke(cli, ["seed", *args], env=ebs_env(conninfo))


def _counts(conn: psycopg.Connection) -> dict[str, int]:
    return dict(zip(
        ("accounts", "subaccounts", "assignments", "entries", "sessions", "in_default"),
        conn.execute(
            """
            SELECT (SELECT count(*) FROM accounts), (SELECT count(*) FROM subaccounts),
                   (SELECT count(*) FROM account_tariffs), (SELECT count(*) FROM ledger_entries),
                   (SELECT count(*) FROM sessions_history),
                   (SELECT count(*) FROM ONLY sessions_history_default)
            """
        ).fetchone(),
        strict=True,
    ))


def test_seed_with_history_then_a_second_run_adds_more(db, conn):
    result = _invoke(db, "--accounts", "1000", "--history", "--seed", "7")
    assert result.exit_code == 0, result.output
    last_line = result.output.strip().splitlines()[-1]
    assert last_line.startswith("seeded 1000 accounts (numbers 1-1000)")
    assert "ledger entries" in last_line and "traffic statistics rows in" in last_line

    n = _counts(conn)
    assert n["accounts"] == n["subaccounts"] == n["assignments"] == 1000
    assert n["entries"] >= 10 * 1000
    assert n["sessions"] >= 10 * 1000
    assert n["in_default"] == 0, "sessions must land in monthly partitions"
    assert f"{n['entries']} ledger entries, {n['sessions']} sessions" in last_line

    assert ledger.verify(conn) == []
    negative, zero, positive, blocked_wrong = conn.execute(
        """
        SELECT count(*) FILTER (WHERE balance < 0), count(*) FILTER (WHERE balance = 0),
               count(*) FILTER (WHERE balance > 0),
               count(*) FILTER (WHERE blocked_by_balance <> (balance < 0))
          FROM accounts
        """
    ).fetchone()
    assert negative >= 30 and positive >= 500, (negative, zero, positive)
    assert blocked_wrong == 0
    # Entries: payments credit, periodic charges debit, keys deterministic per account.
    bad = conn.execute(
        """
        SELECT count(*) FILTER (WHERE kind = 'payment' AND amount <= 0)
             + count(*) FILTER (WHERE kind = 'charge_periodic' AND amount >= 0)
             + count(*) FILTER (WHERE kind NOT IN ('payment', 'charge_periodic'))
             + count(*) FILTER (WHERE idempotency_key NOT LIKE 'seed:' || account_id || ':%')
             + count(*) FILTER (WHERE effective_at > now())
          FROM ledger_entries
        """
    ).fetchone()[0]
    assert bad == 0
    assert conn.execute(
        "SELECT count(DISTINCT amount) FROM ledger_entries WHERE amount <> trunc(amount)"
    ).fetchone()[0] > 0, "some amounts carry kopecks"
    # Reference data and the people.
    assert conn.execute("SELECT count(*) FROM tariffs").fetchone()[0] == 5
    assert conn.execute("SELECT count(*) FROM periodic_services").fetchone()[0] >= 5
    assert conn.execute(
        "SELECT count(*) FROM account_tariffs WHERE assigned_at >= now()").fetchone()[0] == 0
    people = conn.execute(
        "SELECT count(DISTINCT full_name), count(*) FILTER (WHERE phone ~ '^\\+79\\d{9}$'), "
        "count(*) FILTER (WHERE city <> '' AND street <> '' AND house <> '') FROM accounts"
    ).fetchone()
    assert people[0] > 900 and people[1] == 1000 and people[2] == 1000
    subs = conn.execute(
        "SELECT count(*) FILTER (WHERE ip_address IS NOT NULL), "
        "count(*) FILTER (WHERE mac_address IS NOT NULL), "
        "count(*) FILTER (WHERE username = a.login) "
        "FROM subaccounts s JOIN accounts a ON a.id = s.account_id"
    ).fetchone()
    assert subs[0] > 0 and subs[1] > 0 and subs[2] == 1000
    sessions_bad = conn.execute(
        """
        SELECT count(*) FROM sessions_history h
         WHERE stopped_at <= started_at OR stopped_at > now()
            OR session_time <> extract(epoch FROM stopped_at - started_at)
            OR output_octets <= 0 OR input_octets < 0
            OR NOT EXISTS (SELECT 1 FROM subaccounts s
                            WHERE s.id = h.subaccount_id AND s.account_id = h.account_id)
        """
    ).fetchone()[0]
    assert sessions_bad == 0

    # A second run, on the worst day for volume (the 1st of a month, just after midnight):
    # numbering continues, nothing clashes, the averages still hold.
    now = datetime(2026, 3, 1, 0, 30, tzinfo=ZoneInfo("Europe/Moscow")).astimezone(UTC)
    second = run_seed(conn, accounts=300, history=True, months=6, seed=7, now=now,
                      chunk_size=128)
    assert (second.first_number, second.last_number) == (1001, 1300)
    assert second.entries >= 10 * 300 and second.sessions >= 10 * 300
    n2 = _counts(conn)
    assert n2["accounts"] == n2["subaccounts"] == n2["assignments"] == 1300
    assert n2["entries"] == n["entries"] + second.entries
    assert n2["sessions"] == n["sessions"] + second.sessions
    assert n2["in_default"] == 0
    assert ledger.verify(conn) == []
    assert conn.execute(
        "SELECT min(contract), max(contract) FROM accounts WHERE id > (SELECT min(id) + 999 "
        "FROM accounts)"
    ).fetchone() == ("0001001", "0001300")
    assert conn.execute("SELECT count(*) FROM tariffs").fetchone()[0] == 5


def _traffic_totals(conn: psycopg.Connection) -> dict:
    rows = conn.execute(
        """
        SELECT account_id, group_id, sum(bytes_in)::bigint, sum(bytes_out)::bigint
          FROM (SELECT account_id, group_id, bytes_in, bytes_out FROM traffic_stats_hourly
                UNION ALL
                SELECT account_id, group_id, bytes_in, bytes_out FROM traffic_stats_daily) s
         GROUP BY 1, 2
        """
    ).fetchall()
    return {(a, g): (i, o) for a, g, i, o in rows}


def test_seed_traffic_statistics_hourly_then_daily_as_the_rollup_keeps_them(conn):
    zone = ZoneInfo("Europe/Moscow")
    now = datetime(2026, 3, 17, 15, 20, tzinfo=zone)
    result = run_seed(conn, accounts=400, history=True, months=2, seed=11, now=now,
                      chunk_size=150)
    hourly, daily, groups = conn.execute(
        "SELECT (SELECT count(*) FROM traffic_stats_hourly),"
        " (SELECT count(*) FROM traffic_stats_daily),"
        " (SELECT array_agg(name ORDER BY id) FROM traffic_groups)").fetchone()
    assert result.traffic_rows == hourly + daily and hourly > 400 and daily > 400
    assert groups == [name for name, _, _ in seed_traffic.GROUPS]

    # Hourly: whole UTC hours of the last 30 local days (16.02 to 17.03) that have ended;
    # daily: the local days from the window's first (01.01) to the day before.
    first, last, whole = conn.execute(
        "SELECT min(hour), max(hour), bool_and(hour = date_trunc('hour', hour))"
        " FROM traffic_stats_hourly").fetchone()
    assert first >= datetime(2026, 2, 16, tzinfo=zone) and whole
    assert last <= datetime(2026, 3, 17, 14, tzinfo=zone)
    assert conn.execute("SELECT min(day), max(day) FROM traffic_stats_daily").fetchone() == (
        datetime(2026, 1, 1).date(), datetime(2026, 2, 15).date())
    # No row before its account existed.
    assert conn.execute(
        """
        SELECT count(*) FROM accounts a
         WHERE EXISTS (SELECT 1 FROM traffic_stats_hourly h
                        WHERE h.account_id = a.id AND h.hour < a.created_at)
            OR EXISTS (SELECT 1 FROM traffic_stats_daily d
                        WHERE d.account_id = a.id
                          AND d.day::timestamp AT TIME ZONE 'Europe/Moscow' < a.created_at)
        """).fetchone()[0] == 0

    # The shape: a share of the accounts online each day, evenings busiest, in above out,
    # a heavy tail of volume; in 2.5 months, only the rarest users were never online.
    online, evening, night, downloads, idle = conn.execute(
        """
        SELECT (SELECT avg(n) / 400 FROM (
                    SELECT count(DISTINCT account_id) AS n FROM traffic_stats_daily
                     WHERE group_id = (SELECT min(id) FROM traffic_groups) GROUP BY day) d),
               avg((extract(hour FROM hour AT TIME ZONE 'Europe/Moscow') BETWEEN 18 AND 23)::int),
               avg((extract(hour FROM hour AT TIME ZONE 'Europe/Moscow') BETWEEN 3 AND 5)::int),
               avg((bytes_in > bytes_out)::int),
               (SELECT count(*) FROM accounts a
                 WHERE NOT EXISTS (SELECT 1 FROM traffic_stats_daily d
                                    WHERE d.account_id = a.id)
                   AND NOT EXISTS (SELECT 1 FROM traffic_stats_hourly h
                                    WHERE h.account_id = a.id)
                   AND a.created_at < '2026-01-01')
          FROM traffic_stats_hourly
        """).fetchone()
    assert 0.1 < online < 0.3, online
    assert evening > 0.4 and night < 0.06, (evening, night)
    assert downloads > 0.9 and idle < 16, (downloads, idle)
    top, median = conn.execute(
        """
        SELECT max(t), percentile_cont(0.5) WITHIN GROUP (ORDER BY t)
          FROM (SELECT sum(bytes_in) / count(*) AS t FROM traffic_stats_daily
                 GROUP BY account_id) s
        """).fetchone()
    assert top > 20 * median, (top, median)

    # The seed kept 30 days hourly as the roll-up would: rolling up to 30 days moves
    # nothing; rolling up to 10 moves the older hours into their local days, and every
    # account's bytes per group stay what they were.
    totals = _traffic_totals(conn)
    assert roll_up(conn, now.date(), zone, 30).hourly_rows == 0
    moved = roll_up(conn, now.date(), zone, 10)
    assert moved.days == 20 and moved.hourly_rows > 0
    assert _traffic_totals(conn) == totals
    assert conn.execute("SELECT count(*) FROM traffic_stats_hourly").fetchone()[0] == (
        hourly - moved.hourly_rows)


def test_seed_without_history_leaves_balances_at_zero(db, conn):
    result = _invoke(db, "--accounts", "50")
    assert result.exit_code == 0, result.output
    assert "seeded 50 accounts (numbers 1-50), 0 ledger entries, 0 sessions" in result.output
    n = _counts(conn)
    assert (n["accounts"], n["subaccounts"], n["assignments"], n["entries"]) == (50, 50, 50, 0)
    assert conn.execute("SELECT count(*) FROM accounts WHERE balance <> 0").fetchone()[0] == 0


def test_same_seed_gives_the_same_people_and_money():
    plans = [seed_data.Plan(1, "Тест", 1, (seed_data.Service(
        "Абонентская плата", "MONTH", None, False, 50000, "AT_START"),), 0.5, 0.5)]
    network = seed_data.Network(1, "10.255.0.1", 1, 10 << 24 | 64 << 16 | 1,
                                10 << 24 | 127 << 16 | 65534)
    clock = seed_data.Clock(datetime(2026, 5, 17, 12, tzinfo=UTC), 3, "Europe/Moscow")

    shape = seed_traffic.TrafficShape((7, 8), clock.zone, clock.window_start, clock.now)

    def chunk(seed: int, traffic=shape) -> seed_data.Chunk:
        ids = list(range(100, 120))
        return seed_data.Generator(seed, plans, network, clock, traffic).chunk(
            range(1, 21), ids, ids, history=True)

    a, b, c = chunk(5), chunk(5), chunk(6)
    assert (a.accounts, a.ledger, a.sessions) == (b.accounts, b.ledger, b.sessions)
    assert (a.traffic_hourly, a.traffic_daily) == (b.traffic_hourly, b.traffic_daily)
    assert a.traffic_rows > 0 and a.traffic_hourly and a.traffic_daily
    assert a.accounts != c.accounts and a.traffic_daily != c.traffic_daily
    # The statistics draw from their own stream: without them, every other row is the same.
    plain = chunk(5, traffic=None)
    assert (plain.accounts, plain.ledger, plain.sessions) == (a.accounts, a.ledger, a.sessions)
    assert (plain.traffic_hourly, plain.traffic_daily, plain.traffic_rows) == (b"", b"", 0)


@pytest.mark.parametrize("months", [1, 60])
@pytest.mark.parametrize("now", [
    datetime(2026, 3, 1, 0, 0, 1, tzinfo=ZoneInfo("Europe/Moscow")),  # a month just began
    datetime(2028, 2, 29, 23, 59, tzinfo=UTC),
])
def test_history_stays_in_the_past_at_any_window(months, now):
    plans = [
        seed_data.Plan(1, "Месяц", 1, (seed_data.Service(
            "Абонентская плата", "MONTH", None, True, 34990, "AT_END"),), 0.5, 0.5),
        seed_data.Plan(2, "Сутки", 1, (seed_data.Service(
            "Суточная плата", "DAY", None, False, 2500, "GRADUAL"),), 0.0, 0.0),
    ]
    network = seed_data.Network(1, "10.255.0.1", 1, 10 << 24 | 64 << 16 | 1,
                                10 << 24 | 127 << 16 | 65534)
    clock = seed_data.Clock(now, months, "Europe/Moscow")
    shape = seed_traffic.TrafficShape((1, 2), clock.zone, clock.window_start, clock.now)
    ids = list(range(1, 201))
    chunk = seed_data.Generator(3, plans, network, clock, shape).chunk(
        range(1, 201), ids, ids, True)
    limit = now.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S+00")
    entries = [line.split("\t") for line in chunk.ledger.decode().splitlines()]
    assert len(entries) == chunk.entries > 0
    for _, kind, amount, _, effective, _, _ in entries:
        assert effective < limit
        assert len(amount.split(".")[1]) == 2 and (amount[0] == "-") == (kind != "payment")
    sessions = [line.split("\t") for line in chunk.sessions.decode().splitlines()]
    assert len(sessions) == chunk.session_count >= 200
    assert all(s[11] < s[12] < limit for s in sessions)
    # Traffic: whole hours that have ended, on the hourly days; days before them, from the
    # window's first; nothing before the account's tariff began.
    assigned = {int(line.split("\t")[0]): line.split("\t")[2]
                for line in chunk.account_tariffs.decode().splitlines()}
    hourly = [line.split("\t") for line in chunk.traffic_hourly.decode().splitlines()]
    daily = [line.split("\t") for line in chunk.traffic_daily.decode().splitlines()]
    assert len(hourly) + len(daily) == chunk.traffic_rows > 0
    hour_limit = (now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
                  ).strftime("%Y-%m-%d %H:%M:%S+00")
    first_hourly = shape.days[shape.hourly_index].text
    window_day = shape.days[0].text
    for hour, aid, _, bytes_in, bytes_out in hourly:
        assert assigned[int(aid)] <= hour and hour < hour_limit
        assert datetime.fromisoformat(hour).astimezone(clock.zone).date().isoformat() >= \
            first_hourly
        assert int(bytes_in) > 0 and int(bytes_out) >= 0
    for day, aid, _, _, _ in daily:
        assert window_day <= day < first_hourly
        assert assigned[int(aid)] <= datetime.fromisoformat(day).replace(
            tzinfo=clock.zone).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S+00")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--accounts", "0"], "--accounts must be a whole number of at least 1, got '0'"),
        (["--accounts", "abc"], "--accounts must be a whole number of at least 1, got 'abc'"),
        (["--accounts", "-5"], "--accounts must be a whole number of at least 1"),
        (["--accounts", "10", "--months", "0"], "--months must be a whole number from 1 to 60"),
        (["--accounts", "10", "--months", "61"], "--months must be a whole number from 1 to 60"),
    ],
)
def test_bad_arguments_fail_with_one_clear_line(args, message):
    # No database needed: arguments are refused before anything connects.
    result = CliRunner().invoke(cli, ["seed", *args], env={"EBS_DB_PORT": "1"})
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: ") and message in lines[0]
