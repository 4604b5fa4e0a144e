"""No accounting is lost: PostgreSQL goes away, the NAS keeps getting Accounting-Responses,
and when the database is back the spool drain applies every packet exactly once.

A private FreeRADIUS talks to a private PostgreSQL of this test (not the shared one: we
stop it). While it is down rlm_sql fails, the packet lands in the spool detail file and
FreeRADIUS answers anyway; `ebs acct drain` then applies the spool in batches.

The outage lasts EBS_TEST_OUTAGE_SECONDS (60 by default; 300, the five minutes of a
real maintenance window, by hand): the Starts go out as it begins, the two rounds of
interims at its thirds, the Stops at its end, each answered while the database is away.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import dict_row

from billing import schema
from stack.servers.base import free_port
from stack.servers.freeradius import FreeRadiusServer
from stack.servers.postgres import PostgresServer
from tests.conftest import ROOT, ebs_env
from tests.harness import radius_db_fields, start_with_retry

SECRET = "outage-secret-1"
DB = "outage"
SESSIONS = 60  # half of them stop during the outage, half stay open
GIB4 = 2**32
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
OUTAGE_SECONDS = float(os.environ.get("EBS_TEST_OUTAGE_SECONDS", "60"))


@pytest.fixture(scope="module")
def pg(tmp_path_factory):
    base = tmp_path_factory.mktemp("outage-pg")
    server = start_with_retry(lambda: PostgresServer(
        datadir=base / "pgdata", port=free_port(), socket_dir=base / "sock", durable=False))
    server.create_database(DB)
    with psycopg.connect(server.conninfo(DB), autocommit=True) as conn:
        schema.upgrade(conn)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def radius(pg, tmp_path_factory):
    base = tmp_path_factory.mktemp("outage-radius")
    server = start_with_retry(lambda: FreeRadiusServer(
        directory=base / "conf",
        auth_port=free_port(udp=True, tcp=False),
        acct_port=free_port(udp=True, tcp=False),
        clients=[("local", "127.0.0.1", SECRET)],
        reject_delay=0,
        **radius_db_fields(pg.conninfo(DB)),
    ))
    yield server
    server.stop()


def send_all(server: FreeRadiusServer, packets: list[list[tuple[str, object]]]) -> int:
    """Send packets with radclient, 16 in parallel; the number of Accounting-Responses."""
    text = "\n\n".join("\n".join(f"{k} = {v}" for k, v in p) for p in packets) + "\n"
    result = subprocess.run(
        ["radclient", "-x", "-p", "16", "-r", "3", "-t", "3", "-d", str(server.directory),
         f"127.0.0.1:{server.acct_port}", "acct", SECRET],
        input=text, capture_output=True, text=True, timeout=120, check=False)
    return result.stdout.count("Received Accounting-Response")


def packet(status: str, n: int, **attrs: object) -> list[tuple[str, object]]:
    pairs = [("Acct-Status-Type", status), ("Acct-Session-Id", f"out-{n}"),
             ("User-Name", f'"user{n}"'), ("NAS-IP-Address", "127.0.0.1"), ("NAS-Port", n)]
    return pairs + [(k.replace("_", "-"), v) for k, v in attrs.items()]


def counters(n: int, step: int) -> dict[str, int]:
    """Step 1 and 2 are interims, 3 the stop; session 0 mod 5 passes 4 GiB (Gigawords)."""
    gw = step if n % 5 == 0 else 0
    return {"Acct_Input_Octets": 1000 * n + step, "Acct_Input_Gigawords": gw,
            "Acct_Output_Octets": 7000 * n + step, "Acct_Output_Gigawords": 0,
            "Acct_Session_Time": 300 * step,
            "Event_Timestamp": int((T0 + timedelta(seconds=300 * step)).timestamp())}


def expected(n: int, step: int) -> tuple[int, int, int]:
    c = counters(n, step)
    return (c["Acct_Input_Gigawords"] * GIB4 + c["Acct_Input_Octets"],
            c["Acct_Output_Octets"], c["Acct_Session_Time"])


def spoil(spool: Path) -> None:
    """Put a malformed entry in the middle of a spool file and a cut-off one at its end,
    under the lock FreeRADIUS's writer honours."""
    path = sorted(spool.glob("detail-*"))[0]
    with open(path, "r+b") as fh:
        fcntl.lockf(fh.fileno(), fcntl.LOCK_EX)
        entries = fh.read().split(b"\n\n")
        middle = len(entries) // 2
        entries.insert(middle, b"Sat Nov 28 10:00:00 2026\n\tAcct-Status-Type = Start\n"
                               b"\tAcct-Input-Octets = lots\n\tUser-Name = \"x\"")
        body = b"\n\n".join(entries).rstrip(b"\n") + b"\n\n"
        body += b"Sat Nov 28 10:00:01 2026\n\tAcct-Status-Type = Interim-Update\n\tUser-Na"
        fh.seek(0)
        fh.truncate()
        fh.write(body)


def drain_cli(pg: PostgresServer, spool: Path) -> subprocess.CompletedProcess:
    env = {**ebs_env(pg.conninfo(DB)), "PATH": "/usr/bin:/bin", "HOME": str(spool.parent)}
    return subprocess.run(
        [sys.executable, "-m", "cli.main", "acct", "drain", "--spool", str(spool),
         "--batch", "7"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)


def snapshot(conn) -> tuple[list, list]:
    open_rows = conn.execute(
        "SELECT acct_session_id, input_octets, output_octets, session_time, started_at,"
        " updated_at FROM sessions_open ORDER BY acct_session_id").fetchall()
    closed = conn.execute(
        "SELECT acct_session_id, input_octets, output_octets, session_time, started_at,"
        " stopped_at, terminate_cause FROM sessions_history ORDER BY acct_session_id"
    ).fetchall()
    return open_rows, closed


def test_outage_spools_every_packet_and_the_drain_applies_each_once(pg, radius, monkeypatch):
    spool = radius.radacct_dir / "spool"
    # While the database is up, accounting goes straight in and nothing is spooled.
    assert send_all(radius, [packet("Start", 999, Event_Timestamp=int(T0.timestamp()))]) == 1
    assert not list(spool.glob("detail-*"))

    # A DHCP-style session whose User-Name names nobody: the Class from the Access-Accept
    # names the subaccount, and the drain passes it on as rlm_sql would.
    with psycopg.connect(pg.conninfo(DB), autocommit=True) as conn:
        account = conn.execute("INSERT INTO accounts (contract, login) VALUES ('o-1', 'o-1')"
                               " RETURNING id").fetchone()[0]
        dhcp_sub = conn.execute("INSERT INTO subaccounts (account_id, username)"
                                " VALUES (%s, 'dhcp-sub') RETURNING id", (account,)).fetchone()[0]
    pg.stop()
    starts = [packet("Start", n, Event_Timestamp=int(T0.timestamp()),
                     Framed_IP_Address=f"10.0.0.{n + 1}") for n in range(SESSIONS)]
    starts[3].append(("Class", "0x" + f"ebs:{dhcp_sub}:0".encode().hex()))
    interims = [[packet("Interim-Update", n, **counters(n, step)) for n in range(SESSIONS)]
                for step in (1, 2)]
    stops = [packet("Stop", n, Acct_Terminate_Cause="User-Request", **counters(n, 3))
             for n in range(0, SESSIONS, 2)]
    down_since = time.monotonic()
    for k, batch in enumerate((starts, *interims, stops)):
        # Spread over the outage: the last batch goes out when it has lasted its length.
        time.sleep(max(0.0, down_since + OUTAGE_SECONDS * k / 3 - time.monotonic()))
        assert send_all(radius, batch) == len(batch)  # answered with the database down
    assert time.monotonic() - down_since >= OUTAGE_SECONDS
    spooled = sum(p.read_bytes().count(b"\tAcct-Status-Type = ") for p in spool.glob("detail-*"))
    assert spooled == SESSIONS * 3 + SESSIONS // 2
    spoil(spool)
    # The beat's task finds the database still away: it reports and leaves the spool.
    for name, value in ebs_env(pg.conninfo(DB)).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("EBS_RADIUS_ACCT_SPOOL_DIR", str(spool))  # the task drains no other
    from worker.acct_drain_tasks import acct_drain

    assert acct_drain.run(spool_dir=str(spool))["pending"]
    assert sum(p.read_bytes().count(b"\tAcct-Status-Type = ")
               for p in spool.glob("detail-*")) == spooled + 2  # and the two spoilt ones

    pg.start()
    first = drain_cli(pg, spool)
    assert first.returncode == 0, first.stderr
    assert "skipped: Acct-Input-Octets = 'lots'" in first.stderr
    assert "skipped: truncated at the end of the file" in first.stderr
    assert f"{spooled} entries applied" in first.stdout and "2 skipped" in first.stdout

    with psycopg.connect(pg.conninfo(DB), autocommit=True, row_factory=dict_row) as conn:
        opened = {r["acct_session_id"]: r for r in conn.execute("SELECT * FROM sessions_open")}
        closed = {r["acct_session_id"]: r for r in conn.execute(
            "SELECT * FROM sessions_history")}
        assert set(opened) == {f"out-{n}" for n in range(1, SESSIONS, 2)} | {"out-999"}
        assert set(closed) == {f"out-{n}" for n in range(0, SESSIONS, 2)}
        for n in range(SESSIONS):
            stopped = n % 2 == 0
            row = closed[f"out-{n}"] if stopped else opened[f"out-{n}"]
            assert (row["input_octets"], row["output_octets"], row["session_time"]) == \
                expected(n, 3 if stopped else 2), n
            assert row["started_at"] == T0
            assert str(row["framed_ip"]) == f"10.0.0.{n + 1}"
            assert row["username"] == f"user{n}"
            if stopped:
                assert row["terminate_cause"] == "User-Request"
                assert row["stopped_at"] == T0 + timedelta(seconds=900)
        assert opened["out-3"]["subaccount_id"] == dhcp_sub
        assert conn.execute("SELECT count(*) AS n FROM acct_spool_files").fetchone()["n"] == 0
    with psycopg.connect(pg.conninfo(DB), autocommit=True) as conn:
        before = snapshot(conn)

    assert not list(spool.glob("detail-*"))
    again = drain_cli(pg, spool)
    assert again.returncode == 0, again.stderr
    assert "drained 0 files" in again.stdout

    # The Celery task runs the same drain; after the outage it finds nothing either.
    assert acct_drain.run(spool_dir=str(spool))["applied"] == 0
    with psycopg.connect(pg.conninfo(DB), autocommit=True) as conn:
        assert snapshot(conn) == before

    # Accounting goes on after the outage (straight through rlm_sql once it has
    # reconnected, through the spool until then): either way it is applied.
    later = counters(1, 4)
    assert send_all(radius, [packet("Interim-Update", 1, **later)]) == 1
    acct_drain.run(spool_dir=str(spool))
    with psycopg.connect(pg.conninfo(DB), autocommit=True) as conn:
        row = conn.execute("SELECT input_octets, session_time FROM sessions_open"
                           " WHERE acct_session_id = 'out-1'").fetchone()
    assert row == (later["Acct_Input_Octets"], later["Acct_Session_Time"])


def test_an_interrupted_drain_resumes_after_its_last_committed_batch(pg, tmp_path):
    """A work file with a committed position: the drain applies only what follows it."""
    from stack import acct_spool

    spool = tmp_path / "spool"
    spool.mkdir()
    tag = uuid.uuid4().hex[:8]

    def entry(n: int, status: str = "Start") -> bytes:
        return (f"Sat Nov 28 10:00:00 2026\n\tAcct-Status-Type = {status}\n"
                f"\tAcct-Session-Id = \"{tag}-{n}\"\n\tUser-Name = \"u{n}\"\n"
                f"\tNAS-IP-Address = 127.0.0.1\n\tAcct-Unique-Session-Id = \"{tag}{n}\"\n"
                f"\tTimestamp = {int(T0.timestamp())}\n\n").encode()

    head = entry(1) + entry(2)
    work = spool / f"detail-2026112810.{tag}.work"
    work.write_bytes(head + entry(3))
    with psycopg.connect(pg.conninfo(DB), autocommit=True) as conn:
        conn.execute("INSERT INTO acct_spool_files (host, work_file, position, applied)"
                     " VALUES ('h1', %s, %s, 2)", (str(work), len(head)))
        result = acct_spool.drain(conn, spool, host="h1")
        assert (result.files, result.applied, result.skipped) == (1, 1, 0)
        names = [r[0] for r in conn.execute(
            "SELECT acct_session_id FROM sessions_open WHERE acct_session_id LIKE %s",
            (f"{tag}-%",))]
    assert names == [f"{tag}-3"]
    assert not work.exists()


def test_one_drain_per_spool_directory_at_a_time(pg, tmp_path):
    import os

    from stack import acct_spool

    spool = tmp_path / "spool"
    spool.mkdir()
    (spool / "detail-2026112811").write_bytes(b"Sat Nov 28 11:00:00 2026\n\tUser-Name = \"x\"\n\n")
    held = os.open(spool, os.O_RDONLY)
    try:
        fcntl.flock(held, fcntl.LOCK_EX)
        with psycopg.connect(pg.conninfo(DB)) as conn:
            assert acct_spool.drain(conn, spool, host="h2").busy
        assert (spool / "detail-2026112811").exists()
    finally:
        os.close(held)


def test_an_entry_the_database_refuses_is_skipped_and_its_batch_still_applies(pg, tmp_path,
                                                                             caplog):
    """Counters past 64 bits (Acct-Input-Gigawords 2^32 - 1, each one 4 GiB) overflow
    the bigint columns: the batch is retried entry by entry and only that entry is
    passed over, with a log line."""
    from stack import acct_spool

    spool = tmp_path / "spool"
    spool.mkdir()
    tag = uuid.uuid4().hex[:8]
    body = b"".join(
        (f"Sat Nov 28 10:00:00 2026\n\tAcct-Status-Type = Start\n"
         f"\tAcct-Session-Id = \"{tag}-{n}\"\n\tUser-Name = \"u{n}\"\n"
         f"\tAcct-Input-Gigawords = {gigawords}\n"
         f"\tNAS-IP-Address = 127.0.0.1\n\tAcct-Unique-Session-Id = \"{tag}{n}\"\n\n").encode()
        for n, gigawords in ((1, 0), (2, 2**32 - 1), (3, 0)))
    (spool / "detail-2026112812").write_bytes(body)
    with psycopg.connect(pg.conninfo(DB)) as conn:
        result = acct_spool.drain(conn, spool, host="h3")
        names = [r[0] for r in conn.execute(
            "SELECT acct_session_id FROM sessions_open WHERE acct_session_id LIKE %s"
            " ORDER BY 1", (f"{tag}-%",))]
    assert (result.applied, result.skipped) == (2, 1)
    assert names == [f"{tag}-1", f"{tag}-3"]
    assert "skipped, the database refused it" in caplog.text


def test_spool_mode_follower_applies_as_packets_come_and_outlasts_an_outage(pg, tmp_path):
    """Spool mode: FreeRADIUS only writes the spool and answers; the follower process
    (`ebs acct drain --follow`) applies it, waits out PostgreSQL's absence without losing
    or repeating anything, and catches up once it is back."""
    from stack.acct_follow import drained, wait_drained
    from stack.servers.acct_drain import acct_drainer

    server = start_with_retry(lambda: FreeRadiusServer(
        directory=tmp_path / "conf", auth_port=free_port(udp=True, tcp=False),
        acct_port=free_port(udp=True, tcp=False), clients=[("local", "127.0.0.1", SECRET)],
        reject_delay=0, **radius_db_fields(pg.conninfo(DB)),
        accounting_mode="spool"))
    spool = server.radacct_dir / "spool"
    follower = acct_drainer(spool, tmp_path / "run", tmp_path / "log",
                            env=ebs_env(pg.conninfo(DB)), poll=0.02)
    follower.start()
    numbers = range(500, 520)
    try:
        starts = [packet("Start", n, Event_Timestamp=int(T0.timestamp())) for n in numbers]
        assert send_all(server, starts) == len(starts)
        assert wait_drained(spool, 30)
        with psycopg.connect(pg.conninfo(DB), autocommit=True) as conn:
            assert conn.execute("SELECT count(*) FROM sessions_open WHERE acct_session_id"
                                " = ANY(%s)", ([f"out-{n}" for n in numbers],)).fetchone()[0] \
                == len(starts)

        pg.stop()
        interims = [packet("Interim-Update", n, **counters(n, 1)) for n in numbers]
        stops = [packet("Stop", n, Acct_Terminate_Cause="Idle-Timeout", **counters(n, 2))
                 for n in numbers if n % 2]
        late = [packet("Interim-Update", n, **counters(n, 1)) for n in numbers if n % 2]
        for batch in (interims, stops, late):
            assert send_all(server, batch) == len(batch)  # answered, database down
        assert not drained(spool) and follower.running()
        pg.start()
        assert wait_drained(spool, 60)
    finally:
        follower.stop()
        server.stop()

    with psycopg.connect(pg.conninfo(DB), autocommit=True, row_factory=dict_row) as conn:
        for n in numbers:
            name = f"out-{n}"
            if n % 2:
                assert conn.execute("SELECT 1 FROM sessions_open WHERE acct_session_id = %s",
                                    (name,)).fetchone() is None  # the late interim: ignored
                row = conn.execute("SELECT * FROM sessions_history WHERE acct_session_id"
                                   " = %s", (name,)).fetchone()
                assert row["terminate_cause"] == "Idle-Timeout"
                assert (row["input_octets"], row["output_octets"], row["session_time"]) == \
                    expected(n, 2)
            else:
                row = conn.execute("SELECT * FROM sessions_open WHERE acct_session_id = %s",
                                   (name,)).fetchone()
                assert (row["input_octets"], row["output_octets"], row["session_time"]) == \
                    expected(n, 1)
    log = follower.log.read_text()
    assert "database unavailable" in log and "database back" in log
    assert f"stopped: {len(starts) * 2 + len(stops) * 2} entries applied" in log
