"""What every private server shares: a directory, free ports, waiting, stopping."""

from __future__ import annotations

import contextlib
import random
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from stack.servers import procs


class ServerError(RuntimeError):
    """A server did not start or stop; the message carries the tail of its log."""


def _bindable(port: int, kind: int) -> bool:
    with socket.socket(socket.AF_INET, kind) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(udp: bool = False, tcp: bool = True) -> int:
    """A port on 127.0.0.1 free for the asked protocols right now.

    Picked at random from a range the kernel does not hand out for outgoing connections,
    so two harnesses on one machine rarely race for the same number; a server that still
    loses the race fails to start and is retried on another port by its caller.
    """
    rng = random.SystemRandom()
    for _ in range(200):
        port = rng.randint(20000, 32000)
        if tcp and not _bindable(port, socket.SOCK_STREAM):
            continue
        if udp and not _bindable(port, socket.SOCK_DGRAM):
            continue
        return port
    raise ServerError("no free port found on 127.0.0.1")


def wait_until(
    check: Callable[[], bool], timeout: float, what: str, log: Path | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise ServerError(f"{what} not ready after {timeout:.0f}s{log_tail(log)}")


def log_tail(log: Path | None, lines: int = 20) -> str:
    if log is None or not log.exists():
        return ""
    text = log.read_text(errors="replace").splitlines()[-lines:]
    return "\n--- " + str(log) + " ---\n" + "\n".join(text)


def tcp_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def read_pid(pidfile: Path) -> int | None:
    try:
        pid = int(pidfile.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if pid_alive(pid) else None


def pid_alive(pid: int) -> bool:
    """True while the process runs; a zombie awaiting its reaper counts as gone."""
    return not procs.exited(pid)


def stop_pid(pid: int, sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
    """Signal a process and wait for it to go; SIGKILL if it will not."""
    procs.terminate(pid, sig, timeout)


def run(cmd: list[str], log: Path | None = None, env: dict[str, str] | None = None) -> None:
    """Run a set-up command; on failure raise with its output."""
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if log is not None:
        with log.open("a") as fh:
            fh.write(result.stdout + result.stderr)
    if result.returncode != 0:
        raise ServerError(
            f"{' '.join(cmd)} exited {result.returncode}:\n{result.stdout}{result.stderr}"
        )


T = TypeVar("T")


def start_with_retry(make: Callable[[], T], attempts: int = 5) -> T:
    """Build a server on fresh free ports and start it; another process may have taken
    the ports between our probe and the server's bind, so try again on new ones."""
    last: Exception | None = None
    for _ in range(attempts):
        server = make()
        try:
            server.start()  # type: ignore[attr-defined]
        except ServerError as exc:
            last = exc
            with contextlib.suppress(ServerError):
                server.stop()  # type: ignore[attr-defined]
            continue
        return server
    raise ServerError(f"could not start after {attempts} attempts: {last}")
