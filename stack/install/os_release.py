"""Debian 12 or nothing: the install names Debian's packages, paths and service units.

Run as a script by ``scripts/install.sh`` with Debian's own python3, before any package
is installed, so it imports nothing of the project; ``ebs install`` asks it again.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

OS_RELEASE = Path("/etc/os-release")
SUPPORTED = ("debian", "12")


class UnsupportedSystem(RuntimeError):
    """The system is not Debian 12; the message says what it is and what is needed."""


def os_release_path() -> Path:
    """``EBS_OS_RELEASE`` names another file (the check's test of a foreign system)."""
    return Path(os.environ.get("EBS_OS_RELEASE") or OS_RELEASE)


def read(path: Path) -> dict[str, str]:
    fields = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        name, sep, value = line.partition("=")
        if sep and name.strip() and not name.startswith("#"):
            words = shlex.split(value, posix=True)
            fields[name.strip()] = words[0] if words else ""
    return fields


def check(path: Path | None = None) -> str:
    """The system's name when it is Debian 12; else :class:`UnsupportedSystem`."""
    path = path or os_release_path()
    try:
        fields = read(path)
    except OSError as exc:
        raise UnsupportedSystem(f"cannot read {path} ({exc.strerror}): the install "
                                "supports Debian 12 (bookworm) only") from None
    name = fields.get("PRETTY_NAME") or f"{fields.get('ID', '?')} {fields.get('VERSION_ID', '')}"
    if (fields.get("ID"), fields.get("VERSION_ID")) != SUPPORTED:
        raise UnsupportedSystem(
            f"this system is {name.strip()} ({path}); the install supports Debian 12 "
            "(bookworm) only: its package names, paths and service units are Debian 12's. "
            "Nothing was changed.")
    return name


if __name__ == "__main__":
    try:
        print(f"install: {check()}")
    except UnsupportedSystem as exc:
        print(f"install: {exc}", file=sys.stderr)
        sys.exit(2)
