"""The accounting follower (``ebs acct drain --follow``) as a managed process: the spool
accounting mode's applier, run by ``ebs up``, the benchmark and the tests alike."""

from __future__ import annotations

import sys
from pathlib import Path

from billing import settings as settings_mod
from stack.servers.process import ManagedProcess

NAME = "acct-drain"


def acct_drainer(spool: Path, run_dir: Path, log_dir: Path, *,
                 env: dict[str, str] | None = None, poll: float | None = None,
                 name: str = NAME) -> ManagedProcess:
    """A follower of ``spool``; ``env`` carries the database settings (``EBS_DB_*``)
    when they are not the configured ones."""
    argv = [sys.executable, "-m", "cli.main", "acct", "drain", "--follow",
            "--spool", str(spool)]
    if poll is not None:
        argv += ["--poll", str(poll)]
    root = str(settings_mod.PROJECT_ROOT)
    return ManagedProcess(name, argv, run_dir, log_dir, cwd=settings_mod.PROJECT_ROOT,
                          env={"PYTHONPATH": root, **(env or {})})
