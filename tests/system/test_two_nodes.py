"""More than one machine, shown on this one: one PostgreSQL and one Redis; two FreeRADIUS
nodes (each its own rlm_sql pool and ports, as two hosts would run them), two Celery
workers and the beat started twice; the nodes' and the workers' connections go to
PostgreSQL directly, then through PgBouncer (transaction pooling for rlm_sql's role,
session pooling for the worker's, docs/scaling.md).

Logins come through both nodes at once for one pool too small for them all: every
address is leased once, the rest are rejected ``pool_exhausted``. Accounting Starts
through both confirm the leases. Then the same charge tick is delivered four times at
once to the two workers: every account is charged exactly once (its ledger rows counted
by their unique keys), ``billing.ledger.verify`` is empty, each balance is the sum of
its rows. Of the two beats one holds the lock and runs the schedule, the other sends
nothing. The figures are printed (``-s``) and kept as the test's properties."""

from __future__ import annotations

import os
import re
import time
import uuid
from datetime import UTC, datetime

import psycopg
import pytest
import redis
from celery import Celery
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row

from billing import ledger
from billing import settings as settings_mod
from stack import db_roles
from stack.servers.base import free_port, wait_until
from stack.servers.pgbouncer import PgBouncerServer
from tests.conftest import ebs_env
from tests.harness import start_with_retry
from tests.integration.charging_helpers import onetime_service, periodic_service, settlement_period
from tests.system import celery_helpers
from tests.system.test_radius_leases import (
    NAS_IP,
    SECRET,
    burst,
    make_server,
    many_subscribers,
    pool,
    send_all,
    tariff,
)

pytestmark = pytest.mark.slow
ADDRESSES = 1000  # the pool: 10.50.0.1 - 10.50.3.232
SUBSCRIBERS = 1100  # 100 more than the pool holds
QUEUE = "two-nodes"  # the workers take only the test's ticks; the beats' go to "celery"
REDIS_DB = "9"  # apart from the queues other tests read
TICKS = 4  # the same tick, delivered this many times at once
ROLES = {component: db_roles.COMPONENT_ROLES[component] for component in ("radius", "worker")}


@pytest.fixture(params=["direct", "pgbouncer"])
def bouncer(request, pg_server, db, tmp_path):
    """None (everyone connects to PostgreSQL), or a PgBouncer before the test database:
    rlm_sql's role pooled per transaction, the worker's per session (its charge tick
    keeps temporary tables from one transaction to the next)."""
    if request.param == "direct":
        yield None
        return
    server = start_with_retry(lambda: PgBouncerServer(
        directory=tmp_path / "pgbouncer", port=free_port(),
        server_host=str(pg_server.socket_dir), server_port=pg_server.port,
        databases=[conninfo_to_dict(db)["dbname"]],
        users={role: pg_server.password(role) for role in ROLES.values()},
        session_roles=[ROLES["worker"]]))
    yield server
    server.stop()


@pytest.fixture
def people(db, conn):
    """The NAS, a tariff whose pool is too small, a monthly fee charged at the period's
    start and a one-time fee on it; SUBSCRIBERS paying subscribers."""
    with psycopg.connect(db, autocommit=True, row_factory=dict_row) as dbc:
        dbc.execute("INSERT INTO nas (name, vendor, ip_address, secret, acct_interim_interval)"
                    " VALUES ('local', 'mikrotik', %s, %s, 120)", (NAS_IP, SECRET))
        plan = tariff(dbc, pool(dbc, "10.50.0.1", "10.50.3.232"))
        periodic_service(conn, plan, settlement_period(conn), "300.00", "AT_START")
        onetime_service(conn, plan, "50.00")
        return many_subscribers(dbc, plan, SUBSCRIBERS)


def _node(tmp_path, name: str, db: str, bouncer: PgBouncerServer | None):
    through = {"db_host": "127.0.0.1", "db_port": bouncer.port} if bouncer else {}
    return start_with_retry(lambda: make_server(tmp_path / name, db, **through))


def _env(db, redis_server, tmp_path, bouncer: PgBouncerServer | None) -> dict[str, str]:
    env = {**os.environ, **ebs_env(db), "EBS_STATE_DIR": str(tmp_path / "state"),
           "PYTHONPATH": str(settings_mod.PROJECT_ROOT),
           **celery_helpers.redis_env(redis_server, REDIS_DB), "EBS_BEAT_LOCK_SECONDS": "3"}
    if bouncer:
        env |= {"EBS_DB_POOLER_HOST": "127.0.0.1", "EBS_DB_POOLER_PORT": str(bouncer.port),
                "EBS_DB_POOLER_COMPONENTS": "worker"}
    return env


def _logins(nodes, users: list[str], tmp_path) -> tuple[str, float]:
    """Every subscriber's Access-Request at once, half through each node; radclient's
    output and the seconds it took."""
    started = time.monotonic()
    runs = [burst(node, users[n::2], tmp_path / f"auth-{n}.txt") for n, node in enumerate(nodes)]
    outputs = [run.communicate(timeout=300) for run in runs]
    seconds = time.monotonic() - started
    assert "No reply" not in "".join(err for _, err in outputs)
    return "".join(out for out, _ in outputs), seconds


def _starts(nodes, leased: list[dict], tmp_path) -> float:
    """An Accounting Start for each leased address, through the node of its login."""
    started = time.monotonic()
    runs = [send_all(node, "acct", [
        {"Acct-Status-Type": "Start", "Acct-Session-Id": f'"tn-{row["username"]}"',
         "User-Name": f'"{row["username"]}"', "NAS-IP-Address": NAS_IP,
         "NAS-Port": str(i), "Framed-IP-Address": row["address"]}
        for i, row in enumerate(leased) if row["node"] == n], tmp_path / f"acct-{n}.txt")
        for n, node in enumerate(nodes)]
    outputs = [run.communicate(timeout=300) for run in runs]
    seconds = time.monotonic() - started
    answered = "".join(out for out, _ in outputs).count("Received Accounting-Response")
    assert answered == len(leased), "".join(err for _, err in outputs)[-2000:]
    return seconds


def _ticks(redis_server) -> tuple[list[dict], float]:
    """The same charge tick (one moment) sent TICKS times at once to the workers."""
    url = redis_server.url.rsplit("/", 1)[0] + f"/{REDIS_DB}"
    client = Celery("two-nodes-test", broker=url, backend=url, set_as_current=False)
    client.conf.update(task_serializer="json", accept_content=["json"],
                       result_serializer="json")
    at = datetime.now(UTC).isoformat()
    started = time.monotonic()
    results = [client.send_task("ebs.charge_tick", kwargs={"at": at}, queue=QUEUE)
               for _ in range(TICKS)]
    done = [result.get(timeout=300) for result in results]
    return done, time.monotonic() - started


def _charged(conn, users: list[str]) -> dict:
    """The subscribers' charges as their unique keys count them."""
    return conn.cursor(row_factory=dict_row).execute(
        "SELECT count(*) AS rows, count(DISTINCT e.idempotency_key) AS keys,"
        " count(DISTINCT e.account_id) AS accounts,"
        " count(*) FILTER (WHERE e.idempotency_key LIKE 'periodic:%%') AS periodic,"
        " count(*) FILTER (WHERE e.idempotency_key LIKE 'onetime:%%') AS onetime,"
        " -sum(e.amount) AS amount"
        " FROM ledger_entries e JOIN accounts a ON a.id = e.account_id"
        " WHERE a.login = ANY(%s) AND e.kind LIKE 'charge%%'", (users,)).fetchone()


def _radius_backends(conn) -> int:
    """PostgreSQL's connections of rlm_sql's role to this database (the server's side)."""
    return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = %s"
                        " AND datname = current_database()", (ROLES["radius"],)).fetchone()[0]


def test_two_nodes_two_workers_one_database(db, conn, people, bouncer, redis_server, tmp_path,
                                            record_property):
    began = time.monotonic()
    users = people
    route = "pgbouncer" if bouncer else "direct"
    client = redis.Redis(host="127.0.0.1", port=redis_server.port, db=int(REDIS_DB),
                         password=redis_server.password)
    client.flushdb()
    env = _env(db, redis_server, tmp_path, bouncer)
    nodes, processes = [], []
    try:
        nodes = [_node(tmp_path, name, db, bouncer) for name in ("node-a", "node-b")]
        processes += [celery_helpers.worker(f"worker-{n}-{uuid.uuid4().hex[:6]}", env, tmp_path,
                                            queues=QUEUE) for n in (1, 2)]
        beats = [celery_helpers.beat(f"beat-{n}-{uuid.uuid4().hex[:6]}", env, tmp_path)
                 for n in (1, 2)]
        processes += beats
        # Everything up before the logins: the figures are the nodes', not Celery's start.
        wait_until(lambda: all(" ready." in celery_helpers.log_text(p)
                               for p in processes[:2]), 60.0, "the workers")
        wait_until(lambda: any("Acquired lock" in celery_helpers.log_text(b) for b in beats),
                   60.0, "a beat's lock")

        output, login_s = _logins(nodes, users, tmp_path)
        radius_backends = _radius_backends(conn)
        leased_addresses = re.findall(r"^\s+Framed-IP-Address = (\S+)$", output, re.MULTILINE)
        assert output.count("Received Access-Accept") == len(leased_addresses) == ADDRESSES
        assert output.count("Received Access-Reject") == SUBSCRIBERS - ADDRESSES
        assert len(set(leased_addresses)) == ADDRESSES  # none leased twice
        reasons = dict(conn.execute(
            "SELECT reason, count(*) FROM auth_log WHERE username = ANY(%s) GROUP BY reason",
            (users,)).fetchall())
        assert reasons == {"ok": ADDRESSES, "pool_exhausted": SUBSCRIBERS - ADDRESSES}

        with conn.cursor(row_factory=dict_row) as cur:
            leased = cur.execute(
                "SELECT s.username, host(l.address) AS address FROM ip_leases l"
                " JOIN subaccounts s ON s.id = l.subaccount_id"
                " WHERE s.username = ANY(%s) AND l.state = 'offered'", (users,)).fetchall()
        index = {user: n for n, user in enumerate(users)}
        for row in leased:
            row["node"] = index[row["username"]] % 2  # the node it logged in through
        assert sorted(r["address"] for r in leased) == sorted(leased_addresses)
        acct_s = _starts(nodes, leased, tmp_path)
        active = conn.execute(
            "SELECT count(*), count(DISTINCT l.address), count(o.acct_unique_id)"
            " FROM ip_leases l JOIN subaccounts s ON s.id = l.subaccount_id"
            " LEFT JOIN sessions_open o ON o.acct_unique_id = l.session_key"
            " WHERE s.username = ANY(%s) AND l.state = 'active'", (users,)).fetchone()
        assert active == (ADDRESSES, ADDRESSES, ADDRESSES)

        done, tick_s = _ticks(redis_server)
        wait_until(lambda: celery_helpers.sent(beats[0]) or celery_helpers.sent(beats[1]),
                   30.0, "a beat's first tasks")
    finally:
        # The beat waiting for the lock goes first: stopped, the holder lets the lock go,
        # and a beat still waiting would take it over.
        processes.sort(key=lambda p: "Acquired lock" in celery_helpers.log_text(p))
        for process in processes:
            process.stop()
        for node in nodes:
            node.stop()

    charged = _charged(conn, users)
    assert (charged["rows"], charged["keys"], charged["accounts"]) == (
        2 * SUBSCRIBERS, 2 * SUBSCRIBERS, SUBSCRIBERS)  # every account, each charge once
    assert (charged["periodic"], charged["onetime"]) == (SUBSCRIBERS, SUBSCRIBERS)
    assert sum(d["entries"] for d in done) == 2 * SUBSCRIBERS  # each row written by one tick
    assert ledger.verify(conn) == []  # every balance is the sum of its rows
    runs = conn.execute("SELECT started_at, finished_at FROM charge_runs"
                        " WHERE finished_at IS NOT NULL").fetchall()
    assert len(runs) == TICKS
    overlapping = max(sum(1 for s, f in runs if s <= start < f) for start, _ in runs)

    # One schedule: one beat holds the lock and sent every task queued; the other none.
    holders = [b for b in beats if "beat: Acquired lock" in celery_helpers.log_text(b)]
    assert len(holders) == 1, [celery_helpers.log_text(b)[-500:] for b in beats]
    idle = next(b for b in beats if b is not holders[0])
    assert not celery_helpers.sent(idle)
    assert celery_helpers.queued(client) == celery_helpers.sent(holders[0])

    figures = {
        "route": route,
        "logins": SUBSCRIBERS, "logins_per_s": round(SUBSCRIBERS / login_s),
        "leases": ADDRESSES, "rejected_pool_exhausted": SUBSCRIBERS - ADDRESSES,
        "acct_starts_per_s": round(ADDRESSES / acct_s),
        "radius_server_connections": radius_backends,
        "charges": charged["rows"], "charged_accounts": charged["accounts"],
        "charged_amount": str(charged["amount"]),
        "ticks": TICKS, "tick_entries_per_delivery": [d["entries"] for d in done],
        "ticks_running_at_once": overlapping,
        "ticks_s": round(tick_s, 2), "test_s": round(time.monotonic() - began, 1),
    }
    if bouncer:
        # Through the pooler: rlm_sql's statements went through it, and PostgreSQL saw
        # at most a pool's worth of connections for the nodes' many.
        stats = {row["database"]: row for row in bouncer.show("STATS")}
        figures["pgbouncer_queries"] = stats[conninfo_to_dict(db)["dbname"]]["total_query_count"]
        assert figures["pgbouncer_queries"] >= 2 * SUBSCRIBERS
        assert radius_backends <= bouncer.pool_size
    for name, value in figures.items():
        record_property(name, value)
    print(f"\ntwo nodes ({route}): " + ", ".join(f"{k}={v}" for k, v in figures.items()))
