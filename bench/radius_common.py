"""What the RADIUS benchmarks share: a private durable PostgreSQL, FreeRADIUS servers made
from our templates (ours) or from a copy with one site swapped (the baseline), and the
median-of-runs bookkeeping. Nothing here touches ``ebs up``'s stack."""

from __future__ import annotations

import os
import shutil
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

import psycopg

from billing import schema
from stack import db_roles
from stack.servers.base import ServerError, free_port
from stack.servers.freeradius import CONF_TEMPLATES, FreeRadiusServer
from stack.servers.postgres import PostgresServer

SECRET = "bench-secret-1-for-the-bench"
NAS_IP = "127.0.0.1"
DB = "bench"
WINDOW = 64


def say(message: str) -> None:
    """Progress goes to stderr; the last line of stdout is the JSON figure."""
    print(message, file=sys.stderr, flush=True)


def start_postgres(base: Path) -> PostgresServer:
    """Durable (fsync and synchronous commit on), as a production database runs."""
    for _ in range(5):
        server = PostgresServer(datadir=base / "pgdata", port=free_port(),
                                socket_dir=base / "pgsock", durable=True)
        try:
            server.start()
            break
        except ServerError:
            continue
    else:
        raise ServerError("PostgreSQL for the benchmark did not start")
    server.create_database(DB)
    with psycopg.connect(server.conninfo(DB), autocommit=True) as conn:
        schema.upgrade(conn)
    return server


def connect(pg: PostgresServer) -> psycopg.Connection:
    """An autocommit connection to the benchmark's database."""
    return psycopg.connect(pg.conninfo(DB), autocommit=True)


def seed_nas(conn: psycopg.Connection) -> None:
    """The one NAS every benchmark packet comes from (a MikroTik, 5-minute interims)."""
    conn.execute(
        "INSERT INTO nas (name, vendor, ip_address, secret, acct_interim_interval)"
        " VALUES ('bench', 'mikrotik', %s, %s, 300)", (NAS_IP, SECRET))


def baseline_site(comment: str, sections: str) -> str:
    """A baseline virtual server: ``sections`` (authorize, accounting…) behind the same
    auth and acct listeners as our site, on the ports the server is rendered with."""
    return f"""\
# {comment}
server baseline {{
	listen {{
		type = auth
		ipaddr = {{{{ listen_ip }}}}
		port = {{{{ auth_port }}}}
	}}
	listen {{
		type = acct
		ipaddr = {{{{ listen_ip }}}}
		port = {{{{ acct_port }}}}
	}}
{sections}}}
"""


def baseline_templates(base: Path, site: str, files: dict[str, str],
                       drop: tuple[str, ...] = ()) -> Path:
    """A copy of freeradius_conf with our site replaced by ``site`` (and ``files`` added,
    ``drop`` removed): the same server settings, only the request path differs."""
    target = base / "templates"
    shutil.copytree(CONF_TEMPLATES, target, ignore=shutil.ignore_patterns("__pycache__"))
    (target / "sites-enabled" / "ebs").unlink()
    for rel in drop:
        (target / rel).unlink()
    (target / "sites-enabled" / "baseline").write_text(site, encoding="utf-8")
    for rel, text in files.items():
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        (target / rel).write_text(text, encoding="utf-8")
    return target


def radius_server(directory: Path, db: PostgresServer | None,
                  templates: Path = CONF_TEMPLATES,
                  accounting_mode: str = "live", auth_mode: str = "live",
                  threads: int = 32) -> FreeRadiusServer:
    """Started on fresh ports; room for every request the sender keeps in the server's
    duplicate-detection table during cleanup_delay (tens of thousands per second)."""
    last: Exception | None = None
    for _ in range(5):
        server = FreeRadiusServer(
            directory=directory,
            auth_port=free_port(udp=True, tcp=False),
            acct_port=free_port(udp=True, tcp=False),
            clients=[("bench", NAS_IP, SECRET)],
            reject_delay=0,
            start_servers=threads,
            max_servers=threads,
            max_requests=1 << 20,
            templates=templates,
            db_port=db.port if db else 5432,
            db_name=DB if db else None,
            db_user=db_roles.COMPONENT_ROLES["radius"] if db else "ebs",
            db_password=db.password(db_roles.COMPONENT_ROLES["radius"]) if db else "",
            credentials_key=os.urandom(32).hex(),
            accounting_mode=accounting_mode,
            auth_mode=auth_mode,
        )
        try:
            server.start()
            return server
        except ServerError as exc:
            last = exc
            server.stop()
    raise ServerError(f"FreeRADIUS for the benchmark did not start: {last}")


def median_of(runs: int, measure: Callable[[int], float]) -> tuple[float, list[float]]:
    figures = [measure(r) for r in range(runs)]
    return statistics.median(figures), figures
