"""The stale-session sweep (billing.sessions, task ebs.sweep_sessions) and how late
accounting packets meet its result, on a real PostgreSQL without FreeRADIUS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from billing import sessions
from tests.conftest import ebs_env

# Packets without an Event-Timestamp happen "now": the scenario is set at the current hour.
NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
NAS_IP = "192.0.2.50"


def apply(conn, status: str, unique_id: str, *, input_octets: int = 0,
          session_time: int = 0, interval: int | None = None, cause: str = "",
          event: datetime | None = None) -> str:
    return conn.execute(
        "SELECT ebs_acct_apply(%s, %s, %s, 'user', %s, NULL, '', '', '1', %s, 0, 0, 0, %s,"
        " %s, %s, %s)",
        (status, unique_id, "sid-" + unique_id, NAS_IP, input_octets, session_time, event,
         cause, interval),
    ).fetchone()[0]


def open_session(conn, unique_id: str, silent_for: timedelta, interval: int = 300) -> None:
    apply(conn, "Start", unique_id, interval=interval, event=NOW - timedelta(hours=5))
    conn.execute(
        "UPDATE sessions_open SET updated_at = %s WHERE acct_unique_id = %s",
        (NOW - silent_for, unique_id),
    )


def open_ids(conn) -> set[str]:
    return {r[0] for r in conn.execute("SELECT acct_unique_id FROM sessions_open")}


def history(conn, unique_id: str) -> list[tuple]:
    return conn.execute(
        "SELECT stopped_at, terminate_cause, input_octets FROM sessions_history"
        " WHERE acct_unique_id = %s", (unique_id,),
    ).fetchall()


def test_sweep_closes_sessions_silent_for_three_intervals(conn):
    open_session(conn, "stale", timedelta(minutes=16))            # 3 x 5 min missed
    open_session(conn, "fresh", timedelta(minutes=14))            # not yet
    open_session(conn, "slow-nas", timedelta(minutes=40), 1800)   # 3 x 30 min not yet
    open_session(conn, "slow-dead", timedelta(minutes=91), 1800)

    result = sessions.sweep_stale_sessions(conn, NOW)

    assert result.closed == 2
    assert open_ids(conn) == {"fresh", "slow-nas"}
    assert history(conn, "stale") == [(NOW - timedelta(minutes=16), "Stale-Session", 0)]
    assert history(conn, "slow-dead")[0][1] == "Stale-Session"
    # Twice is the same as once.
    assert sessions.sweep_stale_sessions(conn, NOW).closed == 0
    assert open_ids(conn) == {"fresh", "slow-nas"}


def test_sweep_works_in_chunks(conn):
    for n in range(7):
        open_session(conn, f"s{n}", timedelta(hours=1))
    assert sessions.sweep_stale_sessions(conn, NOW, chunk=2).closed == 7
    assert open_ids(conn) == set()


def test_a_stop_after_the_sweep_completes_the_history_row(conn):
    open_session(conn, "late-stop", timedelta(hours=1))
    sessions.sweep_stale_sessions(conn, NOW)
    assert apply(conn, "Stop", "late-stop", input_octets=900, session_time=4000,
                 cause="User-Request") == "stopped:after-sweep"
    assert history(conn, "late-stop") == [(NOW - timedelta(hours=1), "User-Request", 900)]
    # ...and only once: the next copy is a duplicate.
    assert apply(conn, "Stop", "late-stop", cause="User-Request") == "duplicate"


def test_an_interim_after_the_sweep_reopens_the_session(conn):
    open_session(conn, "alive", timedelta(hours=1))
    apply(conn, "Interim-Update", "alive", input_octets=100, session_time=60)
    conn.execute("UPDATE sessions_open SET updated_at = %s", (NOW - timedelta(hours=1),))
    sessions.sweep_stale_sessions(conn, NOW)
    assert open_ids(conn) == set()

    assert apply(conn, "Interim-Update", "alive", input_octets=50, session_time=3600) == "reopened"
    assert history(conn, "alive") == []
    started, octets = conn.execute(
        "SELECT started_at, input_octets FROM sessions_open WHERE acct_unique_id = 'alive'"
    ).fetchone()
    assert started == NOW - timedelta(hours=5)  # the original start survives
    assert octets == 100  # counters never go back


def test_partitions_are_made_ahead(conn):
    later = datetime(2031, 5, 10, tzinfo=UTC)
    assert sessions.ensure_history_partitions(conn, later) == 5  # Apr..Aug 2031
    assert sessions.ensure_history_partitions(conn, later) == 0
    open_session(conn, "future", timedelta(hours=1))
    conn.execute("UPDATE sessions_open SET updated_at = %s", (later - timedelta(hours=1),))
    sessions.sweep_stale_sessions(conn, later)
    part = conn.execute(
        "SELECT tableoid::regclass::text FROM sessions_history WHERE acct_unique_id = 'future'"
    ).fetchone()[0]
    assert part == "sessions_history_203105"


def test_the_celery_task_sweeps_the_configured_database(db, conn, monkeypatch):
    for name, value in ebs_env(db).items():
        monkeypatch.setenv(name, value)
    from worker.session_tasks import sweep_sessions

    open_session(conn, "via-task", timedelta(hours=1))
    result = sweep_sessions(at=NOW.isoformat())
    assert result["closed"] == 1
    assert open_ids(conn) == set()


@pytest.mark.parametrize("status", ["Accounting-On", "Accounting-Off"])
def test_nas_reboot_closes_its_sessions(conn, status):
    open_session(conn, "on-nas", timedelta(minutes=1))
    conn.execute(
        "INSERT INTO sessions_open (acct_unique_id, acct_session_id, nas_ip, started_at,"
        " updated_at) VALUES ('elsewhere', 'x', '192.0.2.99', now(), now())"
    )
    assert apply(conn, status, "", event=NOW) == "nas-reboot:1"
    assert open_ids(conn) == {"elsewhere"}
    assert history(conn, "on-nas") == [(NOW, "NAS-Reboot", 0)]
