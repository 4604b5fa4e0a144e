"""``ebs bench web``: p95 latency of every page of the admin's menu, the account card,
the searches and the reports at scale, against the same pages on an empty database, both
measured in the same run.

A private PostgreSQL gets two databases: one seeded by ``ebs seed --history`` (every
account with months of ledger entries and closed sessions) and one with the schema and a
single account. The web app is served in-process (Flask's test client: the whole request
path, FAB's security checks and the templates included, without a socket), logged in as
an Admin, and each page is requested ``requests`` times after a warm-up; rounds go through
the pages in turn, so a slow moment of the machine spreads over all of them.

The pages are the menu's own entries (a view added to the menu is measured without
editing this file), the account card and its ledger, the account list's searches (contract
exact and prefix, login, a part of the name and of the address, one phone in three
spellings, the cashier's rule) and the cashier desk's; the reports are in the menu, each
over its default month. The subscriber cabinet's pages (overview, history, sessions,
traffic) are requested by a second client logged in through the cabinet's own login as
the target account, in the same rounds; a cabinet page the app does not have is left out
with a note. The JSON line's ``ours`` is the worst page's p95 on the seeded database,
``baseline`` the worst on the empty one.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import psycopg
from sqlalchemy import event

from billing import schema
from billing import settings as settings_mod
from billing.passwords import hash_password
from billing.staff import ensure_staff
from stack import db_roles
from stack.servers.base import free_port
from stack.servers.postgres import PostgresServer

STAFF = ("bench-admin", "bench-Admin-Secret-1")
CABINET_PASSWORD = "bench-Cabinet-Secret-1"
# Page name → the cabinet's endpoint.
CABINET_PAGES = {
    "cabinet:overview": "cabinet.overview",
    "cabinet:history": "cabinet.history",
    "cabinet:sessions": "cabinet.sessions",
    "cabinet:traffic": "cabinet.traffic",
}
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
WARMUP = 3


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def p95(samples: list[float]) -> float:
    """The nearest-rank 95th percentile."""
    ordered = sorted(samples)
    return ordered[max(0, -(-95 * len(ordered) // 100) - 1)]


# --- data ----------------------------------------------------------------------------------

def _seed(conn: psycopg.Connection, accounts: int):
    from cli.seed import run_seed

    done = 0

    def progress(count: int) -> None:
        nonlocal done
        done += count
        if done % 50_000 < count or done == accounts:
            say(f"seeded {done}/{accounts} accounts")

    result = run_seed(conn, accounts=accounts, history=True, progress=progress)
    say(f"seed: {result.entries} ledger entries, {result.sessions} sessions, "
        f"{result.traffic_rows} traffic statistics rows in {result.seconds:.0f} s")
    return result


def _one_account(conn: psycopg.Connection) -> None:
    conn.execute(
        "INSERT INTO accounts (contract, login, full_name, phone, street)"
        " VALUES ('100001', 'u100001', 'Иванов Иван', '+79000000001', 'Ленина')")
    conn.execute(
        "INSERT INTO ledger_entries (account_id, kind, amount, idempotency_key, effective_at)"
        " SELECT id, 'payment', 500, 'bench:1', now() FROM accounts")


# On a seeded database, a subscriber with a full history: on his tariff since before the
# history's window (every month of ledger entries), several past sessions, and online on
# more days than the median account (above a third of the hours the seed's busiest
# accounts have), so the cabinet's charts and lists are neither empty nor extreme.
_HISTORY = """
    AND EXISTS (SELECT 1 FROM account_tariffs t WHERE t.account_id = a.id
                   AND t.assigned_at < now() - interval '7 months')
    AND (SELECT count(*) FROM sessions_history s WHERE s.account_id = a.id) >= 8
    AND (SELECT count(*) FROM traffic_stats_hourly h WHERE h.account_id = a.id) >= 24
    AND (SELECT count(*) FROM traffic_stats_daily d WHERE d.account_id = a.id) >= 40
"""


def _target(conn: psycopg.Connection, seeded: bool) -> dict:
    """The account the per-account pages and the cabinet show: one in the middle of the
    numbering with a phone and, when ``seeded``, with a full history (``_HISTORY``)."""
    row = conn.execute(
        f"""
        SELECT id, contract, login, phone, full_name, street FROM accounts a
         WHERE phone <> '' AND id >= (SELECT (min(id) + max(id)) / 2 FROM accounts)
               {_HISTORY if seeded else ""}
         ORDER BY id LIMIT 1
        """
    ).fetchone()
    counts = conn.execute(
        """
        SELECT (SELECT count(*) FROM ledger_entries WHERE account_id = %(id)s),
               (SELECT count(*) FROM sessions_history WHERE account_id = %(id)s),
               (SELECT count(*) FROM traffic_stats_hourly WHERE account_id = %(id)s),
               (SELECT count(*) FROM traffic_stats_daily WHERE account_id = %(id)s)
        """, {"id": row[0]}).fetchone()
    conn.execute("UPDATE accounts SET password_hash = %s WHERE id = %s",
                 (hash_password(CABINET_PASSWORD), row[0]))
    return {"id": row[0], "contract": row[1], "login": row[2], "phone": row[3],
            "full_name": row[4], "street": row[5], "entries": counts[0],
            "sessions": counts[1], "traffic_hourly": counts[2], "traffic_daily": counts[3]}


def phone_spellings(phone: str) -> dict[str, str]:
    """The three ways a cashier types one phone: 8 and ten digits, ten digits, +7 with
    spaces and dashes."""
    ten = "".join(ch for ch in phone if ch.isdigit())[-10:]
    return {"8": "8" + ten, "10": ten,
            "plus7": f"+7 {ten[:3]} {ten[3:6]}-{ten[6:8]}-{ten[8:]}"}


def _middle(value: str) -> str:
    """A part from inside ``value`` (not its beginning), as people search by substring."""
    word = max(value.split(), key=len) if value.strip() else value
    return word[1:6] if len(word) > 4 else word


def pages(target: dict, accounts: int) -> dict[str, str]:
    """Page name → URL of the per-account pages and the searches. The deep page sits a
    tenth of the way into the account list. Filter numbers follow ``AccountView``'s
    filters: contract 0 equal, 2 the cashier's rule; login 0 equal; phone 0 same digits;
    full name and street 0 contains."""
    from urllib.parse import quote

    deep = max(1, accounts // 10 // 25)
    out = {
        "account_list_deep": f"/accountview/list/?page_AccountView={deep}",
        "search_contract": f"/accountview/list/?_flt_0_contract={quote(target['contract'])}",
        "search_contract_prefix":
            f"/accountview/list/?_flt_1_contract={quote(target['contract'][:-2])}",
        "search_login": f"/accountview/list/?_flt_0_login={quote(target['login'])}",
        "search_name_part":
            f"/accountview/list/?_flt_0_full_name={quote(_middle(target['full_name']))}",
        "search_address_part":
            f"/accountview/list/?_flt_0_street={quote(_middle(target['street']))}",
        "search_any": f"/accountview/list/?_flt_2_contract={quote(target['contract'])}",
        "account_page": f"/accountview/show/{target['id']}",
        "account_ledger": f"/ledgerview/list/?_flt_0_account_id={target['id']}",
        "cashier_account": f"/cashier/account/{target['id']}",
        "cashier_search_address": f"/cashier/?q={quote(_middle(target['street']))}",
    }
    for spelling, phone in phone_spellings(target["phone"]).items():
        out[f"search_phone_{spelling}"] = f"/accountview/list/?_flt_0_phone={quote(phone)}"
        out[f"cashier_search_phone_{spelling}"] = f"/cashier/?q={quote(phone)}"
    return out


def menu_pages(app) -> dict[str, str]:
    """Every page the menu offers (lists, the desk, the reports' first page), named
    ``menu:<item>``: a view added to the menu is measured without editing this file."""
    found: dict[str, str] = {"dashboard": "/"}
    with app.test_request_context():
        for item in app.appbuilder.menu.get_list():
            for child in item.childs or [item]:
                if child.name == "-" or (not child.href and not child.baseview):
                    continue
                url = child.get_url()
                if url and url.startswith("/") and url not in found.values():
                    found[f"menu:{child.name}"] = url
    return found


def cabinet_pages(app) -> dict[str, str]:
    """The cabinet's pages this app has (``CABINET_PAGES``); one it lacks is named on
    stderr and left out."""
    from flask import url_for

    found: dict[str, str] = {}
    with app.test_request_context():
        for name, endpoint in CABINET_PAGES.items():
            if endpoint in app.view_functions:
                found[name] = url_for(endpoint)
            else:
                say(f"{name}: the app has no {endpoint} yet, not measured")
    return found


# --- the app -------------------------------------------------------------------------------

def _log_in(client, url: str, username: str, password: str, expect: int) -> None:
    """Log ``client`` in through the form at ``url`` (its CSRF token read from the page)."""
    page = client.get(url)
    token = _CSRF.search(page.text).group(1)
    answer = client.post(url, data={"username": username, "password": password,
                                    "csrf_token": token})
    if answer.status_code != expect:
        raise RuntimeError(f"bench login at {url} failed: HTTP {answer.status_code}")


@contextmanager
def served(conninfo: str, state_dir: Path, target: dict):
    """The web app on ``conninfo`` and the pages to measure, each with its client: the
    admin's pages with a logged-in Admin's test client, the cabinet's with a second one
    logged in as ``target``."""
    from psycopg.conninfo import conninfo_to_dict

    from webapp.app import create_app
    from webapp.extensions import db as sqla

    settings = _settings(conninfo_to_dict(conninfo), state_dir)
    settings.LANGUAGE_CODE = "en"
    settings.SECRET_KEY = "bench-only-key"
    app = create_app(settings)
    staff = app.test_client()
    _log_in(staff, "/login/", *STAFF, expect=302)
    targets = {name: (staff, url) for name, url in menu_pages(app).items()}
    cabinet = cabinet_pages(app)
    if cabinet:
        subscriber = app.test_client()
        _log_in(subscriber, "/cabinet/login", target["login"], CABINET_PASSWORD, expect=303)
        targets.update({name: (subscriber, url) for name, url in cabinet.items()})
    with app.app_context():
        engine = sqla.engine
    try:
        yield targets, staff, engine
    finally:
        with app.app_context():
            sqla.session.remove()
            sqla.engine.dispose()


def _settings(params: dict, state_dir: Path):
    environ = {
        "EBS_DB_HOST": params["host"], "EBS_DB_PORT": str(params["port"]),
        "EBS_DB_NAME": params["dbname"], "EBS_DB_USER": params["user"],
        "EBS_STATE_DIR": str(state_dir),
        # The web app's own role, its password beside the cluster's socket directory.
        **db_roles.settings_env(Path(params["host"]).parent / "secrets"),
    }
    return settings_mod.load(environ=environ)


class SqlClock:
    """Time spent in SQL and statements run, per request, to tell the database's share of
    a page from the rendering's. Timed at the psycopg cursor of every connection the
    app's engine hands out, so the statements ``billing`` runs on the ORM session's own
    connection (``raw_connection``: the cabinet's forecast, the account card's services)
    count as well as the ORM's, and so does the pool's pre-ping (a round trip each
    request makes)."""

    def __init__(self, engine) -> None:
        self.seconds = 0.0
        self.statements = 0
        self._timed: dict[type, type] = {}
        event.listen(engine, "checkout", self._instrument)

    def _instrument(self, dbapi_connection, *_args) -> None:
        base = dbapi_connection.cursor_factory
        if base not in self._timed.values():
            if base not in self._timed:
                self._timed[base] = self._timed_cursor(base)
            dbapi_connection.cursor_factory = self._timed[base]

    def _timed_cursor(self, base: type) -> type:
        clock = self

        class Timed(base):
            def execute(self, *args, **kwargs):
                started = time.perf_counter()
                try:
                    return super().execute(*args, **kwargs)
                finally:
                    clock.seconds += time.perf_counter() - started
                    clock.statements += 1

            def executemany(self, *args, **kwargs):
                started = time.perf_counter()
                try:
                    return super().executemany(*args, **kwargs)
                finally:
                    clock.seconds += time.perf_counter() - started
                    clock.statements += 1

        return Timed

    def reset(self) -> None:
        self.seconds, self.statements = 0.0, 0


def measure(engine, urls: dict[str, tuple], requests: int, label: str) -> dict:
    """Per page (name → its client and URL): p95 of the whole request and of its SQL time
    (ms), statements run. Rounds visit every page once."""
    total: dict[str, list[float]] = {name: [] for name in urls}
    sql: dict[str, list[float]] = {name: [] for name in urls}
    statements: dict[str, int] = {}
    clock = SqlClock(engine)
    for round_no in range(WARMUP + requests):
        for name, (client, url) in urls.items():
            clock.reset()
            started = time.perf_counter()
            response = client.get(url)
            took = (time.perf_counter() - started) * 1000
            # 302: the one search hit; never a way back to a login form (a session lost).
            if response.status_code not in (200, 302) or "login" in (response.location or ""):
                raise RuntimeError(f"{label} {name} {url}: HTTP {response.status_code} "
                                   f"{response.location or ''}")
            if round_no >= WARMUP:
                total[name].append(took)
                sql[name].append(clock.seconds * 1000)
                statements[name] = clock.statements
        if (round_no + 1) % 10 == 0:
            say(f"{label}: round {round_no + 1}/{WARMUP + requests}")
    return {name: {"p95": round(p95(total[name]), 1), "sql_p95": round(p95(sql[name]), 1),
                   "statements": statements[name]} for name in urls}


# --- the run -------------------------------------------------------------------------------

def _prepare(server: PostgresServer, name: str, accounts: int) -> dict:
    """Migrate and fill database ``name``; a kept one (``--keep``) already holding the
    accounts is only migrated, so a new migration is measured on the same data. Returns
    the target account (``_target``) and the seed's seconds (None when nothing was
    seeded)."""
    server.create_database(name)
    with psycopg.connect(server.conninfo(name), autocommit=True) as conn:
        schema.upgrade(conn)
        ensure_staff(conn, *STAFF, "Admin")
        present = conn.execute("SELECT count(*) FROM accounts").fetchone()[0]
        seeded = None
        if accounts and present < accounts:
            seeded = _seed(conn, accounts - present)
        elif not present:
            _one_account(conn)
        conn.execute("VACUUM ANALYZE")
        target = _target(conn, seeded=bool(accounts))
        target["seed_seconds"] = round(seeded.seconds, 1) if seeded else None
        return target


@contextmanager
def _base_dir(keep: Path | None):
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep
        return
    with tempfile.TemporaryDirectory(prefix="ebs-bench-web-") as tmp:
        yield Path(tmp)


def run(accounts: int = 500_000, requests: int = 50, keep: Path | None = None) -> dict:
    with _base_dir(keep) as base:
        server = PostgresServer(datadir=base / "pgdata", port=free_port(),
                                socket_dir=base / "sock")
        say(f"starting PostgreSQL on port {server.port}")
        server.start()
        try:
            empty_target = _prepare(server, "empty", 0)
            say(f"seeding {accounts} accounts with history")
            big_target = _prepare(server, "bench", accounts)
            say(f"target account {big_target['id']} ({big_target['login']}): "
                f"{big_target['entries']} ledger entries, {big_target['sessions']} sessions, "
                f"{big_target['traffic_hourly']} hourly and {big_target['traffic_daily']} "
                f"daily traffic rows")
            with served(server.conninfo("empty"), base / "state", empty_target) as (
                    targets, staff, engine):
                targets.update({name: (staff, url)
                                for name, url in pages(empty_target, 1).items()})
                empty = measure(engine, targets, requests, "empty")
            with served(server.conninfo("bench"), base / "state", big_target) as (
                    targets, staff, engine):
                targets.update({name: (staff, url)
                                for name, url in pages(big_target, accounts).items()})
                ours = measure(engine, targets, requests, "seeded")
            with psycopg.connect(server.conninfo("bench")) as conn:
                entries, sessions, hourly, daily = conn.execute(
                    "SELECT (SELECT count(*) FROM ledger_entries),"
                    " (SELECT count(*) FROM sessions_history),"
                    " (SELECT count(*) FROM traffic_stats_hourly),"
                    " (SELECT count(*) FROM traffic_stats_daily)").fetchone()
        finally:
            server.stop()
    worst = max(ours[name]["p95"] for name in ours)
    baseline = max(empty[name]["p95"] for name in ours)
    result = {
        "bench": "web",
        "ours": worst,
        "baseline": baseline,
        "ratio": round(worst / baseline, 2),
        "unit": "ms",
        "better": "lower",
        "accounts": accounts,
        "ledger_entries": entries,
        "sessions": sessions,
        "seed_seconds": big_target["seed_seconds"],
        "traffic_stats_hourly": hourly,
        "traffic_stats_daily": daily,
        "target_account": big_target["id"],
        "target_entries": big_target["entries"],
        "target_sessions": big_target["sessions"],
        "target_traffic_hourly": big_target["traffic_hourly"],
        "target_traffic_daily": big_target["traffic_daily"],
        "requests_per_page": requests,
        "pages": len(ours),
        "worst_page": max(ours, key=lambda name: ours[name]["p95"]),
    }
    for name, page in ours.items():
        result[f"{name}_p95_ms"] = page["p95"]
        result[f"{name}_empty_p95_ms"] = empty[name]["p95"]
        result[f"{name}_sql_p95_ms"] = page["sql_p95"]
        result[f"{name}_statements"] = page["statements"]
    return result


def main(accounts: int = 500_000, requests: int = 50) -> None:
    print(json.dumps(run(accounts, requests)))
