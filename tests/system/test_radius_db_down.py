"""PostgreSQL goes away under a running FreeRADIUS: authorize answers with a reject (reason
db_unavailable: the site's branch for a failed rlm_sql, where rlm_ebs logs the outage),
the server keeps answering, and logins work again when the database returns, without a
restart of FreeRADIUS.

The database is a private PostgreSQL server of this module's own (the session's shared
one must stay up for everyone else); each test leaves it running."""

from __future__ import annotations

import time

import psycopg
import pytest
from psycopg.rows import dict_row

from billing import schema
from stack.servers.freeradius import FreeRadiusServer, radclient
from tests.conftest import make_postgres
from tests.harness import start_with_retry
from tests.system.test_radius_auth import (
    NAS_INTERIM,
    PASSWORD,
    SECRET,
    make_server,
    subscriber,
    tariff,
)

RECOVERY_DEADLINE = 30.0  # seconds; rlm_sql tries a new connection after retry_delay
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def private_pg(tmp_path_factory):
    server = start_with_retry(lambda: make_postgres(tmp_path_factory.mktemp("private-pg")))
    server.create_database("ebs")
    with psycopg.connect(server.conninfo("ebs"), autocommit=True) as conn:
        schema.upgrade(conn)
        conn.execute(
            "INSERT INTO nas (name, vendor, ip_address, secret, acct_interim_interval) "
            "VALUES ('local', 'mikrotik', '127.0.0.1', %s, %s)", (SECRET, NAS_INTERIM))
    yield server
    server.stop()


@pytest.fixture
def setup(private_pg, tmp_path):
    """A subscriber, and a FreeRADIUS with production's reject_delay (1 s), from which
    a db_unavailable reject is exempt, and the degraded mode off."""
    conninfo = private_pg.conninfo("ebs")
    with psycopg.connect(conninfo, autocommit=True, row_factory=dict_row) as dbc:
        user = subscriber(dbc, tariff(dbc))

    def make() -> FreeRadiusServer:
        server = make_server(tmp_path / "conf", conninfo)
        server.reject_delay = 1
        server.degraded_mode = False  # on, it lets the subscriber in (test_radius_degraded)
        return server

    radius = start_with_retry(make)
    yield radius, user
    radius.stop()


def timed_pap(radius: FreeRadiusServer, user: str) -> tuple[str | None, float]:
    started = time.monotonic()
    reply = radclient(radius.auth_port, "auth", SECRET, [
        ("User-Name", user), ("User-Password", PASSWORD), ("NAS-IP-Address", "127.0.0.1"),
        ("Framed-Protocol", "PPP"), ("Message-Authenticator", "0x00")],
        raddb=radius.directory, timeout=15.0, retries=1)
    return reply.code, time.monotonic() - started


def wait_for_logins(radius: FreeRadiusServer, user: str) -> None:
    deadline = time.monotonic() + RECOVERY_DEADLINE
    while (code := timed_pap(radius, user)[0]) != "Access-Accept":
        assert code == "Access-Reject"
        assert time.monotonic() < deadline, "logins did not come back"
        time.sleep(0.2)


def reasons(conninfo: str, user: str) -> list[str]:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        return [r for (r,) in conn.execute(
            "SELECT reason FROM auth_log WHERE username = %s ORDER BY id", (user,))]


def test_database_stopped_then_back(private_pg, setup):
    radius, user = setup
    assert timed_pap(radius, user)[0] == "Access-Accept"  # the pool is connected

    private_pg.stop()
    answers = [timed_pap(radius, user) for _ in range(5)]
    assert [code for code, _ in answers] == ["Access-Reject"] * 5
    slowest = max(seconds for _, seconds in answers)
    assert slowest < 1.0, answers  # radclient's own start-up included
    print(f"database stopped: slowest of {len(answers)} rejects {slowest * 1000:.0f} ms")
    assert radius.running()

    private_pg.start()
    wait_for_logins(radius, user)
    # Written while the database was up: the first accept and the one after it came
    # back (the rejects in between could not reach the database).
    logged = reasons(private_pg.conninfo("ebs"), user)
    assert logged[0] == "ok" and logged[-1] == "ok"
    log = radius.log.read_text()
    assert "Traceback" not in log
    assert "rlm_ebs: database unavailable" in log and "(reason db_unavailable)" in log
    assert "rlm_ebs: database available again" in log


def test_database_frozen_then_back(private_pg, setup):
    """A database that accepts but never answers: the first requests wait out
    query_timeout and connect_timeout (mods-enabled/sql) on each pooled connection until
    the pool gives up on the database, then rejects come at once; nothing waits forever."""
    radius, user = setup
    assert timed_pap(radius, user)[0] == "Access-Accept"
    frozen = private_pg.freeze()
    try:
        answers = [timed_pap(radius, user) for _ in range(8)]
    finally:
        private_pg.thaw(frozen)
    print(f"database frozen: {[(code, round(s, 2)) for code, s in answers]}")
    # Bounded, never stuck: every request is answered (libpq's connect_timeout has a
    # floor of 2 s, so the first requests take a few seconds each).
    assert [code for code, _ in answers] == ["Access-Reject"] * len(answers), answers
    assert [code for code, _ in answers[-3:]] == ["Access-Reject"] * 3, answers
    # Once the pool has given up, an answer costs no wait on the database: well under
    # query_timeout + connect_timeout (the stopped-database test holds the 1 s promise).
    assert max(s for _, s in answers[-3:]) < 2.0, answers
    wait_for_logins(radius, user)
    assert "Traceback" not in radius.log.read_text()
