"""The degraded mode with a real FreeRADIUS: PostgreSQL goes away (stopped, then frozen)
and a paying subscriber seen before still logs in, with the address of the last login
and the tariff's speed; a debtor seen before, a subscriber never seen and a wrong
password are rejected. Once the database is back the auth log holds every answer of the
outage, with its reason (``degraded``, ``db_unavailable``, ``wrong_password``) and its
time, from the auth spool. Switched off, the same paying subscriber is rejected
``db_unavailable``."""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
from datetime import UTC, datetime

import psycopg
import pytest
from psycopg.rows import dict_row

from stack import auth_spool, db_watch
from stack.servers.base import wait_until
from stack.servers.freeradius import FreeRadiusServer, radclient
from tests.harness import start_with_retry
from tests.system.test_radius_auth import PASSWORD, SECRET, make_server, subscriber, tariff
from tests.system.test_radius_db_down import private_pg, wait_for_logins

pytestmark = pytest.mark.slow
RETRY_DELAY = 5  # rlm_sql's pool (freeradius_conf/mods-enabled/sql)
__all__ = ["private_pg"]  # the module's private PostgreSQL, a fixture


def pap(radius: FreeRadiusServer, user: str, password: str = PASSWORD):
    started = time.monotonic()
    reply = radclient(radius.auth_port, "auth", SECRET, [
        ("User-Name", user), ("User-Password", password), ("NAS-IP-Address", "127.0.0.1"),
        ("Framed-Protocol", "PPP"), ("Message-Authenticator", "0x00")],
        raddb=radius.directory, timeout=15.0, retries=1)
    return reply, time.monotonic() - started


@pytest.fixture
def people(private_pg):
    with psycopg.connect(private_pg.conninfo("ebs"), autocommit=True,
                         row_factory=dict_row) as dbc:
        plan = tariff(dbc, speed="10M/20M")
        return {"paying": subscriber(dbc, plan), "debtor": subscriber(dbc, plan, balance="-50"),
                "never_seen": subscriber(dbc, plan)}


def _server(tmp_path, private_pg, degraded: bool) -> FreeRadiusServer:
    def make() -> FreeRadiusServer:
        server = make_server(tmp_path / "conf", private_pg.conninfo("ebs"))
        server.degraded_mode = degraded
        return server
    return start_with_retry(make)


def _seen(radius, people) -> str:
    """The paying subscriber's and the debtor's logins while the database is up."""
    accepted, _ = pap(radius, people["paying"])
    assert accepted.code == "Access-Accept", accepted.output
    assert pap(radius, people["debtor"])[0].code == "Access-Reject"
    return accepted.attributes["Framed-IP-Address"]


def wait_for_the_database(radius: FreeRadiusServer, user: str) -> None:
    """Until a login leases again (its Class names a lease, not 0 as a degraded one's):
    FreeRADIUS's pool has found the database back."""
    deadline = time.monotonic() + 30
    while True:
        reply, _ = pap(radius, user)
        klass = bytes.fromhex(reply.attributes.get("Class", "0x")[2:]).decode()
        if reply.code == "Access-Accept" and klass.split(":")[2] != "0":
            return
        assert time.monotonic() < deadline, "logins did not lease again"
        time.sleep(0.2)


def _logged(private_pg, radius, people) -> dict[str, list[str]]:
    """The auth spool drained as the beat drains it once the database is back; then each
    subscriber's reasons in the auth log, in order."""
    with psycopg.connect(private_pg.conninfo("ebs"), autocommit=True) as conn:
        drained = auth_spool.drain(conn, radius.radacct_dir / "auth-spool",
                                   now=time.time() + 120)
        assert drained.bad_lines == 0 and drained.logged >= 4, drained
        rows = conn.execute("SELECT username, reason, logged_at FROM auth_log"
                            " ORDER BY logged_at, id").fetchall()
    assert all(at <= datetime.now(UTC) for _, _, at in rows)
    return {who: [r for u, r, _ in rows if u == user] for who, user in people.items()}


def _check_degraded(radius, people, address: str):
    """The degraded answers; the paying subscriber's accept is returned."""
    reply, seconds = pap(radius, people["paying"])
    assert reply.code == "Access-Accept", reply.output
    assert reply.attributes["Framed-IP-Address"] == address  # the address it held
    assert reply.attributes["Mikrotik-Rate-Limit"] == "10M/20M"
    assert reply.attributes["Class"].startswith("0x")  # ebs:<subaccount>:0:<given>
    assert seconds < 1.0, seconds
    for who, password in (("paying", "not-the-password"), ("debtor", PASSWORD),
                          ("never_seen", PASSWORD)):
        assert pap(radius, people[who], password)[0].code == "Access-Reject", who
    assert pap(radius, "nobody-at-all")[0].code == "Access-Reject"
    return reply


def _start(radius, user: str, accept) -> None:
    """The NAS's Accounting Start for the session the degraded accept opened."""
    answer = radclient(radius.acct_port, "acct", SECRET, [
        ("Acct-Status-Type", "Start"), ("Acct-Session-Id", "deg-" + user),
        ("User-Name", user), ("NAS-IP-Address", "127.0.0.1"), ("NAS-Port", "1"),
        ("Framed-IP-Address", accept.attributes["Framed-IP-Address"]),
        ("Class", accept.attributes["Class"])], raddb=radius.directory, timeout=5.0)
    assert answer.code == "Accounting-Response", answer.output


def test_stopped_database_lets_the_remembered_paying_subscriber_in(
        private_pg, people, tmp_path):
    radius = _server(tmp_path, private_pg, degraded=True)
    try:
        address = _seen(radius, people)
        private_pg.stop()
        try:
            accept = _check_degraded(radius, people, address)
        finally:
            private_pg.start()
        wait_for_the_database(radius, people["paying"])
        # The lease the degraded login holds was freed meanwhile (its hold ran out): the
        # session's accounting takes the address back for the subscriber.
        with psycopg.connect(private_pg.conninfo("ebs"), autocommit=True) as conn:
            conn.execute("UPDATE ip_leases SET state = 'free', session_key = NULL"
                         " WHERE address = %s", (address,))
            _start(radius, people["paying"], accept)
            lease = conn.execute(
                "SELECT l.state, l.session_key IS NOT NULL, s.username FROM ip_leases l"
                " JOIN subaccounts s ON s.id = l.subaccount_id WHERE l.address = %s",
                (address,)).fetchone()
        assert lease == ("active", True, people["paying"])
        log = radius.log.read_text()
        assert "Traceback" not in log and "rlm_ebs: database unavailable" in log
        reasons = _logged(private_pg, radius, people)
        assert reasons["paying"][:3] == ["ok", "degraded", "wrong_password"], reasons
        assert set(reasons["paying"][3:-1]) <= {"degraded"}  # the pool's retry_delay
        assert reasons["paying"][-1] == "ok"
        assert reasons["debtor"] == ["balance_negative", "db_unavailable"]
        assert reasons["never_seen"] == ["db_unavailable"]
    finally:
        radius.stop()


def test_frozen_database_the_watch_keeps_answers_under_a_second(private_pg, people, tmp_path):
    """Frozen (SIGSTOP: connections accepted, never answered). The database watch sees
    it within a fraction of a second and sets rlm_sql to fail over the control socket:
    from then on every answer comes at once. A request already waiting on the database
    when it froze waits out query_timeout (1 s) and rlm_sql's reconnect (libpq's 2-s
    floor): the least FreeRADIUS 3.2 allows for a request already on its way."""
    radius = _server(tmp_path, private_pg, degraded=True)
    watch = db_watch.DbWatch(str(private_pg.socket_dir), private_pg.port,
                             [radius.directory / "run" / "control.sock"], report=print)
    stop = threading.Event()
    watcher = threading.Thread(target=watch.run, args=(stop,), daemon=True)
    watcher.start()
    try:
        address = _seen(radius, people)
        frozen = private_pg.freeze()
        try:
            # Sent as it froze: rlm_sql's query times out (1 s) and it reconnects at once,
            # each connect bounded by libpq's 2-s floor; a few seconds, never stuck.
            first, first_s = pap(radius, people["paying"])
            assert first.code == "Access-Accept" and first_s < 10, (first.code, first_s)
            wait_until(lambda: not watch.up, 5.0, "the watch to see the database away")
            answers = [pap(radius, people["paying"]) for _ in range(5)]
            assert [r.code for r, _ in answers] == ["Access-Accept"] * 5
            assert max(s for _, s in answers) < 1.0, [s for _, s in answers]
            assert answers[-1][0].attributes["Framed-IP-Address"] == address
            assert pap(radius, people["debtor"])[0].code == "Access-Reject"
            print(f"frozen: first answer {first_s:.2f} s, then at most "
                  f"{max(s for _, s in answers):.2f} s")
        finally:
            private_pg.thaw(frozen)
        wait_until(lambda: watch.up, 5.0, "the watch to see the database back")
        wait_for_the_database(radius, people["paying"])
        assert _logged(private_pg, radius, people)["paying"][1:7] == ["degraded"] * 6
    finally:
        stop.set()
        watcher.join()
        radius.stop()


def test_switched_off_everyone_is_rejected(private_pg, people, tmp_path):
    radius = _server(tmp_path, private_pg, degraded=False)
    try:
        _seen(radius, people)
        private_pg.stop()
        try:
            assert pap(radius, people["paying"])[0].code == "Access-Reject"
        finally:
            private_pg.start()
        wait_for_logins(radius, people["paying"])
    finally:
        radius.stop()


def _burst(radius: FreeRadiusServer, users: list[str], packets) -> subprocess.Popen[str]:
    """All users' Access-Requests at once, 20 in flight, from one radclient."""
    packets.write_text("\n".join(
        f'User-Name = "{u}"\nUser-Password = "{PASSWORD}"\nNAS-IP-Address = 127.0.0.1\n'
        "Framed-Protocol = PPP\nMessage-Authenticator = 0x00\n" for u in users))
    return subprocess.Popen(
        ["radclient", "-x", "-p", "20", "-r", "3", "-t", "10", "-d", str(radius.directory),
         "-S", str(packets.with_suffix(".secret")), "-f", str(packets),
         f"127.0.0.1:{radius.auth_port}", "auth"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _until_every_connection_is_back(private_pg, node, packets) -> None:
    """The pool's other connections died with the outage; rlm_sql makes new ones once
    retry_delay (5 s) has passed since its last failed connect. Until then a burst of
    logins may find one dead (db_unavailable): bursts of strangers, 20 at a time, until
    every one of a burst reached the database (its unknown_login is in the auth log)."""
    deadline = time.monotonic() + 6 * RETRY_DELAY
    while True:
        strangers = ["nobody-" + os.urandom(4).hex() for _ in range(40)]
        _burst(node, strangers, packets).communicate(timeout=60)
        with psycopg.connect(private_pg.conninfo("ebs"), autocommit=True) as conn:
            logged = conn.execute("SELECT count(*) FROM auth_log WHERE username = ANY(%s)"
                                  " AND reason = 'unknown_login'", (strangers,)).fetchone()[0]
        if logged == len(strangers):
            return
        assert time.monotonic() < deadline, "the pool did not come back"
        time.sleep(1)


def test_two_nodes_after_the_outage_never_lease_an_address_twice(private_pg, tmp_path):
    """Two FreeRADIUS on one database, each letting in, while it was away, the subscribers
    it had seen, with their addresses. Back, a burst of new logins through both takes
    every other address of the pool once: none twice, none a degraded login holds."""
    with psycopg.connect(private_pg.conninfo("ebs"), autocommit=True,
                         row_factory=dict_row) as dbc:
        pool_id = dbc.execute(
            "INSERT INTO ip_pools (name, range_start, range_end) VALUES (%s, '10.77.0.1',"
            " '10.77.0.120') RETURNING id", ("deg-" + os.urandom(3).hex(),)).fetchone()["id"]
        plan = dbc.execute("INSERT INTO tariffs (name, ip_pool_id) VALUES (%s, %s)"
                           " RETURNING id", ("deg-" + os.urandom(3).hex(), pool_id)
                           ).fetchone()["id"]
        held = [subscriber(dbc, plan) for _ in range(40)]
        fresh = [subscriber(dbc, plan) for _ in range(100)]
    nodes = [_server(tmp_path / name, private_pg, degraded=True) for name in ("a", "b")]
    try:
        mine = {user: nodes[n % 2] for n, user in enumerate(held)}  # a NAS per node
        addresses = {}
        for user, node in mine.items():
            reply, _ = pap(node, user)
            assert reply.code == "Access-Accept", reply.output
            addresses[user] = reply.attributes["Framed-IP-Address"]
        private_pg.stop()
        try:
            for user, node in mine.items():
                reply, _ = pap(node, user)
                assert reply.attributes.get("Framed-IP-Address") == addresses[user], user
        finally:
            private_pg.start()
        for node in nodes:
            wait_for_the_database(node, next(u for u, n in mine.items() if n is node))
        (tmp_path / "a.secret").write_text(SECRET + "\n")
        (tmp_path / "b.secret").write_text(SECRET + "\n")
        for node, name in zip(nodes, ("a", "b"), strict=True):
            _until_every_connection_is_back(private_pg, node, tmp_path / f"{name}.txt")
        runs = [_burst(nodes[0], fresh[0::2], tmp_path / "a.txt"),
                _burst(nodes[1], fresh[1::2], tmp_path / "b.txt")]
        outputs = [run.communicate(timeout=120) for run in runs]
        output = "".join(out for out, _ in outputs)
    finally:
        for node in nodes:
            node.stop()
    leased = re.findall(r"^\s+Framed-IP-Address = (\S+)$", output, re.MULTILINE)
    assert output.count("Received Access-Accept") == len(leased) == 120 - len(held)
    assert len(set(leased)) == len(leased)
    assert not set(leased) & set(addresses.values())
