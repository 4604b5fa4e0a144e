"""A private PostgreSQL cluster: initdb into a directory, listen on 127.0.0.1 and a socket."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

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
    user: str = "ebs"
    durable: bool = True  # tests run with fsync off: a crash there loses nothing of value

    @property
    def log(self) -> Path:
        return self.datadir.parent / "postgresql.log"

    def conninfo(self, dbname: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} user={self.user} dbname={dbname}"

    def initialised(self) -> bool:
        return (self.datadir / "PG_VERSION").exists()

    def init(self) -> None:
        if self.initialised():
            return
        self.datadir.parent.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        run(
            [
                str(pg_bindir() / "initdb"), "-D", str(self.datadir), "-U", self.user,
                "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--no-instructions",
            ],
            log=self.log,
        )

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
        return " ".join(f"-c {k}={v}" for k, v in opts.items())

    def running(self) -> bool:
        try:
            with psycopg.connect(self.conninfo(), connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    def start(self) -> None:
        self.init()
        if self.running():
            return
        try:
            run(
                [
                    str(pg_bindir() / "pg_ctl"), "start", "-D", str(self.datadir), "-w",
                    "-t", "60", "-l", str(self.log), "-o", self._options(),
                ]
            )
        except ServerError as exc:
            raise ServerError(f"{exc}{log_tail(self.log)}") from None

    def stop(self) -> None:
        if not (self.datadir / "postmaster.pid").exists():
            return
        run([str(pg_bindir() / "pg_ctl"), "stop", "-D", str(self.datadir), "-m", "fast", "-w"])

    def create_database(self, name: str, template: str | None = None) -> None:
        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            if exists:
                return
            query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
            if template:
                query += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
            conn.execute(query)

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(name)
                )
            )
