"""A private Redis: its own config, directory and port, daemonised, on 127.0.0.1 only, and
asking every client for its password (any local user can reach a loopback port: without
one, anybody on the host could post Celery tasks)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from stack.servers.base import ServerError, log_tail, read_pid, run, stop_pid, tcp_open, wait_until
from stack.servers.templates import write_private


@dataclass
class RedisServer:
    directory: Path
    port: int
    persistent: bool = True  # the broker's queue survives a restart of the local stack
    password: str = ""  # requirepass; the config file holding it is the owner's only

    @property
    def pidfile(self) -> Path:
        return self.directory / "redis.pid"

    @property
    def log(self) -> Path:
        return self.directory / "redis.log"

    @property
    def url(self) -> str:
        auth = f":{quote(self.password, safe='')}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def _config(self) -> str:
        lines = [
            "bind 127.0.0.1",
            f"port {self.port}",
            "protected-mode yes",
            "daemonize yes",
            f"pidfile {self.pidfile}",
            f"logfile {self.log}",
            f"dir {self.directory}",
            "databases 16",
        ]
        if self.password:
            if any(c.isspace() or c in "\"'" for c in self.password):
                raise ServerError("the Redis password may not hold spaces or quotes")
            lines.append(f"requirepass {self.password}")
        lines += ["appendonly yes", "appendfsync everysec"] if self.persistent else ['save ""']
        return "\n".join(lines) + "\n"

    def running(self) -> bool:
        return read_pid(self.pidfile) is not None and tcp_open(self.port)

    def start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not Path(binary).exists():
            raise ServerError("redis-server not found (apt install redis-server)")
        if self.running():
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        conf = self.directory / "redis.conf"
        write_private(conf, self._config(), 0o600)
        run([binary, str(conf)])
        wait_until(self.running, 20, f"redis on port {self.port}", self.log)

    def stop(self) -> None:
        pid = read_pid(self.pidfile)
        if pid is None:
            return
        stop_pid(pid)
        if read_pid(self.pidfile) is not None:
            raise ServerError(f"redis (pid {pid}) did not stop{log_tail(self.log)}")
