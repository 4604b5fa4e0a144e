"""The install's steps in order; each is idempotent and records what it changed."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from billing import settings as settings_mod
from stack.install import (
    database,
    kernel,
    nginx,
    os_release,
    radius,
    redis_conf,
    secret_files,
    settings_file,
    units,
    users,
)
from stack.install.files import Changes, ensure_dir
from stack.install.layout import RADIUS_USER
from stack.install.systemd import disable_now


class InstallError(RuntimeError):
    """A step could not be done; the message says which and why."""


def install(say: Callable[[str], None] = print) -> Changes:
    """Put the whole system in place; returns what changed (nothing on a second run)."""
    if os.geteuid() != 0:
        raise InstallError("ebs install must run as root (it writes /etc, creates accounts "
                           "and talks to systemd)")
    say(f"installing on {os_release.check()}")
    changes = Changes(say)
    users.ensure_users(changes)
    settings = settings_file.ensure_settings(changes)
    state = Path(settings.STATE_DIR)
    ensure_dir(state, 0o755, "root", "root", changes)
    roles = {c: getattr(settings, f"DB_{c.upper()}_USER") for c in settings_mod.COMPONENTS}
    secret_files.ensure_secrets(state / "secrets", settings.DB_USER, roles, changes)
    say("PostgreSQL: roles, database, migrations")
    database.ensure_database(settings, changes)
    say("Redis: password")
    redis_conf.ensure_redis(settings, changes)
    say("FreeRADIUS: configuration and unit")
    ensure_dir(state / "freeradius", 0o700, RADIUS_USER, RADIUS_USER, changes)
    radius.ensure_radius(settings, changes)
    kernel.ensure_sysctl(changes)  # the collector's socket buffer
    # Debian's pmacct unit would bind the NetFlow port our collector listens on.
    disable_now("nfacctd.service", changes, "ebs-nfacctd runs the collector")
    say("systemd units")
    units.ensure_units(settings, changes)
    say("nginx: TLS in front of the web app")
    nginx.ensure_nginx(settings, changes)
    if os.environ.get("EBS_INSTALL_CODE_CHANGED") == "1":
        units.restart_running(settings, changes, "new code")
    if changes.made:
        say(f"install done: {len(changes.made)} change(s)")
    else:
        say("install done: nothing changed (everything was already in place)")
    return changes

