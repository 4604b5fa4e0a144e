"""FreeRADIUS on an installed system: Debian's ``freeradius.service`` runs our
configuration, rendered by the same renderer ``ebs up`` uses (stack/servers/freeradius.py)
into ``STATE_DIR/freeradius``, with the NAS table's clients.

A drop-in points Debian's unit at that directory and runs it as ``freerad`` from the
start (the rendered radiusd.conf switches no user), logging to the journal. Debian's own
/etc/freeradius/3.0 stays as the package left it and unused. A NAS change reaches the
server through ``ebs-radius-clients.path`` (stack/install/units/), since the worker that
hears of it runs as ``ebs`` and may neither write freerad's files nor restart a service.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from types import SimpleNamespace

import psycopg

from billing import settings as settings_mod
from stack import radius_clients
from stack.install.files import Changes, ensure_dir, ensure_file, ids
from stack.install.layout import RADIUS_UNIT, RADIUS_USER, SYSTEMD_DIR
from stack.install.systemd import daemon_reload, enable_now, restart
from stack.install.users import as_account
from stack.local import Stack
from stack.servers.freeradius import FreeRadiusServer, binary

DROP_IN = SYSTEMD_DIR / f"{RADIUS_UNIT}.d" / "ebs.conf"
# Directories the server writes at run time: not part of the configuration's state.
RUNTIME = ("log", "run", "db", "radacct")


def drop_in(directory: Path) -> str:
    """Debian's unit, pointed at our directory; its Type=notify and watchdog are kept."""
    args = f"-d {directory} -n radiusd"
    return f"""# Written by `ebs install`: Debian's FreeRADIUS runs the billing's configuration.
[Unit]
After=postgresql.service
Wants=postgresql.service

[Service]
User={RADIUS_USER}
Group={RADIUS_USER}
PIDFile={directory}/run/radiusd.pid
ReadWritePaths={directory}
ExecStartPre=
ExecStartPre={binary()} -Cx -l stdout {args}
ExecStart=
ExecStart={binary()} -f -P -l stdout {args}
ExecReload=
ExecReload={binary()} -Cxm -l stdout {args}
ExecReload=/bin/kill -HUP $MAINPID
Restart=always
RestartSec=2
"""


def _snapshot(directory: Path) -> dict[str, tuple[tuple[bytes, int, int, int], int]]:
    """Each configuration file's bytes, mode and owner, and its mtime (the run-time
    directories aside)."""
    found = {}
    if not directory.is_dir():
        return found
    for path in directory.rglob("*"):
        rel = path.relative_to(directory)
        if rel.parts[0] in RUNTIME or not path.is_file():
            continue
        st = path.stat()
        found[rel.as_posix()] = ((path.read_bytes(), stat.S_IMODE(st.st_mode),
                                  st.st_uid, st.st_gid), st.st_mtime_ns)
    return found


def server(settings: SimpleNamespace) -> FreeRadiusServer:
    """The server ``ebs up`` would run, with the NAS table's clients."""
    radius = Stack(settings).freeradius
    with psycopg.connect(settings_mod.database_conninfo(settings, component="worker")) as conn:
        found = radius_clients.nas_clients(conn)
    for problem in found.refused:
        print(f"warning: {problem}")
    radius.clients = [(c.name, c.ip, c.secret) for c in found.clients]
    return radius


def ensure_radius(settings: SimpleNamespace, changes: Changes) -> None:
    radius = server(settings)
    directory = radius.directory
    before = _snapshot(directory)
    radius.render()
    uid, gid = ids(RADIUS_USER, RADIUS_USER)
    for root, dirs, files in os.walk(directory):
        for name in (*dirs, *files):
            os.lchown(os.path.join(root, name), uid, gid)
    ensure_dir(directory, 0o700, RADIUS_USER, RADIUS_USER, changes)
    after = _snapshot(directory)
    config_changed = False
    for rel in sorted(set(before) | set(after)):
        old, new = before.get(rel), after.get(rel)
        if old is not None and new is not None and old[0] == new[0]:
            # Unchanged: its old mtime back, or clients.conf would look newer than the
            # running server and the next NAS check would restart it for nothing.
            os.utime(directory / rel, ns=(old[1], old[1]))
        else:
            config_changed = True
            changes.add(f"{directory / rel} rendered")
    # freeradius -C, as the account that runs it: a refused configuration stops here.
    as_account(RADIUS_USER, radius.check)
    unit_changed = ensure_file(DROP_IN, drop_in(directory), 0o644, "root", "root", changes)
    if unit_changed:
        daemon_reload()
    enable_now([RADIUS_UNIT], changes)
    if config_changed or unit_changed:
        restart(RADIUS_UNIT, changes, "configuration")
