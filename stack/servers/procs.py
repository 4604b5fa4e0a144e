"""What /proc says about daemons that are not our children.

A daemonised server is reparented to PID 1 (or a subreaper), which may reap it late: in
the meantime it is a zombie that still answers ``kill(pid, 0)``. It has exited all the
same, so we read its state from /proc instead of asking kill().
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterable
from pathlib import Path

_GONE = ("Z", "X")  # zombie, dead


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name: state, ppid, pgrp, session…"""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name sits in parentheses and may itself hold spaces or ")".
    return text.rsplit(")", 1)[1].split()


def cpu_seconds(pid: int) -> float | None:
    """User and system CPU the process has used so far (None: it is gone)."""
    fields = _stat(pid)
    if fields is None:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def exited(pid: int) -> bool:
    """True once the process is gone or a zombie (finished, not yet reaped)."""
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return True
    fields = _stat(pid)
    return fields is None or fields[0] in _GONE


def wait_exited(pids: Iterable[int], timeout: float) -> list[int]:
    """Wait until every pid has exited; return those still running at the deadline."""
    pending = list(pids)
    deadline = time.monotonic() + timeout
    while pending:
        pending = [pid for pid in pending if not exited(pid)]
        if not pending or time.monotonic() >= deadline:
            break
        time.sleep(0.02)
    return pending


def terminate(pid: int, sig: int = signal.SIGTERM, timeout: float = 15.0) -> bool:
    """Send sig and wait for the process to exit; SIGKILL if it will not.

    Returns True when it went on sig alone.
    """
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
    if not wait_exited([pid], timeout):
        return True
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    wait_exited([pid], 5)
    return False


def session_members(session: int) -> list[int]:
    """Living processes of a session: a daemon that called setsid() and everything it
    forked since (plugins, their short-lived writers), however deep."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields and int(fields[3]) == session and fields[0] not in _GONE:
                members.append(int(entry.name))
    return members


def wchan(pid: int) -> str:
    """The kernel function the process sleeps in ("" when running, gone or hidden)."""
    try:
        where = Path(f"/proc/{pid}/wchan").read_text().strip()
    except OSError:
        return ""
    return "" if where == "0" else where
