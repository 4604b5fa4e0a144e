"""Forward-only schema migrations from ``sql/migrations``.

Each file ``YYYYMMDDHHMM_what.sql`` runs in its own transaction together with the row that
records it, so a failing migration leaves the schema exactly as it was. A database that
already carries a migration this code does not know is newer than the code: we refuse to
touch it rather than guess.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg

from billing.settings import PROJECT_ROOT

MIGRATIONS_DIR = PROJECT_ROOT / "sql" / "migrations"
_NAME = re.compile(r"^(?P<version>\d{12})_(?P<what>[a-z0-9_]+)\.sql$")
# One advisory lock id for "schema change in progress", so two upgrades never interleave.
_LOCK_ID = 0x0EB5_5C4E


class MigrationError(RuntimeError):
    """A migration could not be applied; the message says which and why."""


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    path: Path

    @property
    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def available(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migration files in order; a misnamed file is an error, not silently skipped."""
    found = []
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise MigrationError(
                f"{path.name}: migration files are named YYYYMMDDHHMM_what.sql"
            )
        found.append(Migration(match["version"], match["what"], path))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError("two migration files share one timestamp")
    return found


def _ensure_table(conn: psycopg.Connection) -> None:
    conn.execute(
        """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version text PRIMARY KEY,
            name text NOT NULL,
            checksum text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )


def applied_versions(conn: psycopg.Connection) -> list[str]:
    exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()[0]
    if not exists:
        return []
    return [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]


def pending(conn: psycopg.Connection, directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    known = available(directory)
    done = set(applied_versions(conn))
    newer = sorted(done - {m.version for m in known})
    if newer:
        latest = known[-1].version if known else "none"
        raise MigrationError(
            f"the database has migration {newer[-1]}, newer than this code knows "
            f"(latest here: {latest}); upgrade the code before using this database"
        )
    return [m for m in known if m.version not in done]


def upgrade(
    conn: psycopg.Connection,
    directory: Path = MIGRATIONS_DIR,
    progress: Callable[[Migration], None] | None = None,
) -> list[Migration]:
    """Apply every pending migration; returns those applied (none on a second run)."""
    idle = conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    if not conn.autocommit and not idle:
        raise MigrationError("upgrade needs a connection with no transaction open")
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_ID,))
        _ensure_table(conn)
    applied = []
    for migration in pending(conn, directory):
        if progress:
            progress(migration)
        try:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_ID,))
                if conn.execute(
                    "SELECT 1 FROM schema_migrations WHERE version = %s", (migration.version,)
                ).fetchone():
                    continue  # another upgrade applied it while we waited for the lock
                conn.execute(migration.sql.encode())
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                    (migration.version, migration.name, migration.checksum),
                )
        except psycopg.Error as exc:
            raise MigrationError(
                f"migration {migration.path.name} failed and was rolled back: {exc}"
            ) from exc
        applied.append(migration)
    return applied
