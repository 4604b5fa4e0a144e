"""ebs.prune_coa against a real PostgreSQL: finished CoA/Disconnect records older than
COA_RETENTION_DAYS go, in batches; a claim in flight and the latest record of a session
that is still open stay, however old."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

from worker.coa_retention import prune

NOW = datetime(2026, 11, 29, 3, tzinfo=UTC)
_seq = count(1)


def open_session(conn, uid: str) -> None:
    conn.execute(
        "INSERT INTO sessions_open (acct_unique_id, acct_session_id, nas_ip, started_at,"
        " updated_at) VALUES (%s, %s, '127.0.0.1', %s, %s)",
        (uid, f"s{next(_seq)}", NOW - timedelta(days=400), NOW))


def request(conn, uid: str, days_ago: float, *, state: str = "done",
            result: str = "ACK") -> int:
    """A record finished (or, 'sending', claimed) ``days_ago`` before NOW."""
    at = NOW - timedelta(days=days_ago)
    return conn.execute(
        "INSERT INTO coa_requests (acct_unique_id, desired_state, kind, state, result,"
        " requested_at, finished_at) VALUES (%s, %s, 'coa', %s, %s, %s, %s) RETURNING id",
        (uid, f"speed:{next(_seq)}M/1M", state, result if state == "done" else None,
         at - timedelta(seconds=1), at if state == "done" else None),
    ).fetchone()[0]


def left(conn) -> set[int]:
    return {r[0] for r in conn.execute("SELECT id FROM coa_requests")}


def test_old_finished_records_go_but_the_last_of_an_open_session_stays(conn):
    open_session(conn, "live")
    kept = {
        request(conn, "live", 300),   # the latest of an open session, however old
        request(conn, "recent", 89),  # inside the retention
        request(conn, "claim", 200, state="sending"),  # in flight (or a dead worker's)
    }
    superseded = request(conn, "live", 350)  # an open session's older record
    closed = [request(conn, "gone", 91 + n, result=r)
              for n, r in enumerate(("ACK", "NAK", "timeout", "error"))]

    deleted, batches = prune(conn, NOW - timedelta(days=90), batch=2)

    assert left(conn) == kept
    assert deleted == 1 + len(closed) and superseded not in left(conn)
    # 6 finished records older than the cut-off, 2 a batch; the kept one is scanned once
    assert batches == 3
    assert prune(conn, NOW - timedelta(days=90), batch=2) == (0, 1)  # the kept one again


def test_a_session_that_closed_loses_its_last_record_too(conn):
    open_session(conn, "live")
    last = request(conn, "live", 120)
    assert prune(conn, NOW - timedelta(days=90))[0] == 0
    conn.execute("DELETE FROM sessions_open WHERE acct_unique_id = 'live'")
    assert prune(conn, NOW - timedelta(days=90))[0] == 1
    assert last not in left(conn)


def test_the_task_reads_the_retention_setting(env, conn, monkeypatch):
    from worker.coa_retention import prune_coa

    request(conn, "a", 100)
    recent = request(conn, "b", 20)
    assert prune_coa.run(at=NOW.isoformat()) == {
        "before": (NOW - timedelta(days=90)).isoformat(), "deleted": 1, "batches": 1}
    monkeypatch.setenv("EBS_COA_RETENTION_DAYS", "10")
    assert prune_coa.run(at=NOW.isoformat())["deleted"] == 1
    assert recent not in left(conn)
    assert prune_coa.run(at=NOW.isoformat())["deleted"] == 0
