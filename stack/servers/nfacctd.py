"""A private nfacctd (pmacct): NetFlow/IPFIX in on 127.0.0.1, raw rows out to PostgreSQL.

The configuration is rendered from ``flow/nfacctd.conf.tmpl``. pmacct 1.7.7's quirks
shape start and stop (measured here, see STACK-FACTS.md):

* the core drops flows for a plugin that has not yet entered its main loop, which is a
  little after the plugin logs its cache size; start() waits until the plugin sleeps in
  poll() on its pipe (with a 1 s grace where /proc does not tell);
* a daemonised core that has not received a datagram yet leaves SIGINT pending, so
  stop() pokes the port with an empty NetFlow v5 packet until the core acts;
* the core waits 2 s, then signals the plugins, which purge their caches to PostgreSQL
  after the core has gone: stop() waits until the daemon's whole session has exited.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import struct
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from stack.servers.base import ServerError, log_tail, wait_until
from stack.servers.procs import exited, session_members, wchan
from stack.servers.templates import render, write_private

CONF_TEMPLATE = Path(__file__).resolve().parents[2] / "flow" / "nfacctd.conf.tmpl"
CORE_READY = "waiting for NetFlow/IPFIX data on"
PLUGIN_READY = "cache entries="
PLUGIN_GRACE = 1.0  # seconds after PLUGIN_READY when poll() cannot be observed
# A NetFlow v5 header announcing zero records: wakes the core, adds nothing.
_EMPTY_V5 = struct.pack("!HHIIIIBBH", 5, 0, 0, 0, 0, 0, 0, 0, 0)


def binary() -> str:
    found = shutil.which("nfacctd")
    if not found:
        raise ServerError("nfacctd not found (apt install pmacct)")
    return found


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


@dataclass
class NfacctdServer:
    directory: Path
    port: int
    db_host: str
    db_port: int
    db_name: str
    db_user: str
    db_password: str = ""
    table: str = "flow_raw"
    refresh_seconds: int = 60  # the purge interval and the time bin; whole minutes only
    listen_ip: str = "127.0.0.1"
    name: str = "raw"  # the plugin's name in logs and pid files
    socket_buffer: int = 64 * 1024 * 1024
    plugin_pipe_size: int = 64 * 1024 * 1024
    plugin_buffer_size: int = 0  # 0: unbuffered (see _values)
    cache_entries: int = 65537  # a prime, per pmacct's advice
    template: Path = CONF_TEMPLATE
    _log_offset: int = field(default=0, init=False, repr=False)

    @property
    def conf(self) -> Path:
        return self.directory / "nfacctd.conf"

    @property
    def pidfile(self) -> Path:
        return self.directory / "nfacctd.pid"

    @property
    def log(self) -> Path:
        return self.directory / "nfacctd.log"

    def _values(self) -> dict[str, object]:
        if self.refresh_seconds <= 0 or self.refresh_seconds % 60:
            raise ServerError(
                f"nfacctd refresh_seconds={self.refresh_seconds}: sql_history takes whole "
                "minutes and must equal the refresh time"
            )
        password = (
            f"sql_passwd[{self.name}]: {self.db_password}"
            if self.db_password
            else "! no sql_passwd: the server trusts this user"
        )
        # A partly filled core-to-plugin buffer is neither flushed on a timer nor at exit:
        # what sits in it at SIGINT is lost. Unbuffered, every flow reaches the plugin.
        buffer = (
            f"plugin_buffer_size[{self.name}]: {self.plugin_buffer_size}"
            if self.plugin_buffer_size
            else "! plugin_buffer_size unset: a partly filled buffer is lost at stop"
        )
        return {
            "pidfile": self.pidfile,
            "logfile": self.log,
            "listen_ip": self.listen_ip,
            "port": self.port,
            "socket_buffer": self.socket_buffer,
            "name": self.name,
            "plugin_pipe_size": self.plugin_pipe_size,
            "plugin_buffer_line": buffer,
            "db_host": self.db_host,
            "db_port": self.db_port,
            "db_name": self.db_name,
            "db_user": self.db_user,
            "db_password_line": password,
            "table": self.table,
            "refresh_seconds": self.refresh_seconds,
            "history": f"{self.refresh_seconds // 60}m",
            "cache_entries": self.cache_entries,
        }

    def render(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        text = render(self.template.read_text(encoding="utf-8"), self._values(),
                      source=str(self.template))
        write_private(self.conf, text, 0o600)  # may hold the database password

    def check_database(self) -> None:
        """nfacctd only connects at its first purge, and then loses the rows if it cannot
        write: find out now whether the database and table are there."""
        try:
            with psycopg.connect(
                host=self.db_host, port=self.db_port, dbname=self.db_name, user=self.db_user,
                password=self.db_password or None, connect_timeout=5,
            ) as conn:
                found = conn.execute("SELECT to_regclass(%s)", (self.table,)).fetchone()
        except psycopg.OperationalError as exc:
            raise ServerError(f"nfacctd's database is not reachable: {exc}") from None
        if not found or found[0] is None:
            raise ServerError(f"nfacctd's table {self.table} does not exist in {self.db_name}")

    def core_pid(self) -> int | None:
        pid = _read_pid(self.pidfile)
        return None if pid is None or exited(pid) else pid

    def plugin_pids(self) -> list[int]:
        """Plugins write ``<pidfile>-<type>-<name>``; only the living ones count."""
        pids = (_read_pid(p) for p in self.directory.glob(self.pidfile.name + "-*"))
        return [pid for pid in pids if pid is not None and not exited(pid)]

    def running(self) -> bool:
        return self.core_pid() is not None

    def _log_since(self, offset: int) -> str:
        if not self.log.exists():
            return ""
        with self.log.open("rb") as fh:
            fh.seek(offset)
            return fh.read().decode(errors="replace")

    def start(self) -> None:
        if self.running():
            return
        self.render()
        self.check_database()
        for stale in self.directory.glob(self.pidfile.name + "*"):
            stale.unlink()
        self._log_offset = self.log.stat().st_size if self.log.exists() else 0
        # pmacct writes time bins as local wall-clock strings and PostgreSQL reads them in
        # the session's zone: pin both to UTC, whatever the host or the server says.
        env = {**os.environ, "TZ": "UTC", "PGTZ": "UTC"}
        result = subprocess.run(
            [binary(), "-f", str(self.conf)], capture_output=True, text=True, env=env,
            check=False,
        )
        if result.returncode != 0:
            raise ServerError(
                f"nfacctd exited {result.returncode}: {result.stdout}{result.stderr}"
                f"{log_tail(self.log)}"
            )

        seen: list[float] = []

        def ready() -> bool:
            text = self._log_since(self._log_offset)
            if " ERROR " in text or "CRIT" in text:
                raise ServerError(f"nfacctd failed to start{log_tail(self.log)}")
            plugins = self.plugin_pids()
            if CORE_READY not in text or PLUGIN_READY not in text or not plugins:
                return False
            seen.append(time.monotonic())
            if all("poll" in wchan(pid) for pid in plugins):
                return True
            return seen[-1] - seen[0] >= PLUGIN_GRACE

        wait_until(ready, 20, f"nfacctd on port {self.port}", self.log)

    def errors(self) -> list[str]:
        """ERROR lines logged since start(): a failed write shows up here, nowhere else."""
        text = self._log_since(self._log_offset)
        return [line for line in text.splitlines() if " ERROR " in line or "CRIT" in line]

    def stop(self, timeout: float = 30.0) -> None:
        """SIGINT: the plugins purge their caches to PostgreSQL; wait until they have."""
        session = _read_pid(self.pidfile)  # the core called setsid(): its pid names it
        if session is None or not session_members(session):
            return
        deadline = time.monotonic() + timeout
        if session in session_members(session):  # the core itself, not a reused pid
            with contextlib.suppress(ProcessLookupError):
                os.kill(session, signal.SIGINT)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                while not exited(session) and time.monotonic() < deadline:
                    sock.sendto(_EMPTY_V5, (self.listen_ip, self.port))
                    time.sleep(0.1)
        while session_members(session) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = session_members(session)
        if left:
            raise ServerError(
                f"nfacctd did not finish its last write in {timeout:.0f}s "
                f"(still running: {left}){log_tail(self.log)}"
            )
