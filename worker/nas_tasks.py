"""NAS changes reach FreeRADIUS: ``ebs.nas_changed(nas_id)`` re-renders the clients from the
``nas`` table and restarts the local server when they differ from what it runs with.

FreeRADIUS 3.2.1 reads clients.conf only at start (SIGHUP leaves an old secret in use,
STACK-FACTS.md), so a change means a restart. The web app sends this task after a NAS
edit commits; the beat also sends it every minute without an id, so a lost message (a
Redis restart, a worker killed between writing the file and restarting) is made good
within a minute. The task is idempotent: when the server already runs with exactly the
clients the table asks for (``stack.radius_clients.clients_file_current``) it does
nothing, so a duplicate delivery restarts nothing.

The server is the one ``ebs up`` runs under ``STATE_DIR`` (the rendered configuration,
its pid file and log). The worker may not import ``cli`` (DESIGN.md), so the restart is
done here from those files alone: the rest of the configuration is already rendered and
only clients.conf changes. Where no server was rendered (a worker host without one) the
task reports that and does nothing.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from billing import settings as settings_mod
from billing.db import connect
from stack import radius_clients
from worker.app import celery

READY_LINE = b"Ready to process requests"
STOP_TIMEOUT = 15.0
START_TIMEOUT = 20.0


class RestartError(RuntimeError):
    """The server could not be restarted with the new clients; the message says why."""


def _binary() -> str:
    found = shutil.which("freeradius") or shutil.which("radiusd")
    if not found:
        raise RestartError("freeradius not found")
    return found


def _running_pid(directory: Path) -> int | None:
    try:
        pid = int((directory / "run" / "radiusd.pid").read_text().split()[0])
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, ValueError, IndexError):
        return None
    return None if state in ("Z", "X") else pid


def _write(path: Path, text: str) -> None:
    """Replace the file atomically, never readable by others (it holds the secrets)."""
    tmp = path.with_name(path.name + ".new")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def _check(directory: Path) -> None:
    result = subprocess.run(
        [_binary(), "-C", "-l", "stdout", "-d", str(directory), "-n", "radiusd"],
        capture_output=True, text=True, check=False, timeout=60,
    )
    if result.returncode != 0:
        errors = [line for line in result.stdout.splitlines() if " Error: " in line]
        raise RestartError("configuration refused: " + "; ".join(errors or ["see -C output"]))


def _wait(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RestartError(f"timed out waiting for {what}")
        time.sleep(0.05)


def restart(directory: Path, pid: int) -> int:
    """Stop the server by its pid and start it again from ``directory``; its new pid."""
    def stopped() -> bool:
        return _running_pid(directory) != pid

    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    try:
        _wait(stopped, STOP_TIMEOUT, f"freeradius {pid} to stop")
    except RestartError:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        _wait(stopped, STOP_TIMEOUT, f"freeradius {pid} to die")
    log = directory / "log" / "radius.log"
    offset = log.stat().st_size if log.exists() else 0
    # Daemon mode: the command returns once the server has bound its sockets (or failed);
    # its own session, so stopping the worker never takes the server with it.
    result = subprocess.run(
        [_binary(), "-d", str(directory), "-n", "radiusd"],
        capture_output=True, text=True, check=False, timeout=60, start_new_session=True,
    )
    if result.returncode != 0:
        raise RestartError(f"freeradius exited {result.returncode}: {result.stderr.strip()}")

    def ready() -> bool:
        with log.open("rb") as fh:
            fh.seek(offset)
            return READY_LINE in fh.read()

    _wait(ready, START_TIMEOUT, "freeradius to be ready")
    new_pid = _running_pid(directory)
    if new_pid is None:
        raise RestartError("freeradius started but its pid file names no running process")
    return new_pid


def sync_clients(conninfo: str, directory: Path) -> dict:
    """Make the server in ``directory`` run with the clients the ``nas`` table asks for."""
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
        pid = _running_pid(directory)
        if pid is None:
            return result  # the next start reads the new file
        try:
            _check(directory)
        except RestartError:
            if previous is not None:
                _write(path, previous)  # keep the running server's file as it was
            raise
        result.update(server="running", restarted=True, pid=restart(directory, pid))
        return result


@celery.task(name="ebs.nas_changed")
def nas_changed(nas_id: int | None = None) -> dict:
    """Re-render the clients from the ``nas`` table and restart the local FreeRADIUS if
    they changed. ``nas_id`` names the edited NAS (for the record; every NAS is rendered);
    the beat sends it without one as a periodic check."""
    settings = settings_mod.load()
    result = sync_clients(
        settings_mod.database_conninfo(settings),
        radius_clients.local_server_dir(settings.STATE_DIR),
    )
    return {"nas_id": nas_id, **result}
