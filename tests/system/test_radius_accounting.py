"""Accounting through a real FreeRADIUS: radclient sends Accounting-Requests and we read
sessions_open / sessions_history, in both accounting modes:
  * live: rlm_sql's pool calls ebs_acct_apply() in PostgreSQL before answering;
  * spool: FreeRADIUS writes the spool file and answers, the follower process
    (`ebs acct drain --follow`) applies it in batches; each send waits until the spool is
    drained (an answered packet is in a spool file until its batch has committed).

One server and one database per mode (a FreeRADIUS start costs about a second); each test
uses its own session ids, usernames and NAS addresses."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import dict_row

from stack.acct_follow import wait_drained
from stack.servers.acct_drain import acct_drainer
from stack.servers.base import free_port
from stack.servers.freeradius import FreeRadiusServer, radclient
from tests.conftest import ebs_env
from tests.harness import radius_db_fields, start_with_retry

SECRET = "acct-secret-1-for-tests"
GIB4 = 2**32
# Packets without an Event-Timestamp happen "now": the scenario starts a few hours ago.
T0 = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)


DRAIN_TIMEOUT = 30.0  # seconds an answered packet may take to be applied (spool mode)


@pytest.fixture(scope="module", params=["live", "spool"])
def mode(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def acct_db(pg_server, template_db, mode):
    name = f"acct_{uuid.uuid4().hex[:12]}"
    pg_server.create_database(name, template=template_db)
    yield pg_server.conninfo(name)
    pg_server.drop_database(name)


def make_server(directory: Path, conninfo: str, mode: str = "live") -> FreeRadiusServer:
    return FreeRadiusServer(
        directory=directory,
        auth_port=free_port(udp=True, tcp=False),
        acct_port=free_port(udp=True, tcp=False),
        clients=[("local", "127.0.0.1", SECRET)],
        reject_delay=0,
        accounting_mode=mode,
        **radius_db_fields(conninfo),
    )


@pytest.fixture(scope="module")
def radius(acct_db, mode, tmp_path_factory):
    base = tmp_path_factory.mktemp(f"radius-acct-{mode}")
    server = start_with_retry(lambda: make_server(base / "conf", acct_db, mode))
    follower = None
    if mode == "spool":
        follower = acct_drainer(server.radacct_dir / "spool", base / "run", base / "log",
                                env=ebs_env(acct_db), poll=0.02)
        follower.start()
    yield server
    if follower is not None:
        follower.stop()
    server.stop()


@pytest.fixture
def dbc(acct_db):
    with psycopg.connect(acct_db, autocommit=True, row_factory=dict_row) as connection:
        yield connection


def send(server: FreeRadiusServer, status: str, session: str, **attrs: object) -> None:
    """One Accounting-Request; every one of them must be answered."""
    pairs = [
        ("Acct-Status-Type", status),
        ("Acct-Session-Id", session),
        ("User-Name", str(attrs.pop("user", "alice"))),
        ("NAS-IP-Address", str(attrs.pop("nas", "127.0.0.1"))),
        ("NAS-Port", "7"),
    ]
    pairs += [(name.replace("_", "-"), str(value)) for name, value in attrs.items()]
    pairs = [(name, value) for name, value in pairs if value != ""]  # absent attributes
    reply = radclient(server.acct_port, "acct", SECRET, pairs, raddb=server.directory,
                      timeout=2.0, retries=1)
    assert reply.code == "Accounting-Response", reply.output
    if server.accounting_mode == "spool":
        assert wait_drained(server.radacct_dir / "spool", DRAIN_TIMEOUT), "not applied"


def epoch(at: datetime) -> int:
    return int(at.timestamp())


def open_row(conn, session: str):
    return conn.execute(
        "SELECT * FROM sessions_open WHERE acct_session_id = %s", (session,)
    ).fetchone()


def history_rows(conn, session: str):
    return conn.execute(
        "SELECT * FROM sessions_history WHERE acct_session_id = %s", (session,)
    ).fetchall()


def new_session() -> str:
    return "s-" + os.urandom(5).hex()


def test_start_creates_the_open_session_resolved_to_the_subscriber(radius, dbc):
    nas_id = dbc.execute(
        "INSERT INTO nas (name, ip_address, secret, acct_interim_interval) "
        "VALUES ('nas-start', '198.51.100.7', 'secret-1-of-nas-start', 120) RETURNING id"
    ).fetchone()["id"]
    account_id = dbc.execute(
        "INSERT INTO accounts (contract, login) VALUES ('C-1', 'bob') RETURNING id"
    ).fetchone()["id"]
    sub_id = dbc.execute(
        "INSERT INTO subaccounts (account_id, username) VALUES (%s, 'bob') RETURNING id",
        (account_id,),
    ).fetchone()["id"]
    session = new_session()
    send(radius, "Start", session, user="bob", nas="198.51.100.7",
         Framed_IP_Address="10.1.2.3", Calling_Station_Id="00:11:22:33:44:55",
         Called_Station_Id="pppoe-1", NAS_Port_Id="ether5", Event_Timestamp=epoch(T0))

    row = open_row(dbc, session)
    assert row is not None
    assert (row["subaccount_id"], row["account_id"], row["nas_id"]) == (sub_id, account_id, nas_id)
    assert str(row["nas_ip"]) == "198.51.100.7"
    assert str(row["framed_ip"]) == "10.1.2.3"
    assert row["username"] == "bob"
    assert row["calling_station_id"] == "00:11:22:33:44:55"
    assert row["called_station_id"] == "pppoe-1"
    assert row["nas_port_id"] == "ether5"
    assert row["started_at"] == T0
    assert row["interim_interval"] == 120  # the NAS's setting
    assert (row["input_octets"], row["output_octets"], row["session_time"]) == (0, 0, 0)
    assert len(row["acct_unique_id"]) == 32  # the acct_unique policy's md5


def test_interims_update_counters_that_never_go_back(radius, dbc):
    session = new_session()
    send(radius, "Start", session, Event_Timestamp=epoch(T0))
    send(radius, "Interim-Update", session, Acct_Input_Octets=1000, Acct_Output_Octets=5000,
         Acct_Session_Time=300, Event_Timestamp=epoch(T0 + timedelta(seconds=300)))
    row = open_row(dbc, session)
    assert (row["input_octets"], row["output_octets"], row["session_time"]) == (1000, 5000, 300)

    send(radius, "Interim-Update", session, Acct_Input_Octets=3000, Acct_Output_Octets=9000,
         Acct_Session_Time=600)
    # An older interim arriving late, then the newer one again (a retransmission).
    send(radius, "Interim-Update", session, Acct_Input_Octets=2000, Acct_Output_Octets=7000,
         Acct_Session_Time=450)
    send(radius, "Interim-Update", session, Acct_Input_Octets=3000, Acct_Output_Octets=9000,
         Acct_Session_Time=600)
    row = open_row(dbc, session)
    assert (row["input_octets"], row["output_octets"], row["session_time"]) == (3000, 9000, 600)
    assert row["started_at"] == T0


def test_interim_without_start_creates_the_session(radius, dbc):
    session = new_session()
    send(radius, "Interim-Update", session, Acct_Input_Octets=10, Acct_Output_Octets=20,
         Acct_Session_Time=600, Event_Timestamp=epoch(T0 + timedelta(minutes=10)))
    row = open_row(dbc, session)
    assert (row["input_octets"], row["output_octets"]) == (10, 20)
    assert row["started_at"] == T0  # event time minus session time

    # The Start that was overtaken still sets the start, and keeps the counters.
    send(radius, "Start", session, Event_Timestamp=epoch(T0 - timedelta(seconds=5)))
    row = open_row(dbc, session)
    assert row["started_at"] == T0 - timedelta(seconds=5)
    assert (row["input_octets"], row["output_octets"]) == (10, 20)


def test_gigawords_make_64_bit_counters(radius, dbc):
    session = new_session()
    send(radius, "Start", session)
    send(radius, "Interim-Update", session, Acct_Input_Octets=4294967000,
         Acct_Output_Octets=4294967295, Acct_Session_Time=60)
    # The 32-bit octet counters wrapped: the small value plus one Gigaword is more.
    send(radius, "Interim-Update", session, Acct_Input_Octets=1000, Acct_Input_Gigawords=1,
         Acct_Output_Octets=5, Acct_Output_Gigawords=3, Acct_Session_Time=120)
    row = open_row(dbc, session)
    assert row["input_octets"] == GIB4 + 1000
    assert row["output_octets"] == 3 * GIB4 + 5
    send(radius, "Stop", session, Acct_Input_Octets=2000, Acct_Input_Gigawords=1,
         Acct_Output_Octets=6, Acct_Output_Gigawords=3, Acct_Session_Time=130,
         Acct_Terminate_Cause="User-Request")
    [hist] = history_rows(dbc, session)
    assert (hist["input_octets"], hist["output_octets"]) == (GIB4 + 2000, 3 * GIB4 + 6)


def test_stop_moves_to_history_and_a_duplicate_stop_changes_nothing(radius, dbc):
    session = new_session()
    send(radius, "Start", session, Framed_IP_Address="10.9.9.9", Event_Timestamp=epoch(T0))
    send(radius, "Interim-Update", session, Acct_Input_Octets=100, Acct_Output_Octets=200,
         Acct_Session_Time=300)
    stop = dict(Acct_Input_Octets=150, Acct_Output_Octets=250, Acct_Session_Time=420,
                Acct_Terminate_Cause="Lost-Carrier")
    send(radius, "Stop", session, **stop)  # no Event-Timestamp: start + session time

    assert open_row(dbc, session) is None
    [hist] = history_rows(dbc, session)
    assert (hist["input_octets"], hist["output_octets"], hist["session_time"]) == (150, 250, 420)
    assert hist["terminate_cause"] == "Lost-Carrier"
    assert hist["started_at"] == T0
    assert hist["stopped_at"] == T0 + timedelta(seconds=420)
    assert str(hist["framed_ip"]) == "10.9.9.9"

    send(radius, "Stop", session, **stop)
    send(radius, "Stop", session, Event_Timestamp=epoch(T0 + timedelta(hours=1)), **stop)
    assert history_rows(dbc, session) == [hist]
    assert open_row(dbc, session) is None

    # A late interim must not bring the stopped session back.
    send(radius, "Interim-Update", session, Acct_Input_Octets=120, Acct_Session_Time=360)
    assert open_row(dbc, session) is None
    assert history_rows(dbc, session) == [hist]


def test_stop_without_start_still_writes_history(radius, dbc):
    session = new_session()
    stopped = T0 + timedelta(hours=2)
    send(radius, "Stop", session, Acct_Input_Octets=7, Acct_Output_Octets=8,
         Acct_Session_Time=60, Acct_Terminate_Cause="Idle-Timeout",
         Event_Timestamp=epoch(stopped))
    send(radius, "Stop", session, Acct_Input_Octets=7, Acct_Output_Octets=8,
         Acct_Session_Time=60, Acct_Terminate_Cause="Idle-Timeout",
         Event_Timestamp=epoch(stopped))
    [hist] = history_rows(dbc, session)
    assert (hist["started_at"], hist["stopped_at"]) == (stopped - timedelta(seconds=60), stopped)
    assert (hist["input_octets"], hist["output_octets"]) == (7, 8)
    assert hist["terminate_cause"] == "Idle-Timeout"


def test_accounting_on_closes_that_nas_sessions_only(radius, dbc):
    rebooted, other = "192.0.2.10", "192.0.2.11"
    mine = [new_session() for _ in range(3)]
    theirs = new_session()
    for n, session in enumerate(mine):
        send(radius, "Start", session, user=f"u{n}", nas=rebooted)
    send(radius, "Start", theirs, nas=other)
    send(radius, "Interim-Update", mine[0], user="u0", nas=rebooted, Acct_Input_Octets=55,
         Acct_Session_Time=30)
    on_at = T0 + timedelta(days=1)
    send(radius, "Accounting-On", "", user="", nas=rebooted, Event_Timestamp=epoch(on_at))

    for session in mine:
        assert open_row(dbc, session) is None
        [hist] = history_rows(dbc, session)
        assert hist["terminate_cause"] == "NAS-Reboot"
        assert hist["stopped_at"] == on_at
    assert history_rows(dbc, mine[0])[0]["input_octets"] == 55
    assert open_row(dbc, theirs) is not None

    send(radius, "Accounting-Off", "", user="", nas=other)
    assert open_row(dbc, theirs) is None
    assert history_rows(dbc, theirs)[0]["terminate_cause"] == "NAS-Reboot"


def quoted(value: str) -> str:
    """A string value for radclient's input: double-quoted, backslash-escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def escaped(value: str) -> str:
    """``quoted`` with line breaks and tabs as radclient's escapes."""
    return quoted(value).replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")


def test_hostile_values_are_escaped(radius, dbc):
    session = "x'); DROP TABLE sessions_open; --"
    user = "o'brien\"; SELECT 1; -- =27 Дмитрий %{User-Name}"
    send(radius, "Start", quoted(session), user=quoted(user),
         Calling_Station_Id=quoted("a'b\\c"))
    row = open_row(dbc, session)
    assert row["username"] == user
    assert row["calling_station_id"] == "a'b\\c"


def test_253_byte_values_arrive_intact(radius, dbc):
    """The longest values RADIUS carries, multibyte UTF-8, quotes and backslashes."""
    session = new_session()
    user = "ж" * 126 + "z"
    called = ("'\"=%{x" * 51)[:253]
    assert len(user.encode()) == 253 and len(called.encode()) == 253
    send(radius, "Start", session, user=quoted(user), Called_Station_Id=quoted(called),
         Acct_Input_Octets=4294967295, Acct_Input_Gigawords=2147483647,
         Acct_Session_Time=2147483647)
    row = open_row(dbc, session)
    assert (row["username"], row["called_station_id"]) == (user, called)
    assert (row["input_octets"], row["session_time"]) == (2**63 - 1, 2147483647)


def test_line_breaks_and_tabs_arrive_intact(radius, dbc):
    """A value that looks like the next detail-file entry must stay one value, and every
    text column stores exactly what the NAS sent, in both modes."""
    session = "n-" + os.urandom(3).hex() + "\n\n\tAcct-Status-Type = Stop\r\"x\\"
    user = "line\n\nTue Nov 24 10:00:00 2026\n\tUser-Name = \"evil\"\n"
    # (no "%" here: radclient sends a double-quoted value with "%" unescaped, as xlat)
    calling = "o'brien \\n \\\\ =27 \"q\"\r\n"
    called = "Дмитрий\tточка доступа ✓ 😀"
    port = "ether5\\'\n"
    send(radius, "Start", escaped(session), user=escaped(user), Acct_Input_Octets=9,
         Calling_Station_Id=escaped(calling), Called_Station_Id=escaped(called),
         NAS_Port_Id=escaped(port))
    row = open_row(dbc, session)
    assert (row["username"], row["input_octets"]) == (user, 9)
    assert (row["calling_station_id"], row["called_station_id"], row["nas_port_id"]) == (
        calling, called, port)
    send(radius, "Interim-Update", escaped(session), user=escaped(user),
         NAS_Port_Id=escaped(port), Acct_Input_Octets=11)
    assert open_row(dbc, session)["input_octets"] == 11
    assert dbc.execute("SELECT count(*) AS n FROM sessions_open WHERE username = 'evil'"
                       ).fetchone()["n"] == 0

    # A Stop with no Start writes history straight from the packet's own values.
    lone = "lone-" + os.urandom(3).hex() + "\n\\'"
    send(radius, "Stop", escaped(lone), user=escaped(user),
         Calling_Station_Id=escaped(calling), Called_Station_Id=escaped(called))
    [hist] = history_rows(dbc, lone)
    assert (hist["username"], hist["calling_station_id"], hist["called_station_id"]) == (
        user, calling, called)


def test_invalid_utf8_is_stored_alike_in_both_modes(radius, dbc):
    """A NAS may send any bytes: each invalid sequence becomes U+FFFD (as Python's
    decode(errors='replace') does), so does NUL (no text column holds it), the valid rest
    is kept, and the packet is applied."""
    session = new_session()
    raw = b"caf\xc3\xa9 \xff\xfe x\xe2\x82 y\xed\xa0\x80 z\x00!"
    octal = "".join(chr(b) if 32 <= b < 127 else f"\\{b:03o}" for b in raw)
    send(radius, "Start", session, Called_Station_Id=f'"{octal}"')
    row = open_row(dbc, session)
    assert row["called_station_id"] == "café \ufffd\ufffd x\ufffd y\ufffd\ufffd\ufffd z\ufffd!"


def test_detail_file_is_still_written(radius, dbc):
    session = new_session()
    send(radius, "Start", session)
    if radius.accounting_mode == "spool":
        # One copy on disk per packet: the spool file, gone once applied.
        assert open_row(dbc, session) is not None
        assert not (radius.radacct_dir / "127.0.0.1").exists()
        return
    files = sorted((radius.radacct_dir / "127.0.0.1").glob("detail-*"))
    assert session in "".join(f.read_text() for f in files)


def test_database_down_still_answers_and_keeps_the_detail(tmp_path):
    # Nothing listens on this port: rlm_sql fails, the detail file has the packet
    # (a later drain applies it), and the NAS is answered so it does not resend forever.
    nowhere = f"host=127.0.0.1 port={free_port()} user=ebs dbname=gone"
    server = start_with_retry(lambda: make_server(tmp_path / "conf", nowhere))
    try:
        session = new_session()
        send(server, "Start", session)
        send(server, "Interim-Update", session, Acct_Input_Octets=5)
        files = sorted((server.radacct_dir / "127.0.0.1").glob("detail-*"))
        assert "".join(f.read_text() for f in files).count(session) == 2
    finally:
        server.stop()


def test_other_status_types_are_answered_and_ignored(radius, dbc):
    session = new_session()
    send(radius, "Failed", session)
    assert open_row(dbc, session) is None and history_rows(dbc, session) == []


def test_one_round_trip_per_packet_counted_at_postgresql(radius, dbc):
    """Start and Stop are one call of ebs_acct_apply; an Interim-Update of an open session
    is the one UPDATE of the fast path. Counted by pg_stat_statements over everything
    every client sent to this database."""
    sessions = [new_session() for _ in range(3)]
    send(radius, "Start", new_session())  # the pool is connected
    dbc.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    dbc.execute("SELECT pg_stat_statements_reset()")

    for session in sessions:
        send(radius, "Start", session)
        for n in range(1, 3):
            send(radius, "Interim-Update", session, Acct_Input_Octets=n * 100,
                 Acct_Session_Time=n * 60)
        send(radius, "Stop", session, Acct_Session_Time=200)

    rows = dbc.execute(
        "SELECT query, calls FROM pg_stat_statements"
        " WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
        "   AND query NOT LIKE '%%pg_stat_statements%%'").fetchall()
    if radius.accounting_mode == "spool":
        # FreeRADIUS sends nothing per packet; the follower applied them in batches.
        rlm_sql = [r for r in rows if "ebs_acct_apply($1" in r["query"]
                   or "WITH lease AS" in r["query"]]
        assert rlm_sql == [], rlm_sql
        assert sum(r["calls"] for r in rows if "FROM acct_spool_batch" in r["query"]) > 0
        assert all(open_row(dbc, s) is None for s in sessions)
        return
    calls = {"apply": 0, "interim": 0, "other": 0}
    for row in rows:
        kind = ("apply" if "ebs_acct_apply" in row["query"] else
                "interim" if row["query"].lstrip().upper().startswith(("UPDATE", "WITH"))
                and "sessions_open" in row["query"] else "other")
        calls[kind] += row["calls"]
    assert calls == {"apply": 2 * len(sessions), "interim": 2 * len(sessions), "other": 0}, rows
    assert all(open_row(dbc, s) is None for s in sessions)
