"""The database watch beside FreeRADIUS: a health flag that keeps requests off a
PostgreSQL that does not answer.

rlm_sql's timeouts are whole seconds and libpq's connect timeout has a floor of 2 s, so
against a frozen database (a hung host, a dead network path: connections accepted,
never answered) every request would wait seconds before the degraded mode or a reject
could answer it. This watch asks PostgreSQL the first question of its protocol (an
SSLRequest: eight bytes, one byte back, answered by a live server in well under a
millisecond) every :data:`EVERY` seconds with a :data:`TIMEOUT`; after :data:`TURN`
answers missed in a row it tells FreeRADIUS, over its control socket, to treat the sql
module as failed (``set module status sql fail``: no query is even tried), and after as
many answered, to use it again (``alive``). Requests already waiting on the database when
it froze still wait out ``query_timeout`` (1 s): that is the floor FreeRADIUS 3.2 allows.
"""

from __future__ import annotations

import logging
import socket
import struct
import subprocess
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

log = logging.getLogger(__name__)

EVERY = 0.1
TIMEOUT = 0.25
TURN = 2
REASSERT = 2.0
_SSL_REQUEST = struct.pack("!II", 8, 80877103)


def probe(host: str, port: int, timeout: float = TIMEOUT) -> bool:
    """True when PostgreSQL at ``host`` (a name, an address or a socket directory)
    answers its first protocol message within ``timeout``."""
    try:
        if host.startswith("/"):
            conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            target: object = f"{host}/.s.PGSQL.{port}"
        else:
            conn = socket.create_connection((host, port), timeout=timeout)
            target = None
        with conn:
            conn.settimeout(timeout)
            if target is not None:
                conn.connect(target)
            conn.sendall(_SSL_REQUEST)
            return conn.recv(1) in (b"S", b"N")
    except OSError:
        return False


def set_sql(control_socket: Path, alive: bool) -> bool:
    """Tell the FreeRADIUS listening on ``control_socket`` to use rlm_sql or to treat it
    as failed; False (logged) when it could not be told."""
    command = f"set module status sql {'alive' if alive else 'fail'}"
    result = subprocess.run(["radmin", "-f", str(control_socket), "-e", command],
                            capture_output=True, text=True, timeout=5, check=False)
    if result.returncode != 0 or "ERROR" in result.stdout:
        log.error("%s: %r failed: %s", control_socket, command,
                  (result.stdout + result.stderr).strip())
        return False
    return True


class DbWatch:
    """The watch's state: ``up`` while PostgreSQL answers (as far as it knows). While it
    does not, the fail status is told again every :data:`REASSERT` seconds: a FreeRADIUS
    restarted meanwhile (a NAS edit restarts it) starts with rlm_sql alive."""

    def __init__(self, host: str, port: int, sockets: Sequence[Path],
                 report: Callable[[str], None] = log.warning) -> None:
        self.host, self.port, self.sockets, self.report = host, port, list(sockets), report
        self.up = True
        self._streak = 0
        self._since_told = 0.0

    def _tell(self, alive: bool) -> bool:
        self._since_told = 0.0
        return all([set_sql(path, alive) for path in self.sockets])

    def step(self, every: float = EVERY) -> None:
        """One probe; a turn after TURN probes in a row say otherwise."""
        answered = probe(self.host, self.port)
        self._since_told += every
        if answered == self.up:
            self._streak = 0
            if not self.up and self._since_told >= REASSERT:
                self._tell(False)
            return
        self._streak += 1
        if self._streak < TURN:
            return
        self._streak = 0
        self.up = answered
        told = self._tell(answered)
        what = ("answers again: rlm_sql in use" if answered
                else "does not answer: rlm_sql set to fail")
        self.report(f"PostgreSQL at {self.host}:{self.port} {what}"
                    f"{'' if told else ' (not every FreeRADIUS could be told)'}")

    def run(self, stop: threading.Event, every: float = EVERY) -> None:
        while not stop.wait(every):
            self.step(every)
