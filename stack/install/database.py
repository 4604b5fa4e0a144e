"""Debian's PostgreSQL 15 cluster ``15/main``: our settings in its conf.d, the owner and
the component roles of the least-privilege design (stack/db_roles.py) with the passwords
generated at install, the database and its extensions, then the migrations.

The superuser's work is done as the ``postgres`` account (the cluster's peer login) in a
child process, given the passwords the root process read; the migrations run as the
owner role over TCP, as every later ``ebs db upgrade`` does.
"""

from __future__ import annotations

import os
import pwd
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import psycopg
from psycopg import sql

from billing import schema
from billing import settings as settings_mod
from stack import db_roles
from stack.install.files import Changes, ensure_file
from stack.install.layout import systemd_wanted
from stack.install.systemd import enable_now, restart
from stack.install.users import as_account

VERSION, CLUSTER = "15", "main"
CONF = Path(f"/etc/postgresql/{VERSION}/{CLUSTER}/conf.d/ebs.conf")
SOCKET_DIR = "/var/run/postgresql"
ADMIN = f"host={SOCKET_DIR} dbname=postgres user=postgres"  # the superuser's peer login

# What the tests and benchmarks run with (stack/servers/postgres.py), durable.
CONF_TEXT = """# Written by `ebs install`.
max_connections = 200
shared_preload_libraries = 'pg_stat_statements'
timezone = 'UTC'
log_timezone = 'UTC'
"""


class DatabaseError(RuntimeError):
    """The cluster would not start or refused a step; the message says which."""


def _cluster_running() -> bool:
    return subprocess.run(["pg_ctlcluster", VERSION, CLUSTER, "status"],
                          capture_output=True, check=False).returncode == 0


def _start(changes: Changes, conf_changed: bool) -> None:
    """Under systemd its unit; without (a chroot), pg_ctlcluster, as Debian's unit does."""
    if systemd_wanted():
        enable_now(["postgresql.service"], changes)
        if conf_changed:
            restart(f"postgresql@{VERSION}-{CLUSTER}.service", changes, "settings")
        return
    action = "restart" if conf_changed and _cluster_running() else (
        None if _cluster_running() else "start")
    if action:
        subprocess.run(["pg_ctlcluster", VERSION, CLUSTER, action], check=True)
        changes.add(f"PostgreSQL {VERSION}/{CLUSTER} {action}ed (pg_ctlcluster)")


def _wait_ready(timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while subprocess.run(["pg_isready", "-q", "-h", SOCKET_DIR], check=False).returncode:
        if time.monotonic() > deadline:
            raise DatabaseError(f"PostgreSQL {VERSION}/{CLUSTER} does not answer on "
                                f"{SOCKET_DIR} (journalctl -u postgresql@{VERSION}-{CLUSTER})")
        time.sleep(0.5)


def _superuser_steps(owner: str, dbname: str, passwords: dict[str, str],
                     created_file: Path) -> None:
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        created = db_roles.apply_roles(conn, owner, passwords)
        if create_database(conn, dbname, owner):
            created.append(f"database {dbname}")
    created_file.write_text("\n".join(created))


def create_database(admin: psycopg.Connection, dbname: str, owner: str) -> bool:
    """As the superuser: the database the owner owns, when missing, and the extensions
    only a superuser may create in it; True when it was created."""
    made = not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                             (dbname,)).fetchone()
    if made:
        admin.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(
            sql.Identifier(dbname), sql.Identifier(owner)))
    with psycopg.connect(f"host={SOCKET_DIR} dbname={dbname} user=postgres",
                         autocommit=True) as conn:
        db_roles.prepare_database(conn, owner)
    return made


def role_passwords(settings: SimpleNamespace) -> dict[str, str]:
    """The owner's and every component role's password, by role, from their files (read
    as root: the superuser's account may not read them)."""
    roles = {settings.DB_USER: settings_mod.database_role(settings)[1]}
    for component in settings_mod.COMPONENTS:
        role, password = settings_mod.database_role(settings, component)
        roles[role] = password
    return roles


def ensure_database(settings: SimpleNamespace, changes: Changes) -> list[str]:
    """The cluster set up and the schema current; the migrations applied now."""
    conf_changed = ensure_file(CONF, CONF_TEXT, 0o644, "postgres", "postgres", changes)
    _start(changes, conf_changed)
    _wait_ready()
    roles = role_passwords(settings)
    # The child reports what it created through a file only it and root may write.
    report = Path(f"/run/ebs-install-{os.getpid()}")
    report.touch(mode=0o600)
    os.chown(report, pwd.getpwnam("postgres").pw_uid, -1)
    try:
        as_account("postgres", lambda: _superuser_steps(
            settings.DB_USER, settings.DB_NAME, roles, report))
        for item in filter(None, report.read_text().splitlines()):
            changes.add(f"PostgreSQL: {item} created")
    finally:
        report.unlink(missing_ok=True)
    with psycopg.connect(settings_mod.database_conninfo(settings), autocommit=True) as conn:
        in_use = (_serving(settings)
                  and (schema.pending(conn) or schema.changed_functions(conn))
                  and bool(schema.database_version(conn).migrations))
        if not in_use:
            applied = schema.upgrade(conn)
    if in_use:
        # New code on a system that serves: the services stop first and a backup is
        # taken, as `ebs upgrade` does (stack/upgrade.py), then they start again.
        from stack import upgrade

        try:
            done = upgrade.upgrade(settings, changes.say)
        except upgrade.UpgradeError as exc:
            raise DatabaseError(str(exc)) from None
        if done is None:
            return []
        changes.add(f"database {settings.DB_NAME} upgraded with the services stopped: "
                    f"{len(done.applied)} migration(s), {len(done.functions)} function "
                    f"file(s); backup {done.backup.path if done.backup else 'none'}")
        return done.applied
    if applied:
        changes.add(f"database {settings.DB_NAME}: {len(applied)} migration(s) applied")
    return [m.version for m in applied]


def _serving(settings: SimpleNamespace) -> bool:
    """An installed system under systemd with any of its services running."""
    if not systemd_wanted() or settings.SERVICE_MANAGER != "systemd":
        return False
    from stack.installed import InstalledServices, unit_states

    names = InstalledServices(settings).app_units()
    return any(active == "active" for active, _ in unit_states(names).values())
