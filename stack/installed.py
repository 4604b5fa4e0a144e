"""The services of an installed system as systemd runs them (``SERVICE_MANAGER =
"systemd"``, written by `ebs install`): what `ebs status` lists, what the maintenance
window of `ebs upgrade` stops and starts again, and Debian's PostgreSQL cluster in place
of the local stack's. The same surface as :class:`stack.local.Stack` where those commands
use it, so they need not know which of the two they act on.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import psycopg
from psycopg import sql

from billing import settings as settings_mod
from stack import db_roles
from stack.install import database
from stack.install.database import ADMIN, CLUSTER, VERSION

POSTGRES_UNIT = f"postgresql@{VERSION}-{CLUSTER}.service"
# Started by the install, used by the services, never stopped by a maintenance window.
STORES = (POSTGRES_UNIT, "redis-server.service")
FRONT = ("nginx.service",)


class UnitError(RuntimeError):
    """systemctl refused; the message holds its words."""


def systemctl(*args: str) -> str:
    result = subprocess.run(["systemctl", *args], capture_output=True, text=True,
                            check=False)
    if result.returncode != 0:
        raise UnitError(f"systemctl {' '.join(args)}: "
                        f"{(result.stderr or result.stdout).strip()}")
    return result.stdout


def unit_states(units: list[str]) -> dict[str, tuple[str, str]]:
    """Each unit's (ActiveState, SubState) in one call."""
    out = systemctl("show", "--property=Id,ActiveState,SubState", *units)
    states: dict[str, tuple[str, str]] = {}
    for unit, block in zip(units, out.strip().split("\n\n"), strict=True):
        fields = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        states[unit] = (fields.get("ActiveState", ""), fields.get("SubState", ""))
    return states


class SystemPostgres:
    """Debian's cluster: systemd keeps it; the owner role connects over TCP as every
    component does (the settings' conninfo)."""

    name = "postgresql"

    def __init__(self, settings: SimpleNamespace) -> None:
        self.settings = settings

    def conninfo(self, dbname: str | None = None) -> str:
        return settings_mod.database_conninfo(self.settings, dbname=dbname)

    def running(self) -> bool:
        try:
            with psycopg.connect(self.conninfo(), connect_timeout=3):
                return True
        except psycopg.OperationalError:
            return False

    def start(self, timeout: float = 60.0) -> None:
        systemctl("start", POSTGRES_UNIT)
        deadline = time.monotonic() + timeout
        while not self.running():
            if time.monotonic() > deadline:
                raise UnitError(f"{POSTGRES_UNIT} started but PostgreSQL does not answer "
                                f"(journalctl -u {POSTGRES_UNIT})")
            time.sleep(0.5)

    def stop(self) -> None:
        """Left running: on a server PostgreSQL is systemd's to stop, not a job's."""

    def tool_conninfo(self, dbname: str) -> tuple[str, dict[str, str]]:
        """The owner's connection for pg_restore, its password in the environment (never
        in an argument list, which every local user may read)."""
        from stack.backup import owner_conninfo

        return owner_conninfo(self.settings, dbname)

    def as_superuser(self, work: Callable[[psycopg.Connection], object]) -> None:
        """``work`` as the cluster's superuser: the ``postgres`` account's peer login, in
        a child process (as `ebs install` does its set-up)."""
        from stack.install.users import AccountStepError, as_account

        def step() -> None:
            with psycopg.connect(ADMIN, autocommit=True) as conn:
                work(conn)

        try:
            as_account("postgres", step)
        except AccountStepError as exc:
            raise UnitError(str(exc)) from None

    def create_database(self, name: str) -> None:
        """A database the owner owns, with the extensions only a superuser may create."""
        owner = self.settings.DB_USER
        self.as_superuser(lambda conn: database.create_database(conn, name, owner))

    def drop_database(self, name: str) -> None:
        self.as_superuser(lambda conn: conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))))

    def setup_roles(self) -> None:
        """Every role's password as its file now says (after a restore brought the files
        back): read here, as root, and set as the superuser, who may not read them."""
        passwords = database.role_passwords(self.settings)
        owner = self.settings.DB_USER
        self.as_superuser(lambda conn: db_roles.apply_roles(conn, owner, passwords))


class InstalledServices:
    """The installed system's units; ``pause`` and ``resume`` are the maintenance
    window's, ``status`` is `ebs status`'s."""

    def __init__(self, settings: SimpleNamespace) -> None:
        self.settings = settings
        self.postgres = SystemPostgres(settings)
        self.maintenance_marker = Path(settings.STATE_DIR) / "run" / "maintenance"

    def _started(self) -> list[str]:
        """The install's units that run (its list is the one truth): long-running
        services, path units, timers; not the oneshots they start."""
        from stack.install.units import units

        return [u.name for u in units(self.settings) if u.start]

    def app_units(self, started: list[str] | None = None) -> list[str]:
        """The long-running units that use the database: FreeRADIUS and ours."""
        ours = [n for n in (started or self._started()) if n.endswith(".service")]
        return [self.settings.RADIUS_SERVICE or "freeradius.service", *ours]

    def status(self) -> list[tuple[str, bool, str]]:
        started = self._started()
        others = [n for n in started if not n.endswith(".service")]
        names = [*STORES, *self.app_units(started), *FRONT, *others]
        return [(unit, active == "active", sub)
                for unit, (active, sub) in unit_states(names).items()]

    def pause(self, report: Callable[[str], None]) -> list[str]:
        """Stop every running unit that uses the database (one systemctl call: systemd
        orders the stops); returns them for :meth:`resume`."""
        running = [unit for unit, (active, _) in unit_states(self.app_units()).items()
                   if active == "active"]
        if running:
            report(f"stopping {', '.join(running)}")
            systemctl("stop", *running)
        return running

    def resume(self, names: list[str], report: Callable[[str], None]) -> None:
        if names:
            report(f"starting {', '.join(names)}")
            systemctl("start", *names)


def services(settings: SimpleNamespace):
    """The services the settings name: the installed system's units or the local stack."""
    if settings.SERVICE_MANAGER == "systemd":
        return InstalledServices(settings)
    from stack.local import Stack

    return Stack(settings)
