"""RADIUS against NetFlow: a session whose flows match its accounting is not flagged, one
whose flows are half is, with both figures; sessions of a tariff counted from accounting
are never compared; an exporter whose flows stop while its sessions carry traffic is
silent at once and no longer when flows come back; every run repeated writes nothing
new, and a bin read while pending and again when final counts once."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import count

import psycopg

from flow.reconcile import mismatches, reconcile
from tests.integration.charging_helpers import account, assign, tariff
from tests.integration.traffic_helpers import (
    EXPORTER,
    MB,
    T0,
    flow,
    minute,
    traffic_class,
)

_seq = count(1)


def _nas(conn, ip=EXPORTER) -> int:
    return conn.execute("INSERT INTO nas (name, ip_address, secret) VALUES (%s, %s, %s)"
                        " RETURNING id",
                        (f"nas{next(_seq)}", ip, "a-long-enough-nas-secret")).fetchone()[0]


def _subscriber(conn, accounting_group=None) -> int:
    plan = tariff(conn)
    if accounting_group is not None:
        conn.execute("INSERT INTO tariff_accounting_traffic (tariff_id, group_id)"
                     " VALUES (%s, %s)", (plan, accounting_group))
    alice = account(conn)
    assign(conn, alice, plan, datetime(2026, 1, 1, tzinfo=T0.tzinfo))
    return alice


def _open(conn, account_id, nas_id, ip, started_at, *, received=0, sent=0,
          updated_at=None) -> str:
    """An open session; ``received`` is the NAS's output octets (the subscriber's in)."""
    key = f"rec{next(_seq)}"
    conn.execute(
        "INSERT INTO sessions_open (acct_unique_id, acct_session_id, account_id, nas_id,"
        " nas_ip, framed_ip, started_at, updated_at, input_octets, output_octets)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (key, key, account_id, nas_id, EXPORTER, ip, started_at, updated_at or started_at,
         sent, received))
    return key


def _interim(conn, key, received, sent, at) -> None:
    conn.execute("UPDATE sessions_open SET output_octets = %s, input_octets = %s,"
                 " updated_at = %s WHERE acct_unique_id = %s", (received, sent, at, key))


def _stop(conn, key, at) -> None:
    """Moves the open row to history as a Stop does."""
    conn.execute(
        "WITH gone AS (DELETE FROM sessions_open WHERE acct_unique_id = %s RETURNING *)"
        " INSERT INTO sessions_history (acct_unique_id, acct_session_id, account_id, nas_id,"
        " nas_ip, framed_ip, started_at, stopped_at, input_octets, output_octets)"
        " SELECT acct_unique_id, acct_session_id, account_id, nas_id, nas_ip, framed_ip,"
        " started_at, %s, input_octets, output_octets FROM gone", (key, at))


def _flows(conn, ip, minutes, per_minute_in, per_minute_out=0, class_id=0) -> None:
    for k in minutes:
        flow(conn, ip, class_id, "in", per_minute_in, minute(k))
        if per_minute_out:
            flow(conn, ip, class_id, "out", per_minute_out, minute(k))


def _run(conn, at, times=2, **options):
    """Reconcile at ``at`` ``times`` times: the repeats must change nothing."""
    first = reconcile(conn, at, **options)
    state = _results(conn)
    for _ in range(times - 1):
        reconcile(conn, at, **options)
        assert _results(conn) == state
    return first


def _results(conn) -> list[tuple]:
    return conn.execute(
        "SELECT kind, acct_unique_id, nas_id, period_start, period_end, accounting_bytes,"
        " flow_bytes, difference, state FROM traffic_reconciliation"
        " ORDER BY kind, acct_unique_id, nas_id, period_start").fetchall()


def _session_rows(conn, key) -> list[tuple]:
    return conn.execute(
        "SELECT accounting_bytes, flow_bytes, difference, state, period_end"
        " FROM traffic_reconciliation WHERE kind = 'session' AND acct_unique_id = %s",
        (key,)).fetchall()


def test_matching_session_is_not_flagged_and_half_flows_are(conn):
    nas = _nas(conn)
    alice, bob = _subscriber(conn), _subscriber(conn)
    # Each downloads 1 MB and uploads 0.5 MB a minute for 20 minutes by accounting.
    good = _open(conn, alice, nas, "10.0.0.1", minute(0), received=20 * MB, sent=10 * MB,
                 updated_at=minute(20))
    half = _open(conn, bob, nas, "10.0.0.2", minute(0), received=20 * MB, sent=10 * MB,
                 updated_at=minute(20))
    _flows(conn, "10.0.0.1", range(20), MB, MB // 2)
    _flows(conn, "10.0.0.2", range(20), MB // 2, MB // 4)

    result = _run(conn, minute(40))
    assert result.sessions_checked == 2 and result.sessions_mismatched == 1
    assert _session_rows(conn, good) == []
    assert _session_rows(conn, half) == [(30 * MB, 15 * MB, 15 * MB, "mismatch", None)]
    assert [(r["kind"], r["acct_unique_id"]) for r in mismatches(conn)] == [("session", half)]
    # The exporter's hour holds both, 45 MB of flows against 60 MB of accounting, and is
    # judged only once its bins are final.
    assert _exporter_row(conn, nas, T0) == (60 * MB, 45 * MB, "open")

    # Its Stop: the row gets its end, and stays once the session's bins are all final.
    _stop(conn, half, minute(41))
    _run(conn, minute(45))
    _run(conn, minute(70))
    assert _session_rows(conn, half) == [(30 * MB, 15 * MB, 15 * MB, "mismatch", minute(41))]
    assert _exporter_row(conn, nas, T0)[2] == "open"
    _run(conn, minute(76))
    assert _exporter_row(conn, nas, T0) == (60 * MB, 45 * MB, "mismatch")
    assert conn.execute("SELECT count(*) FROM traffic_reconcile_sessions"
                        " WHERE acct_unique_id = %s", (half,)).fetchone()[0] == 0


def test_tolerance_and_floor(conn):
    nas = _nas(conn)
    near, tiny = _subscriber(conn), _subscriber(conn)
    # 5 % apart: within the default 10 %.
    within = _open(conn, near, nas, "10.0.1.1", minute(0), received=20 * MB,
                   updated_at=minute(20))
    _flows(conn, "10.0.1.1", range(20), MB * 95 // 100)
    # Half, but 100 kB against 50 kB: below the floor.
    small = _open(conn, tiny, nas, "10.0.1.2", minute(0), received=100_000,
                  updated_at=minute(20))
    _flows(conn, "10.0.1.2", range(10), 5_000)
    _run(conn, minute(40))
    assert _session_rows(conn, within) == [] and _session_rows(conn, small) == []
    # A tighter tolerance and floor flag both; the figures follow.
    _run(conn, minute(40), tolerance_percent=1, min_bytes=1000)
    flows = 20 * (MB * 95 // 100)
    assert _session_rows(conn, within) == [(20 * MB, flows, 20 * MB - flows, "mismatch", None)]
    assert _session_rows(conn, small) == [(100_000, 50_000, 50_000, "mismatch", None)]
    # Back at the defaults they read ok again (rows kept, not duplicated).
    _run(conn, minute(41))
    assert _session_rows(conn, small)[0][3] == "ok"
    assert len(_session_rows(conn, within)) == 1


def test_accounting_counted_tariff_is_not_flagged(conn):
    nas = _nas(conn)
    group = conn.execute("INSERT INTO traffic_groups (name, direction, rule)"
                         " VALUES ('radius', 'both', 'sum') RETURNING id").fetchone()[0]
    counted = _subscriber(conn, accounting_group=group)
    key = _open(conn, counted, nas, "10.0.2.1", minute(0), received=50 * MB,
                updated_at=minute(20))
    result = _run(conn, minute(40))
    assert result.sessions_checked == 0
    assert _session_rows(conn, key) == []
    # Its counters are not its NAS's NetFlow traffic either: the NAS is not silent.
    _interim(conn, key, 80 * MB, 0, minute(45))
    assert _run(conn, minute(46)).exporters_silent == 0
    assert mismatches(conn) == []


def test_flows_read_pending_then_final_count_once(conn):
    """Runs every few minutes through a session: each bin is read while pending and again
    once final, yet the final figure is the exact sum; a late row inside the late window
    is counted too."""
    nas = _nas(conn)
    alice = _subscriber(conn)
    key = _open(conn, alice, nas, "10.0.3.1", minute(0))
    for now in range(1, 61):
        _flows(conn, "10.0.3.1", [now - 1], 1000)
        _interim(conn, key, now * 1000, 0, minute(now))
        if now == 30:
            flow(conn, "10.0.3.1", 0, "in", 7000, minute(25))   # a late row
        if now % 4 == 0:
            _run(conn, minute(now), times=1, min_bytes=0, tolerance_percent=0)
    _interim(conn, key, 60 * 1000 + 7000, 0, minute(60))
    _stop(conn, key, minute(60))
    _run(conn, minute(61), min_bytes=0, tolerance_percent=0)
    _run(conn, minute(90), min_bytes=0, tolerance_percent=0)
    tally = conn.execute("SELECT count(*) FROM traffic_reconcile_sessions").fetchone()[0]
    assert tally == 0
    # With no tolerance the late row flagged it while accounting lagged (minute 32);
    # the final figures match to the byte.
    assert _session_rows(conn, key) == [(67_000, 67_000, 0, "ok", minute(60))]


def test_address_changing_hands_splits_by_the_holder_at_the_bins_time(conn):
    nas = _nas(conn)
    first, second = _subscriber(conn), _subscriber(conn)
    one = _open(conn, first, nas, "10.0.4.1", minute(0), received=10 * MB)
    _flows(conn, "10.0.4.1", range(10), MB)
    _stop(conn, one, minute(10))
    two = _open(conn, second, nas, "10.0.4.1", minute(10), received=30 * MB,
                updated_at=minute(20))
    _flows(conn, "10.0.4.1", range(10, 20), MB)
    _run(conn, minute(40))
    assert _session_rows(conn, one) == []
    assert _session_rows(conn, two) == [(30 * MB, 10 * MB, 20 * MB, "mismatch", None)]


def test_passthrough_class_rows_are_not_counted_twice(conn):
    nas = _nas(conn)
    alice = _subscriber(conn)
    passthrough = traffic_class(conn)
    conn.execute("UPDATE traffic_classes SET passthrough = true WHERE id = %s", (passthrough,))
    key = _open(conn, alice, nas, "10.0.5.1", minute(0), received=10 * MB,
                updated_at=minute(10))
    _flows(conn, "10.0.5.1", range(10), MB)
    _flows(conn, "10.0.5.1", range(10), MB, class_id=passthrough)
    assert _run(conn, minute(30)).sessions_checked == 1
    assert _session_rows(conn, key) == []


def _exporter_row(conn, nas, hour):
    return conn.execute(
        "SELECT accounting_bytes, flow_bytes, state FROM traffic_reconciliation"
        " WHERE kind = 'exporter' AND nas_id = %s AND period_start = %s",
        (nas, hour)).fetchone()


def test_silent_exporter_is_flagged_at_once_and_unflagged_when_flows_return(conn):
    nas = _nas(conn)
    alice = _subscriber(conn)
    key = _open(conn, alice, nas, "10.0.6.1", minute(0))
    hour = T0.replace(minute=0)

    def traffic(upto: int) -> None:
        _interim(conn, key, upto * MB, 0, minute(upto))

    _flows(conn, "10.0.6.1", range(0, 10), MB)
    traffic(10)
    result = _run(conn, minute(10))
    assert result.exporters_silent == 0
    assert _exporter_row(conn, nas, hour) == (10 * MB, 10 * MB, "open")

    # Flows stop after minute 9; accounting goes on.
    traffic(15)
    assert _run(conn, minute(15)).exporters_silent == 0     # 5 minutes: not yet
    traffic(21)
    result = _run(conn, minute(21))
    assert result.exporters_silent == 1
    assert _exporter_row(conn, nas, hour) == (21 * MB, 10 * MB, "silent")
    # The session is flagged too (21 MB counted, 10 MB seen).
    assert [(r["kind"], r["state"]) for r in mismatches(conn)] == [
        ("exporter", "silent"), ("session", "mismatch")]

    # Flows come back: no longer silent (the hour still misses what was lost).
    _flows(conn, "10.0.6.1", range(21, 25), MB)
    traffic(25)
    result = _run(conn, minute(25))
    assert result.exporters_silent == 0
    accounting, flows, state = _exporter_row(conn, nas, hour)
    assert (accounting, flows) == (25 * MB, 14 * MB) and state == "open"
    _run(conn, minute(80))
    assert _exporter_row(conn, nas, hour) == (25 * MB, 14 * MB, "mismatch")


def test_exporter_with_matching_flows_per_hour_is_ok_across_hours(conn):
    nas = _nas(conn)
    alice = _subscriber(conn)
    key = _open(conn, alice, nas, "10.0.7.1", minute(0))
    for now in range(5, 125, 5):
        _flows(conn, "10.0.7.1", range(now - 5, now), MB)
        _interim(conn, key, now * MB, 0, minute(now) - timedelta(seconds=1))
        _run(conn, minute(now), times=1)
    _run(conn, minute(150))
    rows = conn.execute(
        "SELECT period_start, accounting_bytes, flow_bytes, state FROM traffic_reconciliation"
        " WHERE kind = 'exporter' ORDER BY period_start").fetchall()
    assert [r[0] for r in rows] == [T0, T0 + timedelta(hours=1)]
    assert [r[1:] for r in rows] == [(60 * MB, 60 * MB, "ok"), (60 * MB, 60 * MB, "ok")]
    assert mismatches(conn) == []


def test_two_runs_at_once_one_gives_way(conn, db):
    nas = _nas(conn)
    alice = _subscriber(conn)
    _open(conn, alice, nas, "10.0.8.1", minute(0), received=10 * MB, updated_at=minute(10))
    with psycopg.connect(db, autocommit=True) as other, other.transaction():
        other.execute("SELECT pg_advisory_xact_lock(hashtext('ebs.reconcile_traffic'))")
        assert reconcile(conn, minute(30), wait=False).skipped
    assert not reconcile(conn, minute(30), wait=False).skipped


def test_session_older_than_the_first_run_is_not_compared(conn):
    """Its first bins were never read: half a tally would flag it falsely."""
    nas = _nas(conn)
    alice = _subscriber(conn)
    key = _open(conn, alice, nas, "10.0.9.1", minute(0) - timedelta(hours=3),
                received=500 * MB, updated_at=minute(20))
    _flows(conn, "10.0.9.1", range(20), MB)
    assert _run(conn, minute(40)).sessions_checked == 0
    assert _session_rows(conn, key) == []


def test_the_beat_task_logs_its_metric_and_the_command_prints_mismatches(
        db, conn, monkeypatch, tmp_path, caplog):
    import json
    import logging

    from click.testing import CliRunner

    from cli.main import cli
    from tests.conftest import ebs_env
    from worker.reconcile_tasks import reconcile_traffic

    nas = _nas(conn)
    alice = _subscriber(conn)
    key = _open(conn, alice, nas, "10.0.10.1", minute(0), received=20 * MB,
                updated_at=minute(20))
    _flows(conn, "10.0.10.1", range(20), MB // 2)
    (tmp_path / "none.py").write_text("")
    env = ebs_env(db, tmp_path / "none.py")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with caplog.at_level(logging.INFO, logger="worker.reconcile_tasks"):
        result = reconcile_traffic.run(at=minute(40).isoformat())
    assert (result["sessions_checked"], result["sessions_mismatched"]) == (1, 1)
    assert "sessions_mismatched=1" in caplog.text and "exporters_mismatched=0" in caplog.text

    out = CliRunner().invoke(cli, ["traffic", "reconcile", "--to", minute(41).isoformat()],
                             env=env)
    assert out.exit_code == 0, out.output
    assert f"mismatch session {key} (account {alice})" in out.output
    assert f"accounting {20 * MB} B, flows {10 * MB} B, difference {10 * MB} B" in out.output
    as_json = CliRunner().invoke(cli, ["traffic", "reconcile", "--to", minute(41).isoformat(),
                                       "--json"], env=env)
    assert as_json.exit_code == 0, as_json.output
    body = json.loads(as_json.output.strip().splitlines()[-1])
    assert [(m["kind"], m["state"]) for m in body["mismatches"]] == [("session", "mismatch")]
    # Once its bins are final the exporter's hour is judged; rows whose period ended
    # before --from (that hour) are left out, the open session stays.
    judged = CliRunner().invoke(cli, ["traffic", "reconcile", "--to", minute(80).isoformat(),
                                      "--json"], env=env)
    assert [m["kind"] for m in json.loads(judged.output.strip().splitlines()[-1])[
        "mismatches"]] == ["exporter", "session"]
    later = CliRunner().invoke(cli, ["traffic", "reconcile", "--from", minute(61).isoformat(),
                                     "--to", minute(80).isoformat(), "--json"], env=env)
    assert [m["kind"] for m in json.loads(later.output.strip().splitlines()[-1])[
        "mismatches"]] == ["session"]
    assert _session_rows(conn, key)[0][3] == "mismatch"
    bad = CliRunner().invoke(cli, ["traffic", "reconcile", "--to", "soon"], env=env)
    assert bad.exit_code == 2 and "not an ISO time" in bad.output
