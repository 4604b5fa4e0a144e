"""A private PostgreSQL cluster: initdb into a directory, listen on 127.0.0.1 and a socket.

Nothing is trusted: the cluster's superuser and the owner log in over the Unix socket by
peer authentication (the service account only), every role over TCP by SCRAM password
(stack/db_roles.py creates the roles and their password files at each start).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from stack import db_roles
from stack.servers.base import ServerError, log_tail, run

PG_ROOT = Path("/usr/lib/postgresql")


def pg_bindir() -> Path:
    """Debian installs server binaries per major version, off PATH; take the newest."""
    versions = sorted(
        (p for p in PG_ROOT.glob("*/bin") if (p / "initdb").exists()),
        key=lambda p: int(p.parent.name),
    )
    if versions:
        return versions[-1]
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    raise ServerError("PostgreSQL server binaries not found (apt install postgresql)")


@dataclass
class PostgresServer:
    datadir: Path
    port: int
    socket_dir: Path
    user: str = "ebs"  # the owner: runs the migrations, owns every object
    durable: bool = True  # tests run with fsync off: a crash there loses nothing of value
    superuser: str = "postgres"
    # Where the roles' password files are kept; None: beside the socket directory
    # (STATE_DIR/secrets for the local stack).
    secrets_dir: Path | None = None
    roles: tuple[str, ...] = tuple(db_roles.COMPONENT_ROLES.values())
    # A hot standby made by stack/replica.py (pg_basebackup -R): never initdb'd here, its
    # roles are the primary's (read-only: nothing to set up), it serves reads while it
    # replays the primary's WAL.
    standby: bool = False

    @property
    def log(self) -> Path:
        return self.datadir.parent / "postgresql.log"

    @property
    def secrets(self) -> Path:
        return self.secrets_dir or self.socket_dir.parent / "secrets"

    def conninfo(self, dbname: str = "postgres") -> str:
        """The owner's connection: the Unix socket, peer authentication."""
        return f"host={self.socket_dir} port={self.port} user={self.user} dbname={dbname}"

    def admin_conninfo(self, dbname: str = "postgres") -> str:
        """The cluster superuser's connection (set-up only: roles, databases, extensions)."""
        return (f"host={self.socket_dir} port={self.port} user={self.superuser} "
                f"dbname={dbname}")

    def tool_conninfo(self, dbname: str) -> tuple[str, dict[str, str]]:
        """The owner's connection for pg_restore and the like, and what to add to their
        environment (nothing: the socket's peer login needs no password)."""
        return self.conninfo(dbname), {}

    def as_superuser(self, work: Callable[[psycopg.Connection], object]) -> None:
        """``work`` on a superuser's connection to the postgres database (a restore's
        renames; stack/installed.py does the same as the cluster's own account)."""
        with psycopg.connect(self.admin_conninfo(), autocommit=True) as conn:
            work(conn)

    def role_conninfo(self, role: str, dbname: str = "postgres") -> str:
        """A component role's connection: TCP and its generated password."""
        from psycopg.conninfo import make_conninfo

        return make_conninfo(host="127.0.0.1", port=self.port, user=role, dbname=dbname,
                             password=self.password(role))

    def password(self, role: str) -> str:
        """``role``'s generated password (empty before the first start)."""
        return db_roles.read_password(db_roles.password_file(self.secrets, role))

    def initialised(self) -> bool:
        return (self.datadir / "PG_VERSION").exists()

    def init(self) -> None:
        if self.initialised():
            return
        if self.standby:
            raise ServerError(f"{self.datadir} holds no standby: make it first "
                              "(ebs db replica setup)")
        self.datadir.parent.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        run(
            [
                str(pg_bindir() / "initdb"), "-D", str(self.datadir), "-U", self.superuser,
                "--auth-local=peer", "--auth-host=scram-sha-256",
                "--encoding=UTF8", "--locale=C.UTF-8", "--no-instructions",
            ],
            log=self.log,
        )

    def write_hba(self) -> None:
        """No ``trust``: the service account reaches the superuser and the owner through
        the socket (peer, mapped by pg_ident.conf), everyone else gives a password."""
        account = pwd.getpwuid(os.geteuid()).pw_name
        (self.datadir / "pg_ident.conf").write_text(
            f"ebs {account} {self.superuser}\nebs {account} {self.user}\n", encoding="utf-8")
        (self.datadir / "pg_hba.conf").write_text(
            f"local all {self.superuser},{self.user} peer map=ebs\n"
            "local all all scram-sha-256\n"
            "host all all 127.0.0.1/32 scram-sha-256\n"
            "host all all ::1/128 scram-sha-256\n"
            # A standby streams as the replication role (stack/replica.py), no one else.
            f"host replication {db_roles.REPLICATION_ROLE} 127.0.0.1/32 scram-sha-256\n",
            encoding="utf-8")

    def setup_roles(self) -> None:
        """The owner and the component roles with their password files (idempotent)."""
        with psycopg.connect(self.admin_conninfo(), autocommit=True) as admin:
            db_roles.ensure_roles(admin, self.user, self.secrets, self.roles)

    def _options(self) -> str:
        opts = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": str(self.socket_dir),
            "max_connections": "200",
            "shared_buffers": "256MB",
            # Bulk loads (seed, charge ticks) would otherwise checkpoint every few seconds.
            "max_wal_size": "4GB",
            "checkpoint_timeout": "15min",
            "timezone": "UTC",
            "log_timezone": "UTC",
            # Round trips per RADIUS request are counted where they land (and asserted).
            "shared_preload_libraries": "pg_stat_statements",
        }
        if not self.durable:
            opts.update(fsync="off", synchronous_commit="off", full_page_writes="off")
        if self.standby:
            opts["hot_standby"] = "on"  # the default, said: reads are what it is for
        return " ".join(f"-c {k}={v}" for k, v in opts.items())

    def running(self) -> bool:
        try:
            with psycopg.connect(self.admin_conninfo(), connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    def _trusting(self) -> bool:
        """A cluster initialised by an earlier version: ``trust``, its owner superuser."""
        hba = self.datadir / "pg_hba.conf"
        return hba.exists() and any(
            line.split()[-1:] == ["trust"]
            for line in hba.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.lstrip().startswith("#"))

    def _adopt(self) -> None:
        """Take an earlier version's cluster over: a superuser of its own (the owner stops
        being one in setup_roles), then no ``trust`` from the next connection on."""
        with psycopg.connect(f"host={self.socket_dir} port={self.port} user={self.user} "
                             "dbname=postgres", autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s",
                                (self.superuser,)).fetchone():
                conn.execute(sql.SQL("CREATE ROLE {} SUPERUSER LOGIN").format(
                    sql.Identifier(self.superuser)))
        self.write_hba()
        run([str(pg_bindir() / "pg_ctl"), "reload", "-D", str(self.datadir)])

    def start(self) -> None:
        self.init()
        if self.running():
            if not self.standby:
                self.setup_roles()
            return
        legacy = self._trusting()
        if not legacy:
            self.write_hba()
        try:
            run(
                [
                    str(pg_bindir() / "pg_ctl"), "start", "-D", str(self.datadir), "-w",
                    "-t", "60", "-l", str(self.log), "-o", self._options(),
                ]
            )
        except ServerError as exc:
            raise ServerError(f"{exc}{log_tail(self.log)}") from None
        if legacy:
            self._adopt()
        if not self.standby:
            self.setup_roles()

    def stop(self) -> None:
        if not (self.datadir / "postmaster.pid").exists():
            return
        run([str(pg_bindir() / "pg_ctl"), "stop", "-D", str(self.datadir), "-m", "fast", "-w"])

    def processes(self) -> list[int]:
        """The postmaster and its children: what freezing the database (SIGSTOP, as a
        hung host would) stops."""
        postmaster = int((self.datadir / "postmaster.pid").read_text().split()[0])
        found = [postmaster]
        for proc in Path("/proc").iterdir():
            try:
                stat = (proc / "stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == postmaster:
                    found.append(int(proc.name))
            except (OSError, ValueError, IndexError):
                continue
        return found

    def freeze(self) -> list[int]:
        """Stop the cluster's processes where they stand (a hung host: connections are
        accepted, nothing answers); the pids for :meth:`thaw`."""
        frozen = self.processes()
        for pid in frozen:
            with contextlib.suppress(ProcessLookupError):  # gone meanwhile
                os.kill(pid, signal.SIGSTOP)
        return frozen

    @staticmethod
    def thaw(frozen: list[int]) -> None:
        for pid in frozen:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)

    def create_database(self, name: str, template: str | None = None) -> None:
        """A database the owner owns; one not cloned from a template gets the extensions
        that need the superuser first, an existing one those it lacks (an extension added
        by a later version, before its migrations run)."""
        with psycopg.connect(self.admin_conninfo(), autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
        if exists:
            template = None
        else:
            self._create_database(name, template)
        if not template:
            with psycopg.connect(self.admin_conninfo(name), autocommit=True) as conn:
                db_roles.prepare_database(conn, self.user)

    def _create_database(self, name: str, template: str | None) -> None:
        with psycopg.connect(self.admin_conninfo(), autocommit=True) as conn:
            query = sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(name), sql.Identifier(self.user))
            if template:
                query += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
            conn.execute(query)

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self.admin_conninfo(), autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(name)
                )
            )
