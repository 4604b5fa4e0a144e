"""Requests from an unprivileged service to systemd on an installed system.

The worker runs as ``ebs``: it may neither write FreeRADIUS's files nor restart a unit.
Where a change needs either, it writes ``STATE_DIR/run/<name>.request`` (a directory it
owns); a path unit of ``ebs install`` (stack/install/units.py) watches the file and runs
the privileged half as root. The file is written whole each time (systemd's PathChanged=
fires when a file there is closed or renamed into place).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

SUFFIX = ".request"
# The requests, each watched by the path unit of its name.
RADIUS_CLIENTS = "radius-clients"  # a NAS change: clients rendered, FreeRADIUS restarted
COLLECTOR_RESTART = "nfacctd-restart"  # nfacctd's plugins changed: its unit restarted


def request_path(state_dir: str | Path, name: str) -> Path:
    return Path(state_dir) / "run" / f"{name}{SUFFIX}"


def request(state_dir: str | Path, name: str, note: str) -> Path:
    """Ask for ``name``'s privileged half; ``note`` says why (for whoever reads it)."""
    path = request_path(state_dir, name)
    tmp = path.with_name(path.name + ".new")
    tmp.write_text(f"{note} at {time.time():.3f}\n", encoding="utf-8")
    os.replace(tmp, path)
    return path
