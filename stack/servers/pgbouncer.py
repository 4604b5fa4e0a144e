"""A private PgBouncer before a PostgreSQL server: its own ini and userlist, 127.0.0.1, a
port of its own, daemonised.

Transaction pooling by default: the many rlm_sql connections of several FreeRADIUS nodes
share a few server connections, each taken for one statement (rlm_sql keeps no session
state, docs/scaling.md). A role whose clients do keep session state across transactions
(the worker's charge tick fills temporary tables in one transaction and reads them in
the next; the accounting drain sets ``synchronous_commit`` once) is listed in
``session_roles``: PgBouncer then gives each of its clients one server connection for
as long as it stays connected, and resets it (``DISCARD ALL``) when it leaves.

PgBouncer logs in to PostgreSQL as each client's own role, with the password its
userlist holds: the roles' generated passwords (stack/db_roles.py), in a file only the
service account reads (mode 0600). The clients give the same password, by SCRAM.
"""

from __future__ import annotations

import secrets
import shutil
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg.conninfo import make_conninfo
from psycopg.rows import dict_row

from stack.servers.base import ServerError, log_tail, read_pid, run, stop_pid, tcp_open, wait_until
from stack.servers.templates import write_private

ADMIN_USER = "pgbouncer"  # the admin console's login (SHOW POOLS, SHOW STATS)


def binary() -> str:
    found = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    if not Path(found).exists():
        raise ServerError("pgbouncer not found (apt install pgbouncer)")
    return found


def _quoted(value: str) -> str:
    """A userlist field: in double quotes, a double quote doubled."""
    return '"' + value.replace('"', '""') + '"'


@dataclass
class PgBouncerServer:
    directory: Path
    port: int
    server_host: str  # PostgreSQL's socket directory (or address)
    server_port: int
    databases: Sequence[str]  # served under the same names
    users: Mapping[str, str]  # role -> password: who may connect, and how it logs in
    session_roles: Sequence[str] = ()
    pool_size: int = 20  # server connections per database and role
    max_client_conn: int = 2000
    admin_password: str = field(default_factory=lambda: secrets.token_urlsafe(24))

    @property
    def ini(self) -> Path:
        return self.directory / "pgbouncer.ini"

    @property
    def pidfile(self) -> Path:
        return self.directory / "pgbouncer.pid"

    @property
    def log(self) -> Path:
        return self.directory / "pgbouncer.log"

    def _ini(self) -> str:
        for name in (*self.databases, *self.users, *self.session_roles):
            if not name.replace("_", "").isalnum():
                raise ServerError(f"PgBouncer: {name!r} is not a plain database or role name")
        databases = "\n".join(
            f"{name} = host={self.server_host} port={self.server_port} dbname={name}"
            for name in self.databases)
        users = "\n".join(f"{role} = pool_mode=session" for role in self.session_roles)
        return f"""[databases]
{databases}

[users]
{users}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = {self.directory / "userlist.txt"}
admin_users = {ADMIN_USER}
pidfile = {self.pidfile}
logfile = {self.log}
pool_mode = transaction
default_pool_size = {self.pool_size}
max_client_conn = {self.max_client_conn}
log_connections = 0
log_disconnections = 0
"""

    def _userlist(self) -> str:
        entries = {**self.users, ADMIN_USER: self.admin_password}
        return "".join(f"{_quoted(role)} {_quoted(password)}\n"
                       for role, password in entries.items())

    def running(self) -> bool:
        return read_pid(self.pidfile) is not None and tcp_open(self.port)

    def start(self) -> None:
        program = binary()
        if self.running():
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        self.directory.chmod(0o700)
        write_private(self.directory / "userlist.txt", self._userlist(), 0o600)
        write_private(self.ini, self._ini(), 0o600)
        try:
            run([program, "-d", "-q", str(self.ini)])
        except ServerError as exc:
            raise ServerError(f"{exc}{log_tail(self.log)}") from None
        wait_until(self.running, 20, f"pgbouncer on port {self.port}", self.log)

    def stop(self) -> None:
        pid = read_pid(self.pidfile)
        if pid is None:
            return
        stop_pid(pid, signal.SIGTERM)  # immediate shutdown: clients are told and dropped
        if read_pid(self.pidfile) is not None:
            raise ServerError(f"pgbouncer (pid {pid}) did not stop{log_tail(self.log)}")

    def conninfo(self, dbname: str, role: str) -> str:
        """``role``'s connection to ``dbname`` through the pooler."""
        return make_conninfo(host="127.0.0.1", port=self.port, dbname=dbname, user=role,
                             password=self.users[role])

    def show(self, what: str) -> list[dict]:
        """The admin console's ``SHOW <what>`` (POOLS, STATS, SERVERS…); it speaks the
        simple query protocol only, which psycopg's client-side cursor uses."""
        if not what.isalpha():
            raise ServerError(f"SHOW {what!r}: one word")
        with psycopg.connect(
                make_conninfo(host="127.0.0.1", port=self.port, dbname="pgbouncer",
                              user=ADMIN_USER, password=self.admin_password),
                autocommit=True, prepare_threshold=None,
                cursor_factory=psycopg.ClientCursor) as conn, \
                conn.cursor(row_factory=dict_row) as cur:
            cur.execute(f"SHOW {what}")
            return cur.fetchall()
