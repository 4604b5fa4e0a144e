"""The web app (admin, cashier) under gunicorn: a master with a few sync workers.

``--preload`` builds the app once in the master, so FAB's permission sync runs once per
start rather than racing in every worker; the app factory disposes of its connections
before the fork.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from stack.servers.base import ServerError, log_tail, tcp_open, wait_until
from stack.servers.process import ManagedProcess


@dataclass
class WebServer:
    run_dir: Path
    log_dir: Path
    port: int
    listen_ip: str = "127.0.0.1"
    workers: int = 2
    cwd: Path | None = None
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.process = ManagedProcess(
            "web",
            [
                sys.executable, "-m", "gunicorn", "--preload",
                "--workers", str(self.workers),
                "--bind", f"{self.listen_ip}:{self.port}",
                "--access-logfile", "-", "--graceful-timeout", "10",
                "webapp.app:create_app()",
            ],
            self.run_dir, self.log_dir, cwd=self.cwd, env=self.env,
        )

    @property
    def url(self) -> str:
        return f"http://{self.listen_ip}:{self.port}/"

    def running(self) -> bool:
        return self.process.running() and tcp_open(self.port, self.listen_ip)

    def start(self, timeout: float = 60.0) -> None:
        if self.running():
            return
        self.process.start()

        def listening() -> bool:
            if not self.process.running():  # the app failed to build: say why at once
                raise ServerError(f"web app exited{log_tail(self.process.log)}")
            return tcp_open(self.port, self.listen_ip)

        try:
            wait_until(listening, timeout, f"web app on port {self.port}", self.process.log)
        except ServerError:
            self.process.stop()
            raise

    def stop(self) -> None:
        self.process.stop()
        if self.process.running():
            raise ServerError(f"web app did not stop{log_tail(self.process.log)}")
