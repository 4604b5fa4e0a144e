"""The `ebs` command against a local stack of its own: private ports, state and settings
under a temporary directory, as `make demo` runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from stack.servers.base import free_port

EBS = [sys.executable, "-m", "cli.main"]
ROOT = Path(__file__).resolve().parents[1]


def ebs(env: dict[str, str], *args: str, timeout: float = 120,
        **popen) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*EBS, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
        check=False, **popen,
    )


def stack_env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "EBS_SETTINGS": str(tmp_path / "settings_local.py"),
        "EBS_STATE_DIR": str(tmp_path / "var"),
        "EBS_DB_PORT": str(free_port()),
        "EBS_REDIS_PORT": str(free_port()),
        "EBS_RADIUS_AUTH_PORT": str(free_port(udp=True, tcp=False)),
        "EBS_RADIUS_ACCT_PORT": str(free_port(udp=True, tcp=False)),
        "EBS_NETFLOW_PORT": str(free_port(udp=True, tcp=False)),
        "EBS_WEB_PORT": str(free_port()),
    }
