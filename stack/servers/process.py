"""A long-running child process with a pid file and a log, for servers without a daemon
mode of their own (the Celery worker and beat, the web app)."""

from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from stack.servers.base import ServerError, log_tail, read_pid, stop_pid


@dataclass
class ManagedProcess:
    name: str
    argv: list[str]
    run_dir: Path
    log_dir: Path
    cwd: Path | None = None
    env: dict[str, str] = field(default_factory=dict)
    stop_signal: int = signal.SIGTERM

    @property
    def pidfile(self) -> Path:
        return self.run_dir / f"{self.name}.pid"

    @property
    def log(self) -> Path:
        return self.log_dir / f"{self.name}.log"

    def pid(self) -> int | None:
        return read_pid(self.pidfile)

    def running(self) -> bool:
        return self.pid() is not None

    def start(self) -> None:
        if self.running():
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            proc = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                env={**os.environ, **self.env},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C in the terminal reaches `ebs up`, not us
            )
        self.pidfile.write_text(f"{proc.pid}\n")
        try:
            proc.wait(timeout=0.5)  # a bad argument or import error shows up at once
        except subprocess.TimeoutExpired:
            return
        else:
            self.pidfile.unlink(missing_ok=True)
            raise ServerError(f"{self.name} exited at once ({proc.returncode}){log_tail(self.log)}")

    def stop(self, timeout: float = 30.0) -> None:
        pid = self.pid()
        if pid is not None:
            stop_pid(pid, self.stop_signal, timeout)
        self.pidfile.unlink(missing_ok=True)
