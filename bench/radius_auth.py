"""``ebs bench radius-auth``: PAP Access-Requests per second through our authorize vs
what an operator would otherwise run on the same box: stock rlm_sql authorize (the shipped
query shapes over radcheck / groups) + radpostauth + rlm_sqlippool leasing from a pool of
the same size (bench/stock_sql_auth.py). Also printed: the ratio to FreeRADIUS's plain
``files`` module holding the same users (``vs_files``), the ceiling any database-backed
authorize is measured against, and our p99 latency.

Ours is the whole production path with the product's defaults (RADIUS_AUTH_MODE "spool",
FreeRADIUS threads fitted to the cores): rlm_sql runs ebs_radius_check() for the facts,
the python3 hook decides (balance, tariff, window, speed, pool), replies and gives an
address the node holds (ebs_radius_reserve, one statement per 32 logins), ``pap`` checks
the password against the NT-Password, post-auth writes the answer to the auth spool; the
follower (``ebs acct drain --follow``, its own process here, its CPU counted as "drain")
writes the auth log and the offered leases in batches while the load runs. Each run
waits for the follower, and the auth log and the leases are counted at the end. Stock
runs with the thread count bench/stock_sql_auth.py always had (32); ``stock_at_ours_threads``
repeats it once with ours's, to show what the thread count alone gives it.
All servers are private, on a private durable PostgreSQL, driven by the same pre-built
UDP sender with 64 requests in flight; runs alternate, the figures are medians.

Then the degraded mode: our server with PostgreSQL stopped, then frozen, logging in the
subscribers the runs logged in (remembered): answers per second and the slowest answer.
"""

from __future__ import annotations

import ipaddress
import json
import multiprocessing
import os
import tempfile
import threading
import time
from pathlib import Path

import psycopg

from bench import stock_sql_auth
from bench.radius_common import (
    DB,
    NAS_IP,
    SECRET,
    WINDOW,
    baseline_site,
    baseline_templates,
    connect,
    median_of,
    radius_server,
    say,
    seed_nas,
    start_postgres,
)
from bench.udp_sender import ACCESS_ACCEPT, access_request, attribute, run_load
from billing.credentials import nt_password_hash
from stack import acct_follow, auth_spool, db_watch
from stack.servers.freeradius import threads_for_cores

PASSWORD = "bench-Pass-1"
NAS_PORT, NAS_IP_ADDRESS, USER_NAME, FRAMED_PROTOCOL = 5, 4, 1, 7
PPP = 1

FILES_SITE = baseline_site(
    "The baseline: FreeRADIUS's plain files module with the same users and passwords.",
    """\
	authorize {
		files
		pap
	}
	authenticate {
		Auth-Type PAP {
			pap
		}
	}
	accounting {
		ok
	}
""")

FILES_MODULE = """\
files {
	filename = ${modconfdir}/files/authorize
	acctusersfile = ${modconfdir}/files/accounting
}
"""


def login(number: int) -> str:
    return f"b{number:07d}"


def pool_end(accounts: int) -> str:
    """Both sides lease from a pool of twice the subscribers, from 10.64.0.1."""
    return str(ipaddress.ip_address("10.64.0.1") + 2 * accounts - 1)


def seed(conn: psycopg.Connection, accounts: int) -> None:
    """N paying subscribers on one tariff with a pool and a speed, set-based."""
    seed_nas(conn)
    pool = conn.execute(
        "INSERT INTO ip_pools (name, range_start, range_end)"
        " VALUES ('bench', '10.64.0.1', %s) RETURNING id", (pool_end(accounts),)).fetchone()[0]
    tariff = conn.execute("INSERT INTO tariffs (name, ip_pool_id) VALUES ('bench', %s)"
                          " RETURNING id", (pool,)).fetchone()[0]
    conn.execute("INSERT INTO tariff_speeds (tariff_id, speed) VALUES (%s, '10M/20M')",
                 (tariff,))
    conn.execute(
        "INSERT INTO accounts (contract, login) SELECT 'b' || g, 'b' || lpad(g::text, 7, '0')"
        " FROM generate_series(1, %s) g", (accounts,))
    conn.execute(
        "INSERT INTO ledger_entries (account_id, kind, amount, idempotency_key, effective_at)"
        " SELECT id, 'correction', 500, 'bench-' || id, now() FROM accounts")
    conn.execute(
        "INSERT INTO account_tariffs (account_id, tariff_id, assigned_at)"
        " SELECT id, %s, now() - interval '1 day' FROM accounts", (tariff,))
    conn.execute(
        "INSERT INTO subaccounts (account_id, username, nt_password_hash)"
        " SELECT id, login, %s FROM accounts", (nt_password_hash(PASSWORD),))
    conn.execute("VACUUM ANALYZE")
    stock_sql_auth.seed(conn, "SELECT login FROM accounts", PASSWORD, 2 * accounts)


def users_file(accounts: int) -> str:
    return "".join(f'{login(n)}\tCleartext-Password := "{PASSWORD}"\n'
                   for n in range(1, accounts + 1))


def packet_maker(accounts: int, first: int = 0):
    """Request ``seq`` logs in subscriber ``first + seq`` on NAS port ``first + seq``.

    Each run starts at its own ``first``, so every login of a run is fresh on both
    leasing sides (no address held from an earlier run to renew): the benchmark measures
    a login that leases, not the cheaper renewal of a lease the same user already has.
    """
    secret = SECRET.encode()
    fixed = (attribute(NAS_IP_ADDRESS, bytes(map(int, NAS_IP.split("."))))
             + attribute(FRAMED_PROTOCOL, PPP))

    def make(seq: int, ident: int) -> bytes:
        n = first + seq
        user = attribute(USER_NAME, login(n % accounts + 1))
        return access_request(ident, secret, user + attribute(NAS_PORT, n % 2**32) + fixed,
                              PASSWORD)

    return make


def _follow(conninfo: str, radacct: Path, stop) -> None:
    """The follower as ``ebs acct drain --follow`` runs it, in its own process."""
    acct_follow.follow(lambda: psycopg.connect(conninfo), radacct / "spool", stop=stop,
                       auth_directory=radacct / "auth-spool")


def _wait_followed(radacct: Path, timeout: float = 30.0) -> None:
    """Until the follower has written every answer of the run (files settle 2 s)."""
    deadline = time.monotonic() + timeout
    while auth_spool.has_work(radacct / "auth-spool"):
        if time.monotonic() > deadline:
            raise RuntimeError("the follower did not write the auth spool in time")
        time.sleep(0.2)


def run(accounts: int = 150_000, seconds: float = 10.0, runs: int = 3,
        workdir: Path | None = None) -> dict:
    with tempfile.TemporaryDirectory(prefix="ebs-bench-radius-auth-", dir=workdir) as tmp:
        base = Path(tmp)
        say(f"starting a private PostgreSQL, seeding {accounts} subscribers")
        pg = start_postgres(base / "pg")
        ours = files = stock = None
        try:
            with connect(pg) as conn:
                seed(conn, accounts)
            say("starting FreeRADIUS: ours (rlm_sql + rlm_ebs + pap + lease), files + pap, "
                "stock rlm_sql + rlm_sqlippool")
            threads = threads_for_cores()
            ours = radius_server(base / "ours", pg, auth_mode="spool", threads=threads)
            stop_follower = multiprocessing.Event()
            follower = multiprocessing.Process(
                target=_follow, args=(pg.conninfo(DB), ours.radacct_dir, stop_follower),
                daemon=True)
            follower.start()
            templates = baseline_templates(
                base / "files", FILES_SITE,
                {"mods-enabled/files": FILES_MODULE,
                 "mods-config/files/authorize": users_file(accounts),
                 "mods-config/files/accounting": ""},
                drop=("mods-enabled/ebs",))
            files = radius_server(base / "files" / "conf", None, templates)
            stock = radius_server(base / "stock" / "conf", pg, baseline_templates(
                base / "stock", stock_sql_auth.SITE, stock_sql_auth.templates_files(),
                drop=("mods-enabled/ebs",)))
            results: dict[str, list] = {"ours": [], "files": [], "stock_sql": []}
            per_run = accounts // runs

            profiles: dict[str, list[dict]] = {"ours": [], "stock_sql": [], "files": []}

            def measure(name: str, server, r: int) -> float:
                cpu = CpuMeter(server, pg if name != "files" else None,
                               follower.pid if name == "ours" else None)
                calls = statement_calls(pg) if name == "ours" else None
                # A NAS gives up after about 3 s: slower answers count as lost, not done.
                result = run_load(("127.0.0.1", server.auth_port),
                                  packet_maker(accounts, r * per_run), seconds=seconds,
                                  window=WINDOW, timeout=3.0)
                accepted = result.codes[ACCESS_ACCEPT]
                if name == "ours":  # the follower's work of the run belongs to the run
                    _wait_followed(server.radacct_dir)
                if accepted != result.answered:
                    raise RuntimeError(f"{name}: {accepted} accepts of {result.answered} "
                                       f"answers ({dict(result.codes)})")
                profiles[name].append(cpu.per(accepted) | (
                    {"round_trips_per_accept": round_trips(pg, calls, accepted)}
                    if calls is not None else {}))
                results[name].append(result)
                say(f"  {name}: {result.rate:,.0f} accepts/s over {result.seconds:.1f} s, "
                    f"p99 {result.percentile(0.99) * 1000:.1f} ms, {result.lost} lost")
                return result.rate

            def one_run(r: int) -> float:
                say(f"run {r + 1} of {runs}")
                measure("files", files, r)
                measure("stock_sql", stock, r)
                return measure("ours", ours, r)

            started = time.monotonic()
            ours_rate, _ = median_of(runs, one_run)
            stop_follower.set()
            follower.join(10)
            files_rate = _median(results["files"])
            stock_rate = _median(results["stock_sql"])
            with psycopg.connect(pg.conninfo(DB)) as conn:
                logged = conn.execute("SELECT count(*) FROM auth_log WHERE accepted")\
                    .fetchone()[0]
                leases = conn.execute("SELECT count(*) FROM ip_leases WHERE state <> 'free'")\
                    .fetchone()[0]
                stock_leases = conn.execute(
                    "SELECT count(*) FROM radippool WHERE expiry_time > now()").fetchone()[0]
                seen = min(r.sent for r in results["ours"])
                offered = conn.execute(
                    "SELECT count(*) FROM ip_leases WHERE state = 'offered'").fetchone()[0]
                reserved = conn.execute(
                    "SELECT count(*) FROM ip_leases WHERE state = 'reserved'").fetchone()[0]
            degraded = degraded_runs(pg, ours, accounts, seen, per_run, seconds)
            # The thread count alone, for stock: once, after the measured runs.
            stock.stop()
            stock = radius_server(base / "stock" / "conf", pg, baseline_templates(
                base / "stock-threads", stock_sql_auth.SITE, stock_sql_auth.templates_files(),
                drop=("mods-enabled/ebs",)), threads=threads)
            say(f"stock with ours's {threads} threads, once")
            stock_threads = run_load(("127.0.0.1", stock.auth_port),
                                     packet_maker(accounts, (runs - 1) * per_run + per_run // 2),
                                     seconds=seconds, window=WINDOW, timeout=3.0)
            say(f"  stock_sql at {threads} threads: {stock_threads.rate:,.0f} accepts/s")
        finally:
            for server in (ours, files, stock):
                if server is not None:
                    server.stop()
            pg.stop()
    best = max(results["ours"], key=lambda r: r.rate)
    return {
        "bench": "radius-auth",
        "ours": round(ours_rate),
        "baseline": round(stock_rate),
        "ratio": round(ours_rate / stock_rate, 3),
        "unit": "req/s",
        "better": "higher",
        "baseline_is": "stock rlm_sql authorize (radcheck + groups) + radpostauth + "
                       "rlm_sqlippool, same users, pool of the same size",
        "accounts": accounts,
        "runs": runs,
        "seconds_per_run": seconds,
        "in_flight": WINDOW,
        "ours_runs": [round(r.rate) for r in results["ours"]],
        "stock_sql_runs": [round(r.rate) for r in results["stock_sql"]],
        "files": round(files_rate),
        "vs_files": round(ours_rate / files_rate, 3),
        "files_runs": [round(r.rate) for r in results["files"]],
        "lost": {name: sum(r.lost for r in rs) for name, rs in results.items()},
        # False if a leasing run sent more logins than its share of the subscribers, so
        # some logins of that run renewed a lease instead of taking a new address.
        "fresh_logins": all(r.sent <= per_run
                            for name in ("ours", "stock_sql") for r in results[name]),
        "ours_threads": threads,
        "stock_threads": 32,
        "stock_at_ours_threads": round(stock_threads.rate),
        "leases_held_ours": leases,
        "leases_offered_ours": offered,
        "addresses_reserved_unused": reserved,
        "leases_held_stock_sql": stock_leases,
        "ours_p99_ms": round(best.percentile(0.99) * 1000, 2),
        "ours_p50_ms": round(best.percentile(0.5) * 1000, 2),
        "auth_log_accepts": logged,
        # CPU milliseconds per accept of each part, and ours's statements per accept, in
        # the run of the median (the sender's CPU: this process, which also waits).
        "profile": {name: ps[len(ps) // 2] for name, ps in profiles.items() if ps},
        "degraded": degraded,
        "wall_seconds": round(time.monotonic() - started, 1),
    }


def degraded_runs(pg, ours, accounts: int, seen: int, per_run: int,
                  seconds: float) -> dict:
    """Our server with PostgreSQL stopped, then frozen (SIGSTOP, the database watch
    running as ``ebs up`` runs it): the subscribers each run logged in are remembered, so
    their logins go on in the degraded mode. Answers per second, accepts, lost, and the
    slowest answer of each."""
    figures = {}
    watch = db_watch.DbWatch(str(pg.socket_dir), pg.port,
                             [ours.directory / "run" / "control.sock"], report=say)
    stop = threading.Event()
    watcher = threading.Thread(target=watch.run, args=(stop,), daemon=True)
    watcher.start()

    def measure(name: str) -> None:
        # The runs' subscribers, from the first of each run: all seen, all remembered.
        result = run_load(("127.0.0.1", ours.auth_port), _seen_logins(accounts, per_run, seen),
                          seconds=seconds, window=WINDOW, timeout=3.0)
        figures[name] = {"answers_per_s": round(result.rate), "answered": result.answered,
                         "accepts": result.codes[ACCESS_ACCEPT], "lost": result.lost,
                         "p99_ms": round(result.percentile(0.99) * 1000, 2),
                         "slowest_ms": round(result.percentile(1.0) * 1000, 2)}
        say(f"  degraded, {name}: {result.rate:,.0f} answers/s, "
            f"{result.codes[ACCESS_ACCEPT]:,} accepts, {result.lost} lost, slowest "
            f"{result.percentile(1.0) * 1000:.0f} ms")

    try:
        # Frozen first, while the pool's connections are the ones the runs used: frozen
        # right after a restart, before any request has made them anew, rlm_sql's
        # reconnects (one at a time, each waiting libpq's 2-s floor) hold every thread.
        say("degraded mode: PostgreSQL frozen")
        frozen = pg.freeze()
        try:
            measure("database_frozen")
        finally:
            pg.thaw(frozen)
        say("degraded mode: PostgreSQL stopped")
        pg.stop()
        try:
            measure("database_stopped")
        finally:
            pg.start()
    finally:
        stop.set()
        watcher.join()
    return figures


def _seen_logins(accounts: int, per_run: int, seen: int):
    """Request ``seq`` logs in one of the subscribers a measured run logged in."""
    runs = max(1, accounts // max(per_run, 1))
    make = packet_maker(accounts, 0)

    def seen_one(seq: int, ident: int) -> bytes:
        return make((seq % runs) * per_run + (seq // runs) % seen, ident)

    return seen_one


_TICK = os.sysconf("SC_CLK_TCK")


def _cpu(pid: int) -> float:
    """Seconds of CPU a process has used (user + system), 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


class CpuMeter:
    """CPU used during one measured run by the RADIUS server, PostgreSQL (the cluster's
    processes: rlm_sql's connections are its children) and this sender."""

    def __init__(self, server, pg, drain_pid: int | None = None) -> None:
        self.server, self.pg, self.drain_pid = server, pg, drain_pid
        self.start = self._now()

    def _pids(self) -> dict[str, list[int]]:
        pids = {"freeradius": [self.server.pid()],
                "postgresql": self.pg.processes() if self.pg else []}
        if self.drain_pid:
            pids["drain"] = [self.drain_pid]
        return pids

    def _now(self) -> dict[str, dict[int, float]]:
        now = {part: {pid: _cpu(pid) for pid in pids} for part, pids in self._pids().items()}
        now["sender"] = {0: time.process_time()}
        return now

    def per(self, accepts: int) -> dict:
        end = self._now()
        used = {part: sum(cpu - self.start[part].get(pid, 0.0)
                          for pid, cpu in end[part].items()) for part in end}
        return {f"{part}_cpu_ms_per_accept": round(1000 * cpu / max(accepts, 1), 3)
                for part, cpu in used.items()}


_KINDS = {"ebs_radius_check": "facts", "ebs_radius_lease": "lease",
          "ebs_auth_log_write": "auth_log", "ebs_radius_reserve": "reserve",
          "ebs_auth_log_replay": "auth_log_batch", "ebs_lease_offers_apply": "offers_batch"}


def statement_calls(pg) -> dict[str, int]:
    """Calls so far of each statement kind our server sends (pg_stat_statements)."""
    with psycopg.connect(pg.admin_conninfo(DB), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        rows = conn.execute(
            "SELECT query, calls FROM pg_stat_statements"
            " WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
            "   AND query NOT LIKE '%%pg_stat_statements%%'").fetchall()
    calls: dict[str, int] = {}
    for query, n in rows:
        kind = next((k for marker, k in _KINDS.items() if marker in query), "other")
        calls[kind] = calls.get(kind, 0) + n
    return calls


def round_trips(pg, before: dict[str, int], accepts: int) -> dict[str, float]:
    after = statement_calls(pg)
    return {kind: round((n - before.get(kind, 0)) / max(accepts, 1), 3)
            for kind, n in sorted(after.items()) if n - before.get(kind, 0)}


def _median(results: list) -> float:
    return sorted(r.rate for r in results)[len(results) // 2]


def main() -> None:
    print(json.dumps(run()))


if __name__ == "__main__":
    main()
