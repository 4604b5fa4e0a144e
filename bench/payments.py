"""``ebs bench payments``: QIWI terminals' ``pay`` notifications credited per second by the
web app as ``ebs up`` serves it, against the same payments posted through the REST API,
from the same clients to the same server in the same run.

A private durable PostgreSQL (fsync on) holds the accounts; a private Redis holds the web
app's rate limits, as under ``ebs up``; gunicorn serves the app exactly as ``ebs up`` does
(``stack.servers.web.WebServer``: ``--preload``, two sync workers), with a settings file
enabling ``payments.qiwiru`` for 127.0.0.1 in the guide's keys.

Each side sends the same number of payments from the same number of client threads, each
with its own HTTP connection reopened only when the server closes it (gunicorn's sync
workers close after every answer, for both sides alike). A share of the payments is sent
twice: half of those copies right behind their original, so two clients deliver them at
the same moment, the rest anywhere later. What counts is read from the database after
the run, never from the answers: the distinct payments credited, the ledger credits
beyond one per payment (``doubles``, must be 0), the credited sum against the sum sent,
``billing.ledger.verify`` and ``billing.gateway_payments.reconcile`` (both must be
empty).

Order: a warm-up round of each side, then the baseline measured, then ours. Ours thus
runs on the larger ledger (the baseline's entries are in it) and after the baseline has
had the fresh database: any drift of the run favours the baseline, so the ratio errs low.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import secrets
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg

from bench.radius_common import DB, connect, say, start_postgres
from billing import gateway_payments, ledger
from billing import settings as settings_mod
from billing.staff import ensure_staff
from stack import db_roles
from stack.servers.base import free_port, log_tail, start_with_retry
from stack.servers.postgres import PostgresServer
from stack.servers.procs import cpu_seconds
from stack.servers.redis import RedisServer
from stack.servers.web import WebServer

BACKEND = "payments.qiwiru"
QIWI_PATH = "/payments.qiwiru/qiwiru/payment/"
STAFF = ("bench-admin", "bench-Admin-Secret-1")
TIME_ZONE = "Europe/Moscow"
SETTINGS = """\
GETPAID_BACKENDS = ('payments.qiwiru',)
GETPAID_BACKENDS_SETTINGS = {
    'payments.qiwiru': {
        'TYPE': 'frontend',
        'DEFAULT_CURRENCY': 'RUB',
        'TERMINAL_ID': '12345',
        'TERMINAL_PASSWORD': '12345',
        'LIFETIME': 48,
        'ALARM_SMS': 0,
        'ACCEPT_CALL': 0,
        'MIN_SUM': 1,
        'allowed_ip': ('127.0.0.1',),
    },
}
"""


# --- data ----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Payment:
    """One payment as a client sends it: its key (QIWI's txn_id, the API's idempotency
    key), the account and the sum."""

    key: str
    account_id: int
    contract: str
    amount: Decimal


def seed_accounts(conn: psycopg.Connection, accounts: int) -> list[tuple[int, str]]:
    """``accounts`` subscribers with numeric contracts, as terminals type them."""
    conn.execute("INSERT INTO accounts (contract, login)"
                 " SELECT (700000 + g)::text, 'pay' || g FROM generate_series(1, %s) g",
                 (accounts,))
    conn.execute("VACUUM ANALYZE")
    return conn.execute("SELECT id, contract FROM accounts ORDER BY id").fetchall()


def workload(accounts: list[tuple[int, str]], count: int, duplicate_share: float,
             first_key: int, rng: random.Random) -> list[Payment]:
    """``count`` deliveries: distinct payments spread over the accounts in turn, then a
    ``duplicate_share`` of deliveries that repeat one (half of them right behind their
    original, racing it; the rest at a random later place)."""
    copies = int(count * duplicate_share)
    distinct = [Payment(str(first_key + n), *accounts[n % len(accounts)],
                        Decimal(rng.randint(100, 200_000)) / 100)
                for n in range(count - copies)]
    rng.shuffle(distinct)
    repeated = rng.sample(range(len(distinct)), copies)
    behind = set(repeated[: copies // 2])
    out: list[Payment] = []
    for index, payment in enumerate(distinct):
        out.append(payment)
        if index in behind:
            out.append(payment)
    for index in repeated[copies // 2:]:
        out.insert(rng.randint(out.index(distinct[index]) + 1, len(out)), distinct[index])
    return out


# --- the two sides ---------------------------------------------------------------------------

class Side:
    """How one side sends a payment and reads its answer; ``login`` runs once per client
    before the clock starts."""

    name = ""

    def login(self, conn: http.client.HTTPConnection) -> dict[str, str]:
        return {}

    def request(self, payment: Payment, headers: dict[str, str]) -> tuple[str, str, bytes,
                                                                            dict[str, str]]:
        raise NotImplementedError

    def outcome(self, status: int, body: bytes) -> str:
        raise NotImplementedError


class Qiwi(Side):
    """A QIWI terminal's ``pay`` (the OSMP provider protocol, HTTP GET); result 0 is an
    accepted payment, a repeated one included."""

    name = "ours"

    def request(self, payment, headers):
        stamp = datetime.now(ZoneInfo(TIME_ZONE)).strftime("%Y%m%d%H%M%S")
        return ("GET", f"{QIWI_PATH}?command=pay&txn_id={payment.key}&txn_date={stamp}"
                       f"&account={payment.contract}&sum={payment.amount}", b"", {})

    def outcome(self, status, body):
        return "ok" if status == 200 and b"<result>0</result>" in body else f"http {status}"


class RestApi(Side):
    """``POST /api/v1/account/<id>/payment`` with a bearer token from one login per
    client; 201 credited, 409 the key seen before."""

    name = "baseline"

    def login(self, conn):
        body = json.dumps({"username": STAFF[0], "password": STAFF[1], "provider": "db",
                           "refresh": True}).encode()
        status, answer = _exchange(conn, "POST", "/api/v1/security/login", body,
                                   {"Content-Type": "application/json"})
        if status != 200:
            raise RuntimeError(f"API login failed: HTTP {status} {answer[:200]!r}")
        return {"Authorization": f"Bearer {json.loads(answer)['access_token']}"}

    def request(self, payment, headers):
        body = json.dumps({"amount": str(payment.amount),
                           "idempotency_key": f"bench-{payment.key}"}).encode()
        return ("POST", f"/api/v1/account/{payment.account_id}/payment", body,
                {**headers, "Content-Type": "application/json"})

    def outcome(self, status, body):
        return {201: "credited", 409: "repeated"}.get(status, f"http {status}")


# --- the clients ---------------------------------------------------------------------------

def _exchange(conn: http.client.HTTPConnection, method: str, path: str, body: bytes,
              headers: dict[str, str]) -> tuple[int, bytes]:
    """One request on the client's connection; http.client opens it again by itself
    when the server closed it after the last answer."""
    conn.request(method, path, body=body or None, headers=headers)
    response = conn.getresponse()
    return response.status, response.read()


@dataclass
class Round:
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    outcomes: Counter = field(default_factory=Counter)


def drive(port: int, side: Side, payments: list[Payment], clients: int) -> Round:
    """Send ``payments`` in order from ``clients`` threads, each taking the next one when
    its last is answered; the clock runs from the moment all have logged in."""
    result = Round()
    lock = threading.Lock()
    position = iter(payments)
    ready = threading.Barrier(clients + 1)
    failures: list[BaseException] = []

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        try:
            headers = side.login(conn)
        except BaseException as exc:  # the barrier must still be met, or all wait
            failures.append(exc)
            ready.abort()
            return
        ready.wait()
        latencies, outcomes = [], Counter()
        try:
            while True:
                with lock:
                    payment = next(position, None)
                if payment is None:
                    break
                method, path, body, extra = side.request(payment, headers)
                started = time.perf_counter()
                try:
                    status, answer = _exchange(conn, method, path, body, extra)
                except (OSError, http.client.HTTPException) as exc:
                    conn.close()
                    outcomes[f"error {type(exc).__name__}"] += 1
                    continue
                latencies.append(time.perf_counter() - started)
                outcomes[side.outcome(status, answer)] += 1
        finally:
            conn.close()
            with lock:
                result.latencies.extend(latencies)
                result.outcomes.update(outcomes)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    try:
        ready.wait()
    except threading.BrokenBarrierError:
        for thread in threads:
            thread.join()
        raise RuntimeError(f"{side.name}: a client could not log in: {failures[0]}") \
            from failures[0]
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    result.seconds = time.perf_counter() - started
    return result


def percentile(samples: list[float], pct: int) -> float:
    """The nearest-rank percentile."""
    ordered = sorted(samples)
    return ordered[max(0, -(-pct * len(ordered) // 100) - 1)]


# --- what the database says ------------------------------------------------------------------

_OURS_CREDITS = """
    WITH credits AS (
        SELECT split_part(idempotency_key, ':', 3)::bigint AS payment_id,
               count(*) AS entries, sum(amount) AS credited
          FROM ledger_entries
         WHERE kind = 'payment' AND idempotency_key LIKE %(prefix)s
         GROUP BY 1
    )
    SELECT count(*) FILTER (WHERE c.entries >= 1),
           coalesce(sum(c.entries - 1) FILTER (WHERE c.entries > 1), 0)::bigint,
           %(sent)s - count(*) FILTER (WHERE c.entries >= 1),
           coalesce(sum(c.credited), 0)
      FROM gateway_payments p
      LEFT JOIN credits c ON c.payment_id = p.id
     WHERE p.backend = %(backend)s AND p.provider_txn_id = ANY(%(keys)s)
"""

_API_CREDITS = """
    SELECT count(DISTINCT idempotency_key), count(*) - count(DISTINCT idempotency_key),
           %(sent)s - count(DISTINCT idempotency_key), coalesce(sum(amount), 0)
      FROM ledger_entries
     WHERE kind = 'payment' AND idempotency_key = ANY(%(keys)s)
"""


def credits(conn: psycopg.Connection, side: Side, payments: list[Payment],
            staff_id: int) -> dict:
    """Distinct payments credited, ledger credits beyond one per payment (doubles),
    payments sent but not credited (missing), and whether the ledger's credits sum to the
    distinct payments' sum. Ours: the credits under each gateway payment's keys
    (``<backend>:payment:<id>:<change>``); the baseline's: under the API's keys."""
    distinct = {p.key: p for p in payments}
    expected = sum((p.amount for p in distinct.values()), Decimal(0))
    if isinstance(side, Qiwi):
        query, keys = _OURS_CREDITS, list(distinct)
    else:
        query, keys = _API_CREDITS, [f"api:payment:{staff_id}:bench-{key}" for key in distinct]
    credited, doubles, missing, total = conn.execute(query, {
        "prefix": f"{BACKEND}:payment:%", "backend": BACKEND, "keys": keys,
        "sent": len(keys)}).fetchone()
    return {"credited": credited, "doubles": doubles, "missing": missing,
            "sum_matches": total == expected}


# Backends report their counters to pg_stat_database at most once a second while busy
# and within ten seconds once idle (PostgreSQL 15's PGSTAT_IDLE_INTERVAL).
STATS_SETTLE = 11.0
_DB_WORK = """
    SELECT pg_current_wal_insert_lsn()::text, xact_commit, xact_rollback, tup_inserted,
           tup_updated
      FROM pg_stat_database WHERE datname = current_database()
"""


def db_work(conn: psycopg.Connection) -> tuple:
    """The WAL position and the database's transaction and row counters, once every
    backend (the web app's workers) has reported its share."""
    time.sleep(STATS_SETTLE)
    conn.execute("SELECT pg_stat_clear_snapshot()")
    return conn.execute(_DB_WORK).fetchone()


def tree_cpu_seconds(pid: int) -> float:
    """CPU used by a server and its children: the living ones as they stand, the exited
    ones (PostgreSQL backends come and go) as their parent collected them."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(fields[n]) for n in (11, 12, 13, 14))  # utime stime cutime cstime
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return ticks / os.sysconf("SC_CLK_TCK") + sum(
        cpu_seconds(int(child)) or 0.0 for child in children)


def cpu_now(pg: PostgresServer, web: WebServer) -> tuple[float, float, float]:
    """CPU seconds so far of PostgreSQL, the web app (gunicorn's master and workers) and
    this process (the clients)."""
    postmaster = int((pg.datadir / "postmaster.pid").read_text().split()[0])
    return (tree_cpu_seconds(postmaster), tree_cpu_seconds(web.process.pid()),
            time.process_time())


def work_per_request(conn: psycopg.Connection, before: tuple, after: tuple,
                     requests: int) -> dict:
    """What each request cost the database: WAL bytes, commits, rollbacks, rows
    inserted and updated (whatever the app did, the login checks included)."""
    wal = conn.execute("SELECT (%s::pg_lsn - %s::pg_lsn)::bigint",
                       (after[0], before[0])).fetchone()[0]
    names = ("wal_bytes", "commits", "rollbacks", "rows_inserted", "rows_updated")
    deltas = (wal, *(b - a for a, b in zip(before[1:], after[1:], strict=True)))
    return {f"{name}_per_request": round(delta / max(1, requests), 2)
            for name, delta in zip(names, deltas, strict=True)}


# --- the servers ---------------------------------------------------------------------------

def web_env(pg: PostgresServer, redis: RedisServer, base: Path) -> dict[str, str]:
    """What the web app reads under ``ebs up``, pointed at the private servers: its own
    database role, the limiter's Redis, the state directory (its secret key) and the
    settings file enabling QIWI."""
    settings_file = base / "settings_local.py"
    settings_file.write_text(SETTINGS, encoding="utf-8")
    return {
        "EBS_SETTINGS": str(settings_file),
        "EBS_DB_HOST": str(pg.socket_dir), "EBS_DB_PORT": str(pg.port),
        "EBS_DB_NAME": DB, "EBS_DB_USER": pg.user,
        **db_roles.settings_env(pg.secrets),
        "EBS_STATE_DIR": str(base / "state"),
        "EBS_REDIS_HOST": "127.0.0.1", "EBS_REDIS_PORT": str(redis.port),
        "EBS_REDIS_DB": "0", "EBS_REDIS_PASSWORD": redis.password,
        "EBS_TIME_ZONE": TIME_ZONE,
        "PYTHONPATH": str(settings_mod.PROJECT_ROOT),
    }


# --- the run -------------------------------------------------------------------------------

def racing(payments: list[Payment], clients: int) -> int:
    """Repeated deliveries sent within ``clients`` places of their first: in flight at
    the same moment as it."""
    first: dict[str, int] = {}
    close = 0
    for index, payment in enumerate(payments):
        if payment.key in first and index - first[payment.key] < clients:
            close += 1
        first.setdefault(payment.key, index)
    return close


def _measure(pg, web, conn, side, payments, clients, staff_id) -> dict:
    with psycopg.connect(pg.admin_conninfo(DB), autocommit=True) as admin:
        admin.execute("CHECKPOINT")  # the other side's dirty pages are not this side's work
    before = db_work(conn)
    say(f"{side.name}: {len(payments)} requests from {clients} clients")
    cpu_before = cpu_now(pg, web)
    measured = drive(web.port, side, payments, clients)
    cpu = [b - a for a, b in zip(cpu_before, cpu_now(pg, web), strict=True)]
    answered = sum(measured.outcomes.values())
    work = work_per_request(conn, before, db_work(conn), answered)
    figures = credits(conn, side, payments, staff_id)
    out = {
        "per_s": round(figures["credited"] / measured.seconds, 1),
        "answers_per_s": round(answered / measured.seconds, 1),
        "seconds": round(measured.seconds, 2),
        "requests": len(payments),
        "p50_ms": round(percentile(measured.latencies, 50) * 1000, 1),
        "p95_ms": round(percentile(measured.latencies, 95) * 1000, 1),
        **work,
        **{f"{name}_cpu_ms_per_request": round(seconds * 1000 / max(1, answered), 2)
           for name, seconds in zip(("postgres", "web", "clients"), cpu, strict=True)},
        "outcomes": dict(measured.outcomes),
        "racing_duplicates": racing(payments, clients),
        **figures,
    }
    say(f"{side.name}: {out['per_s']} credited/s, p50 {out['p50_ms']} ms, "
        f"p95 {out['p95_ms']} ms, doubles {out['doubles']}, answers {out['outcomes']}")
    return out


def run(payments: int = 20_000, accounts: int = 10_000, clients: int = 16,
        warmup: int = 400, duplicate_share: float = 0.1, seed: int = 1) -> dict:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="ebs-bench-payments-") as tmp:
        base = Path(tmp)
        say("starting PostgreSQL (durable) and Redis")
        pg = start_postgres(base)
        redis = web = None
        try:
            redis = start_with_retry(lambda: RedisServer(
                base / "redis", free_port(), persistent=True,
                password=secrets.token_urlsafe(24)))
            with connect(pg) as conn:
                staff_id = ensure_staff(conn, *STAFF, "Admin")
                say(f"seeding {accounts} accounts")
                owners = seed_accounts(conn, accounts)
            env = web_env(pg, redis, base)
            web = start_with_retry(lambda: WebServer(base / "run", base / "log", free_port(),
                                                     cwd=settings_mod.PROJECT_ROOT, env=env))
            say(f"web app on {web.url} ({web.workers} gunicorn workers)")
            sides = (RestApi(), Qiwi())  # the baseline first: see the module's docstring
            warm = [workload(owners, warmup, duplicate_share, 1_000_000 * (n + 1), rng)
                    for n in range(len(sides))]
            work = [workload(owners, payments, duplicate_share, 10_000_000 * (n + 1), rng)
                    for n in range(len(sides))]
            with connect(pg) as conn:
                for side, deliveries in zip(sides, warm, strict=True):
                    warmed = drive(web.port, side, deliveries, clients)
                    say(f"{side.name}: warm-up answers {dict(warmed.outcomes)}")
                results = {side.name: _measure(pg, web, conn, side, deliveries, clients,
                                               staff_id)
                           for side, deliveries in zip(sides, work, strict=True)}
                mismatches = ledger.verify(conn)
                discrepancies = gateway_payments.reconcile(conn)
        except Exception:
            if web is not None:
                say(f"web app log:{log_tail(web.process.log)}")
            raise
        finally:
            if web is not None:
                web.stop()
            if redis is not None:
                redis.stop()
            pg.stop()
    ours, baseline = results["ours"], results["baseline"]
    result = {
        "bench": "payments",
        "ours": ours["per_s"],
        "baseline": baseline["per_s"],
        "ratio": round(ours["per_s"] / baseline["per_s"], 3),
        "unit": "credited payments/s",
        "better": "higher",
        "doubles": ours["doubles"],
        "baseline_doubles": baseline["doubles"],
        "ledger_verify": len(mismatches),
        "reconcile": len(discrepancies),
        "payments": payments,
        "accounts": accounts,
        "clients": clients,
        "duplicate_share": duplicate_share,
        "warmup": warmup,
        "order": "warm-up baseline, warm-up ours, baseline, ours",
    }
    for name, side in results.items():
        for key, value in side.items():
            if key != "per_s":
                result[f"{name}_{key}"] = value
    return result
