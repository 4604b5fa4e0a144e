"""The cluster's database roles and their generated passwords.

Roles belong to a PostgreSQL cluster, not to a database, so the set-up (``ebs up``'s
server, the test harness, the benchmarks: every :class:`PostgresServer` at its start)
creates them once, as the cluster's superuser, before the owner runs any migration; the
migrations then hold every GRANT. The owner owns every object and runs the migrations;
each component logs in with its own role. A password is 32 random bytes, kept in a file
only the service account may read (mode 0600) and stored by PostgreSQL as a SCRAM
verifier.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
from psycopg import sql

from stack import secret_file

# The login role of each component; sql/migrations/*_database_roles.sql grants to these.
COMPONENT_ROLES: dict[str, str] = {
    "web": "ebs_web",
    "worker": "ebs_worker",
    "radius": "ebs_radius",
    "acct": "ebs_acct",
    "flow": "ebs_flow",
    "reports": "ebs_reports",
}
# The role a streaming standby logs in with (stack/replica.py): REPLICATION and nothing
# else, no database's tables; pg_hba.conf lets it in to the replication pseudo-database.
REPLICATION_ROLE = "ebs_replica"


def password_file(secrets_dir: Path, role: str) -> Path:
    """Where the set-up keeps ``role``'s password."""
    return Path(secrets_dir) / f"db-{role}.password"


def read_password(path: Path) -> str:
    """The password a file holds; empty when there is no file (peer authentication)."""
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return ""


def ensure_password(secrets_dir: Path, role: str) -> str:
    """``role``'s password, generated into its file (0600) the first time."""
    return secret_file.ensure(password_file(secrets_dir, role))


def ensure_roles(admin: psycopg.Connection, owner: str, secrets_dir: Path,
                 roles: tuple[str, ...] = tuple(COMPONENT_ROLES.values())) -> None:
    """Create (or bring back in line) the owner and the component roles, as the cluster's
    superuser: LOGIN, no other attribute, the password from its file (SCRAM)."""
    apply_roles(admin, owner, {role: ensure_password(secrets_dir, role)
                               for role in (owner, *roles)})


def apply_roles(admin: psycopg.Connection, owner: str, passwords: dict[str, str]) -> list[str]:
    """The roles of :func:`ensure_roles` with their passwords given (``ebs install`` reads
    the files as root, then talks to the cluster as its superuser account, which may not
    read them); the roles it had to create."""
    admin.execute("SET password_encryption = 'scram-sha-256'")
    created = []
    for role, password in passwords.items():
        exists = admin.execute(
            "SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
        verb = "ALTER" if exists else "CREATE"
        if not exists:
            created.append(role)
        admin.execute(sql.SQL(
            "{} ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
            "NOBYPASSRLS PASSWORD {}").format(
                sql.SQL(verb), sql.Identifier(role), sql.Literal(password)))
    # The owner reads every session's statistics (pg_stat_statements counts round trips
    # in the tests and benchmarks); it does not make it a superuser.
    admin.execute(sql.SQL("GRANT pg_read_all_stats TO {}").format(sql.Identifier(owner)))
    return created


def ensure_replication_role(admin: psycopg.Connection, secrets_dir: Path,
                            role: str = REPLICATION_ROLE) -> str:
    """The standby's role, as the cluster's superuser: LOGIN REPLICATION, no other
    attribute, its own generated password (the one returned)."""
    password = ensure_password(secrets_dir, role)
    admin.execute("SET password_encryption = 'scram-sha-256'")
    exists = admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
    admin.execute(sql.SQL(
        "{} ROLE {} LOGIN REPLICATION NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS "
        "PASSWORD {}").format(sql.SQL("ALTER" if exists else "CREATE"),
                              sql.Identifier(role), sql.Literal(password)))
    return password


def prepare_database(admin: psycopg.Connection, owner: str) -> None:
    """What only a superuser can do in a new database, before the owner takes over:
    the extensions (pg_stat_statements; pg_trgm, whose GIN indexes serve the subscriber
    search by any part of a name or address) and the right to reset the statistics'
    counters. Safe to run again on a database that has them."""
    admin.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    admin.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    admin.execute(sql.SQL(
        "GRANT EXECUTE ON FUNCTION pg_stat_statements_reset(oid, oid, bigint) TO {}"
    ).format(sql.Identifier(owner)))


def settings_env(secrets_dir: Path, owner: str | None = None) -> dict[str, str]:
    """EBS_* variables naming each component's role and password file under
    ``secrets_dir`` (and the owner's file when ``owner`` is given): for a process started
    against a cluster set up here (tests, benchmarks)."""
    env = {}
    for component, role in COMPONENT_ROLES.items():
        env[f"EBS_DB_{component.upper()}_USER"] = role
        env[f"EBS_DB_{component.upper()}_PASSWORD_FILE"] = str(password_file(secrets_dir, role))
    if owner is not None:
        env["EBS_DB_PASSWORD_FILE"] = str(password_file(secrets_dir, owner))
    return env
