"""NAS changes reach a running FreeRADIUS: clients.conf is re-rendered from the ``nas``
table and the server restarted when it runs with other clients.

FreeRADIUS 3.2.1 reads clients.conf only at start (SIGHUP leaves an old secret in use,
STACK-FACTS.md), so a change means a restart. The worker's ``ebs.nas_changed`` and
``ebs up --demo`` (after loading the demo NAS) both come here, so there is one way a
NAS change is applied. It works from the rendered directory alone (the configuration
``ebs up`` wrote, its pid file and log): the rest of the configuration is already
rendered and only clients.conf changes. Where no server was rendered (a worker host
without one) it reports that and does nothing.

It is idempotent: when the server already runs with exactly the clients the table asks
for (:func:`stack.radius_clients.clients_file_current`) nothing is restarted, so a
duplicate delivery or the beat's periodic check costs a query and a file read.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from billing.db import connect
from stack import radius_clients, systemd_requests
from stack.servers.base import ServerError
from stack.servers.freeradius import ConfigError, check_config, restart, running_pid


def _write(path: Path, text: str) -> None:
    """Replace the file atomically, never readable by others (it holds the secrets)."""
    tmp = path.with_name(path.name + ".new")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        if os.geteuid() == 0:  # root syncs for the server's account, which keeps the file
            owner = path.parent.stat()
            os.fchown(fh.fileno(), owner.st_uid, owner.st_gid)
        fh.write(text)
    os.replace(tmp, path)


def sync_clients(conninfo: str, directory: Path,
                 restarter: Callable[[Path], int] = restart) -> dict:
    """Make the server in ``directory`` run with the clients the ``nas`` table asks for;
    ``restarter`` restarts it (the local stack's own restart, or :func:`systemd_restarter`
    on an installed system).

    Returns what was found and done: ``server`` (absent / current / stopped / running),
    ``restarted``, the clients (names and addresses, never secrets), the NAS rows left
    out (``refused``) and, after a restart, the new ``pid``."""
    if not (directory / "radiusd.conf").exists():
        return {"server": "absent", "directory": str(directory), "restarted": False}
    (directory / "run").mkdir(mode=0o700, exist_ok=True)
    # One sync at a time per server: two restarts racing would fight over the ports.
    with open(directory / "run" / "clients.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with connect(conninfo) as conn:
            found = radius_clients.nas_clients(conn)
        text = radius_clients.clients_conf(found.clients)
        result = {
            "server": "stopped", "restarted": False,
            "clients": radius_clients.describe(found.clients), "refused": list(found.refused),
        }
        if radius_clients.clients_file_current(directory, text):
            result["server"] = "current"
            return result
        path = directory / radius_clients.CLIENTS_FILE
        previous = path.read_text(encoding="utf-8") if path.exists() else None
        _write(path, text)
        if running_pid(directory) is None:
            return result  # the next start reads the new file
        try:
            pid = restarter(directory)
        except ConfigError:
            if previous is not None:
                _write(path, previous)  # keep the running server's file as it was
            raise
        result.update(server="running", restarted=True, pid=pid)
        return result


def systemd_restarter(unit: str, timeout: float = 30.0) -> Callable[[Path], int]:
    """The restart of an installed system: the rendered configuration checked, then
    ``systemctl restart unit`` (Debian's freeradius.service, pointed at ``directory``);
    the new pid once the server has written it."""
    def restart_unit(directory: Path) -> int:
        check_config(directory)
        old = running_pid(directory)
        result = subprocess.run(["systemctl", "restart", unit], capture_output=True,
                                text=True, check=False, timeout=timeout + 60)
        if result.returncode != 0:
            raise ServerError(f"systemctl restart {unit}: {result.stderr.strip()}")
        deadline = time.monotonic() + timeout
        while (pid := running_pid(directory)) in (None, old):
            if time.monotonic() > deadline:
                raise ServerError(f"{unit} restarted but wrote no new pid file "
                                  f"(journalctl -u {unit})")
            time.sleep(0.2)
        return pid
    return restart_unit


def request_sync(state_dir: Path, nas_id: int | None) -> Path:
    """The worker's half on an installed system: note that the NAS table changed;
    ``ebs-radius-clients.path`` then runs ``ebs radius sync-clients`` as root, which may
    write FreeRADIUS's files and restart it."""
    return systemd_requests.request(
        state_dir, systemd_requests.RADIUS_CLIENTS, f"nas {nas_id if nas_id is not None else '-'}")
