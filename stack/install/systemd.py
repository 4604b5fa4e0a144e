"""systemctl for the install: a no-op that says so under ``EBS_INSTALL_NO_SYSTEMD``."""

from __future__ import annotations

import subprocess
from collections.abc import Iterable

from stack.install.files import Changes
from stack.install.layout import systemd_wanted


class SystemdError(RuntimeError):
    """systemctl refused; the message holds its words."""


def systemctl(*args: str) -> subprocess.CompletedProcess:
    result = subprocess.run(["systemctl", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemdError(f"systemctl {' '.join(args)}: {result.stderr.strip()}")
    return result


def daemon_reload() -> None:
    if systemd_wanted():
        systemctl("daemon-reload")


def enable_now(units: Iterable[str], changes: Changes) -> None:
    """Enable and start each unit that is not yet both."""
    if not systemd_wanted():
        return
    for unit in units:
        enabled = subprocess.run(["systemctl", "is-enabled", "--quiet", unit],
                                 check=False).returncode == 0
        active = subprocess.run(["systemctl", "is-active", "--quiet", unit],
                                check=False).returncode == 0
        if not (enabled and active):
            systemctl("enable", "--now", unit)
            changes.add(f"{unit} enabled and started")


def restart(unit: str, changes: Changes, why: str) -> None:
    """Restart a running unit after its configuration changed (a stopped one starts)."""
    if systemd_wanted():
        systemctl("restart", unit)
        changes.add(f"{unit} restarted ({why})")


def disable_now(unit: str, changes: Changes, why: str) -> None:
    """Stop and disable a unit of Debian's that would take our place (a port, a role)."""
    if not systemd_wanted():
        return
    if subprocess.run(["systemctl", "cat", unit], capture_output=True,
                      check=False).returncode != 0:
        return  # no such unit
    enabled = subprocess.run(["systemctl", "is-enabled", "--quiet", unit],
                             check=False).returncode == 0
    active = subprocess.run(["systemctl", "is-active", "--quiet", unit],
                            check=False).returncode == 0
    if enabled or active:
        systemctl("disable", "--now", unit)
        changes.add(f"{unit} stopped and disabled ({why})")
