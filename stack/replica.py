"""A streaming standby of the billing cluster, for the reports and dashboards.

The standby is a physical copy made by ``pg_basebackup -R`` and kept current by streaming
replication, so it holds every database, role and grant of the primary and may serve any
read-only query. Three things on the primary make it safe to run unattended:

* a role of its own (``db_roles.REPLICATION_ROLE``) with REPLICATION and nothing else: it
  cannot read a table, only stream the WAL, and its password is generated like every
  other role's;
* a physical replication slot, so the primary keeps the WAL the standby has not received
  yet (a standby that was stopped for an hour catches up instead of needing a new copy);
  the price is disk: a standby gone for good must have its slot dropped
  (:func:`drop_slot`, ``ebs db replica drop-slot``) or the primary's WAL grows without end;
* a ``pg_hba.conf`` line letting that role in to the ``replication`` pseudo-database
  (the local cluster writes it, stack/servers/postgres.py; an installed primary's
  operator adds it: :data:`HBA_HINT`).

:func:`setup` is idempotent: a directory that already holds a standby of this primary
through the same slot is kept as it is; any other non-empty directory is refused.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg.rows import dict_row

from stack import db_roles
from stack.servers.postgres import pg_bindir

DEFAULT_SLOT = "ebs_replica"
HBA_HINT = ("host replication {role} <standby address>/32 scram-sha-256")


class ReplicaError(RuntimeError):
    """The standby cannot be made; the message says what to do."""


@dataclass(frozen=True)
class Primary:
    """Where the standby copies from: a superuser's connection for the role and the slot,
    and the address the standby streams from (TCP, as the replication role)."""

    admin_conninfo: str
    host: str
    port: int
    secrets: Path  # where the replication role's password file is kept


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else exc.__class__.__name__


def prepare_primary(primary: Primary, slot: str = DEFAULT_SLOT) -> str:
    """The replication role and the slot on the primary (both kept when present); the
    role's password."""
    try:
        admin = psycopg.connect(primary.admin_conninfo, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        raise ReplicaError(f"cannot reach the primary ({_first_line(exc)})") from None
    with admin:
        if admin.execute("SELECT pg_is_in_recovery()").fetchone()[0]:
            raise ReplicaError("the server named as the primary is itself a standby")
        password = db_roles.ensure_replication_role(admin, primary.secrets)
        found = admin.execute(
            "SELECT slot_type FROM pg_replication_slots WHERE slot_name = %s",
            (slot,)).fetchone()
        if found is None:
            # Reserve WAL from now: the base backup that follows starts after this point.
            admin.execute("SELECT pg_create_physical_replication_slot(%s, true)", (slot,))
        elif found[0] != "physical":
            raise ReplicaError(f"slot {slot!r} exists on the primary and is not physical")
    return password


def drop_slot(admin_conninfo: str, slot: str = DEFAULT_SLOT) -> bool:
    """Drop the slot of a standby that is gone for good (the primary stops keeping WAL
    for it); False when there was none. A slot in use (its standby streaming) is refused
    by PostgreSQL: stop that standby first."""
    with psycopg.connect(admin_conninfo, autocommit=True, connect_timeout=5) as admin:
        if not admin.execute("SELECT 1 FROM pg_replication_slots WHERE slot_name = %s",
                             (slot,)).fetchone():
            return False
        admin.execute("SELECT pg_drop_replication_slot(%s)", (slot,))
    return True


def is_standby(datadir: Path, slot: str) -> bool:
    """True when ``datadir`` holds a standby copy streaming through ``slot`` (what
    ``pg_basebackup -R -S slot`` writes)."""
    auto = datadir / "postgresql.auto.conf"
    return ((datadir / "standby.signal").exists() and auto.exists()
            and f"primary_slot_name = '{slot}'" in auto.read_text(encoding="utf-8"))


def _empty(datadir: Path) -> bool:
    return not datadir.exists() or not any(datadir.iterdir())


def base_backup(primary: Primary, password: str, datadir: Path, slot: str) -> None:
    """``pg_basebackup -R`` into ``datadir`` through ``slot``, WAL streamed alongside, as
    the replication role; -R writes ``standby.signal`` and ``primary_conninfo`` (with
    the role's password: the directory is the service account's alone, mode 0700)."""
    datadir.parent.mkdir(parents=True, exist_ok=True)
    command = [
        str(pg_bindir() / "pg_basebackup"), "-D", str(datadir), "-R", "-X", "stream",
        "-S", slot, "-c", "fast", "-w", "-h", primary.host, "-p", str(primary.port),
        "-U", db_roles.REPLICATION_ROLE,
        # Names the standby in the primary's pg_stat_replication.
        "-d", f"application_name={slot}",
    ]
    env = {**os.environ, "PGPASSWORD": password, "PGCONNECT_TIMEOUT": "10"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        message = (result.stderr or result.stdout).strip()
        hint = ""
        if "pg_hba.conf" in message:
            hint = ("; let the standby in on the primary with the pg_hba.conf line "
                    + HBA_HINT.format(role=db_roles.REPLICATION_ROLE) + " and reload it")
        raise ReplicaError(f"pg_basebackup from {primary.host}:{primary.port} failed: "
                           f"{message}{hint}")


def setup(primary: Primary, datadir: Path, slot: str = DEFAULT_SLOT) -> str:
    """Make ``datadir`` a standby of ``primary`` (role, slot, base backup); ``"made"``, or
    ``"kept"`` when it already is one through ``slot``. Refuses any other non-empty
    directory, before touching the primary."""
    datadir = Path(datadir)
    if is_standby(datadir, slot):
        prepare_primary(primary, slot)  # a slot dropped meanwhile comes back
        return "kept"
    if not _empty(datadir):
        raise ReplicaError(f"{datadir} is not empty and holds no standby streaming through "
                           f"slot {slot!r}: name an empty or new directory")
    password = prepare_primary(primary, slot)
    base_backup(primary, password, datadir, slot)
    return "made"


# What the primary knows of each standby: how far behind it is in bytes and in time,
# and what its slot keeps.
_STANDBYS = """
    SELECT s.slot_name, r.state, r.client_addr::text AS address,
           pg_wal_lsn_diff(pg_current_wal_lsn(), r.replay_lsn)::bigint AS replay_bytes_behind,
           extract(epoch FROM r.write_lag)::float AS write_lag_seconds,
           extract(epoch FROM r.flush_lag)::float AS flush_lag_seconds,
           extract(epoch FROM r.replay_lag)::float AS replay_lag_seconds,
           pg_wal_lsn_diff(pg_current_wal_lsn(), s.restart_lsn)::bigint AS slot_kept_bytes
      FROM pg_replication_slots s
      LEFT JOIN pg_stat_replication r ON r.pid = s.active_pid
     WHERE s.slot_type = 'physical'
     ORDER BY s.slot_name
"""


def standbys(admin: psycopg.Connection) -> list[dict]:
    """Each physical slot on the primary and its standby's figures (state None: the
    standby is not connected, and the slot keeps WAL for it)."""
    with admin.cursor(row_factory=dict_row) as cur:
        return cur.execute(_STANDBYS).fetchall()
