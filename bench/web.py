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
over its default month. The JSON line's ``ours`` is the worst page's p95 on the seeded database,
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
from billing.staff import ensure_staff
from stack import db_roles
from stack.servers.base import free_port
from stack.servers.postgres import PostgresServer

STAFF = ("bench-admin", "bench-Admin-Secret-1")
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
WARMUP = 3


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def p95(samples: list[float]) -> float:
    """The nearest-rank 95th percentile."""
    ordered = sorted(samples)
    return ordered[max(0, -(-95 * len(ordered) // 100) - 1)]


# --- data ----------------------------------------------------------------------------------

def _seed(conn: psycopg.Connection, accounts: int) -> None:
    from cli.seed import run_seed

    done = 0

    def progress(count: int) -> None:
        nonlocal done
        done += count
        if done % 50_000 < count or done == accounts:
            say(f"seeded {done}/{accounts} accounts")

    result = run_seed(conn, accounts=accounts, history=True, progress=progress)
    say(f"seed: {result.entries} ledger entries, {result.sessions} sessions "
        f"in {result.seconds:.0f} s")


def _one_account(conn: psycopg.Connection) -> None:
    conn.execute(
        "INSERT INTO accounts (contract, login, full_name, phone, street)"
        " VALUES ('100001', 'u100001', 'Иванов Иван', '+79000000001', 'Ленина')")
    conn.execute(
        "INSERT INTO ledger_entries (account_id, kind, amount, idempotency_key, effective_at)"
        " SELECT id, 'payment', 500, 'bench:1', now() FROM accounts")


def _target(conn: psycopg.Connection) -> dict:
    """The account the per-account pages show: one in the middle of the numbering with a
    phone, and its ledger as the seed made it (months of entries)."""
    row = conn.execute(
        """
        SELECT id, contract, login, phone, full_name, street FROM accounts
         WHERE phone <> '' AND id >= (SELECT (min(id) + max(id)) / 2 FROM accounts)
         ORDER BY id LIMIT 1
        """
    ).fetchone()
    entries = conn.execute("SELECT count(*) FROM ledger_entries WHERE account_id = %s",
                           (row[0],)).fetchone()[0]
    return {"id": row[0], "contract": row[1], "login": row[2], "phone": row[3],
            "full_name": row[4], "street": row[5], "entries": entries}


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


# --- the app -------------------------------------------------------------------------------

@contextmanager
def served(conninfo: str, state_dir: Path):
    """The web app on ``conninfo``, with a logged-in Admin's test client."""
    from psycopg.conninfo import conninfo_to_dict

    from webapp.app import create_app
    from webapp.extensions import db as sqla

    settings = _settings(conninfo_to_dict(conninfo), state_dir)
    settings.LANGUAGE_CODE = "en"
    settings.SECRET_KEY = "bench-only-key"
    app = create_app(settings)
    client = app.test_client()
    page = client.get("/login/")
    token = _CSRF.search(page.text).group(1)
    answer = client.post("/login/", data={"username": STAFF[0], "password": STAFF[1],
                                          "csrf_token": token})
    if answer.status_code != 302:
        raise RuntimeError(f"bench login failed: HTTP {answer.status_code}")
    with app.app_context():
        engine = sqla.engine
    try:
        yield client, engine, menu_pages(app)
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
    """Time spent in SQL and statements run, per request (SQLAlchemy engine events), to
    tell the database's share of a page from the rendering's."""

    def __init__(self, engine) -> None:
        self.seconds = 0.0
        self.statements = 0
        self._started = 0.0
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, *args) -> None:
        self._started = time.perf_counter()

    def _after(self, *args) -> None:
        self.seconds += time.perf_counter() - self._started
        self.statements += 1

    def reset(self) -> None:
        self.seconds, self.statements = 0.0, 0


def measure(client, engine, urls: dict[str, str], requests: int, label: str) -> dict:
    """Per page: p95 of the whole request and of its SQL time (ms), statements run.
    Rounds visit every page once."""
    total: dict[str, list[float]] = {name: [] for name in urls}
    sql: dict[str, list[float]] = {name: [] for name in urls}
    statements: dict[str, int] = {}
    clock = SqlClock(engine)
    for round_no in range(WARMUP + requests):
        for name, url in urls.items():
            clock.reset()
            started = time.perf_counter()
            response = client.get(url)
            took = (time.perf_counter() - started) * 1000
            if response.status_code not in (200, 302):  # 302: the one search hit
                raise RuntimeError(f"{label} {name} {url}: HTTP {response.status_code}")
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
    accounts is only migrated, so a new migration is measured on the same data."""
    server.create_database(name)
    with psycopg.connect(server.conninfo(name), autocommit=True) as conn:
        schema.upgrade(conn)
        ensure_staff(conn, *STAFF, "Admin")
        present = conn.execute("SELECT count(*) FROM accounts").fetchone()[0]
        if accounts and present < accounts:
            _seed(conn, accounts - present)
        elif not present:
            _one_account(conn)
        conn.execute("VACUUM ANALYZE")
        return _target(conn)


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
            say(f"target account {big_target['id']}: {big_target['entries']} ledger entries")
            with served(server.conninfo("empty"), base / "state") as (client, engine, menu):
                empty = measure(client, engine,
                                {**menu, **pages(empty_target, 1)},
                                requests, "empty")
            with served(server.conninfo("bench"), base / "state") as (client, engine, menu):
                ours = measure(client, engine,
                               {**menu, **pages(big_target, accounts)},
                               requests, "seeded")
            with psycopg.connect(server.conninfo("bench")) as conn:
                entries, sessions = conn.execute(
                    "SELECT (SELECT count(*) FROM ledger_entries),"
                    " (SELECT count(*) FROM sessions_history)").fetchone()
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
