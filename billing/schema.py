"""The schema from ``sql/``: forward-only migrations plus one file per SQL function.

``sql/migrations/YYYYMMDDHHMM_what.sql`` hold tables, indexes, ``CREATE TRIGGER``, grants and
data moves; each is applied once, in order, and its checksum is kept in
``schema_migrations``. ``sql/functions/<name>.sql`` hold one function each
(``CREATE OR REPLACE FUNCTION``, its ``SET search_path``, its ``REVOKE``/``GRANT`` lines) and
are applied again whenever their text changes (checksums in ``schema_functions``), so a
function's history is the history of one file.

``upgrade`` runs, under one advisory lock and in one transaction:

1. the new or changed function files, with ``check_function_bodies = off`` — so the
   migrations' triggers, defaults and data moves find the functions they name (a file
   that cannot be created yet, say one whose body is bound to a table a migration makes,
   waits for step 3);
2. the pending migrations, in order;
3. the same function files again with bodies checked, against the finished schema, plus
   any whose function a migration dropped. A file that still fails stops the upgrade and
   everything rolls back.

A migration whose first line is ``-- ebs: no-transaction`` (``CREATE INDEX CONCURRENTLY``)
commits what came before it and runs statement by statement on its own, so write it to be
re-runnable (``IF NOT EXISTS``). CREATE OR REPLACE cannot change a function's signature:
that takes a migration with the ``DROP FUNCTION``, and the file then creates the new one.

Refused with a message that says why: a database carrying a migration this code does not
know (it is newer than the code), an applied migration whose file has changed since, and
a function left executable by PUBLIC.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import errors

from billing import sql_script
from billing.release import code_version
from billing.settings import PROJECT_ROOT

SQL_DIR = PROJECT_ROOT / "sql"
MIGRATIONS_DIR = SQL_DIR / "migrations"
FUNCTIONS_DIR = SQL_DIR / "functions"
NO_TRANSACTION = "-- ebs: no-transaction"
_NAME = re.compile(r"^(?P<version>\d{12})_(?P<what>[a-z0-9_]+)\.sql$")
_FUNCTION_NAME = re.compile(r"^(?P<name>[a-z_][a-z0-9_]*)\.sql$")
# One advisory lock id for "schema change in progress", so two upgrades never interleave.
_LOCK_ID = 0x0EB5_5C4E
# The migrations squashed into the 0.1.0 baseline: a database built from them before the
# squash has exactly the baseline's schema, and is recorded as carrying the baseline.
BASELINE = "202612060900"
_SQUASHED = frozenset({
    "202611231900", "202611231910", "202611231920", "202611232030", "202611232040",
    "202611232050", "202611232100", "202611282300", "202611282305", "202611282310",
    "202611282315", "202611282320", "202611282325", "202611282330", "202611290010",
    "202611290020", "202611290100", "202611291010", "202611291030", "202611291040",
    "202611291100", "202611291110", "202611300900", "202611300910", "202611300920",
    "202611300930",
})


class MigrationError(RuntimeError):
    """A migration or function file could not be applied; the message says which and why."""


@dataclass(frozen=True)
class _SqlFile:
    path: Path

    @property
    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()

    @property
    def label(self) -> str:
        """The file as the operator finds it under sql/."""
        return f"{self.path.parent.name}/{self.path.name}"


@dataclass(frozen=True)
class Migration(_SqlFile):
    version: str = ""
    name: str = ""

    @property
    def transactional(self) -> bool:
        first = self.sql.split("\n", 1)[0].strip()
        return first != NO_TRANSACTION


@dataclass(frozen=True)
class FunctionFile(_SqlFile):
    name: str = ""


def available(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migration files in order; a misnamed file is an error, not silently skipped."""
    found = []
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise MigrationError(
                f"{path.name}: migration files are named YYYYMMDDHHMM_what.sql"
            )
        found.append(Migration(path, match["version"], match["what"]))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError("two migration files share one timestamp")
    return found


def function_files(directory: Path = FUNCTIONS_DIR) -> list[FunctionFile]:
    """The function files by name; each must create the function it is named after."""
    found = []
    for path in sorted(directory.glob("*.sql")):
        match = _FUNCTION_NAME.match(path.name)
        creates = re.search(
            rf"^CREATE\s+OR\s+REPLACE\s+FUNCTION\s+(public\.)?{re.escape(path.stem)}\s*\(",
            path.read_text(encoding="utf-8"), re.IGNORECASE | re.MULTILINE)
        if not match or not creates:
            raise MigrationError(
                f"functions/{path.name}: a function file is named after its function and "
                f"holds CREATE OR REPLACE FUNCTION {path.stem}(...)"
            )
        found.append(FunctionFile(path, match["name"]))
    return found


def _ensure_tables(conn: psycopg.Connection) -> None:
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
    conn.execute(
        """
        CREATE TABLE IF NOT EXISTS schema_functions (
            name text PRIMARY KEY,
            checksum text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    # Which release of the code last changed the schema, and when: the database's version
    # as `ebs db status` and the backup manifest tell it.
    conn.execute(
        """
        CREATE TABLE IF NOT EXISTS schema_upgrades (
            upgraded_at timestamptz NOT NULL DEFAULT now(),
            code_version text NOT NULL,
            latest_migration text NOT NULL
        )
        """
    )


@dataclass(frozen=True)
class DatabaseVersion:
    migrations: list[str]  # applied, oldest first
    schema_checksum: str  # over every applied migration's and function file's checksum
    release: str | None  # the code version that last upgraded it (None: not recorded)

    @property
    def latest_migration(self) -> str:
        return self.migrations[-1] if self.migrations else "none"


def database_version(conn: psycopg.Connection) -> DatabaseVersion:
    """What the database carries: its migrations, a checksum of its schema as the files
    made it, and the release that last upgraded it."""
    def table(name: str) -> bool:
        return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()[0]

    rows, functions, release = [], [], None
    if table("schema_migrations"):
        rows = conn.execute(
            "SELECT version, checksum FROM schema_migrations ORDER BY version").fetchall()
    if table("schema_functions"):
        functions = conn.execute(
            "SELECT name, checksum FROM schema_functions ORDER BY name").fetchall()
    if table("schema_upgrades"):
        found = conn.execute("SELECT code_version FROM schema_upgrades"
                             " ORDER BY upgraded_at DESC LIMIT 1").fetchone()
        release = found[0] if found else None
    digest = hashlib.sha256()
    for name, checksum in [*rows, *functions]:
        digest.update(f"{name}:{checksum}\n".encode())
    return DatabaseVersion([v for v, _ in rows], digest.hexdigest(), release)


def applied_versions(conn: psycopg.Connection) -> list[str]:
    exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()[0]
    if not exists:
        return []
    return [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]


def pending(conn: psycopg.Connection, directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migrations still to apply; refuses a database newer than the code and an applied
    migration whose file has changed since."""
    known = available(directory)
    rows = []
    if conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()[0]:
        rows = conn.execute(
            "SELECT version, checksum, applied_at FROM schema_migrations ORDER BY version"
        ).fetchall()
    done = {version: (checksum, at) for version, checksum, at in rows}
    newer = sorted(set(done) - {m.version for m in known})
    if newer:
        latest = known[-1].version if known else "none"
        raise MigrationError(
            f"the database has migration {newer[-1]}, newer than this code knows "
            f"(latest here: {latest}); upgrade the code before using this database"
        )
    for m in known:
        if m.version in done and done[m.version][0] != m.checksum:
            raise MigrationError(
                f"{m.label} was applied on {done[m.version][1]:%Y-%m-%d %H:%M %Z} and its file "
                f"has changed since; an applied migration is never edited: restore the file "
                f"(git log -p {m.label}) and put the change in a new migration"
            )
    return [m for m in known if m.version not in done]


def changed_functions(
    conn: psycopg.Connection, directory: Path = FUNCTIONS_DIR
) -> list[FunctionFile]:
    """Function files whose text differs from the one last applied, or whose function is
    missing from the database (a migration dropped it)."""
    applied = {}
    if conn.execute("SELECT to_regclass('schema_functions') IS NOT NULL").fetchone()[0]:
        applied = dict(conn.execute("SELECT name, checksum FROM schema_functions").fetchall())
    present = {r[0] for r in conn.execute(
        "SELECT proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace")}
    return [f for f in function_files(directory)
            if applied.get(f.name) != f.checksum or f.name not in present]


def _adopt_squashed(conn: psycopg.Connection) -> None:
    """Record a database built from the migrations the baseline replaced as carrying it."""
    done = set(applied_versions(conn))
    if not done & _SQUASHED:
        return
    if not _SQUASHED.issubset(done):
        raise MigrationError(
            f"the database stopped part-way through the migrations squashed into "
            f"{BASELINE}_baseline.sql (latest: {max(done & _SQUASHED)}); rebuild it from scratch"
        )
    conn.execute("DELETE FROM schema_migrations WHERE version = ANY(%s)", (sorted(_SQUASHED),))
    conn.execute(
        "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, 'baseline', %s)",
        (BASELINE, next(m.checksum for m in available() if m.version == BASELINE)),
    )


@contextmanager
def _lock(conn: psycopg.Connection) -> Iterator[None]:
    conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_ID,))
    try:
        yield
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_ID,))


def _create(conn: psycopg.Connection, files: list[FunctionFile]) -> dict[str, Exception]:
    """Create what can be created, retrying the rest while each round makes progress (one
    function's body may name another); returns each file that failed with its error."""
    todo, failed = list(files), {}
    while todo:
        failed = {}
        for f in todo:
            try:
                with conn.transaction():
                    conn.execute(f.sql.encode())
            except psycopg.Error as exc:
                failed[f.name] = exc
        if len(failed) == len(todo):
            break
        todo = [f for f in todo if f.name in failed]
    return failed


def _function_error(f: FunctionFile, exc: Exception) -> MigrationError:
    hint = ""
    if isinstance(exc, errors.InvalidFunctionDefinition):
        hint = (f" — CREATE OR REPLACE cannot change a function's signature (argument names "
                f"or types, defaults, return type): add a migration that runs "
                f"DROP FUNCTION {f.name}(<old argument types>), and keep the new definition "
                f"in {f.label}")
    what = getattr(getattr(exc, "diag", None), "message_primary", None) or str(exc)
    return MigrationError(f"{f.label} failed and the upgrade was rolled back: {what}{hint}")


def _check_functions(conn: psycopg.Connection, files: list[FunctionFile]) -> None:
    """Each file left one function of its name, and none executable by PUBLIC."""
    names = [f.name for f in files]
    doubled = conn.execute(
        """
        SELECT proname, string_agg(oid::regprocedure::text, ', ' ORDER BY oid)
          FROM pg_proc
         WHERE pronamespace = 'public'::regnamespace AND proname = ANY(%s)
         GROUP BY proname HAVING count(*) > 1
        """, (names,)).fetchone()
    if doubled:
        raise MigrationError(
            f"functions/{doubled[0]}.sql: the database now has {doubled[1]}; a signature "
            f"change needs a migration that drops the old one (DROP FUNCTION …); rolled back"
        )
    public = conn.execute(
        """
        SELECT p.proname FROM pg_proc p
         WHERE p.pronamespace = 'public'::regnamespace AND p.proname = ANY(%s)
           AND EXISTS (SELECT 1 FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                        WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE')
         ORDER BY 1
        """, (names,)).fetchone()
    if public:
        raise MigrationError(
            f"functions/{public[0]}.sql leaves {public[0]} executable by PUBLIC: end the file "
            f"with REVOKE ALL ON FUNCTION {public[0]}(…) FROM PUBLIC and grant the roles "
            f"that call it; rolled back"
        )


def upgrade(
    conn: psycopg.Connection,
    directory: Path = MIGRATIONS_DIR,
    progress: Callable[[_SqlFile], None] | None = None,
    functions_directory: Path = FUNCTIONS_DIR,
) -> list[Migration]:
    """Apply pending migrations and changed function files (see the module's docstring);
    returns the migrations applied (none on a second run). ``progress`` hears of each
    migration and function file as it is applied."""
    idle = conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    if not idle:
        raise MigrationError("upgrade needs a connection with no transaction open")
    autocommit = conn.autocommit
    conn.autocommit = True  # transactions below are explicit; one migration may need none
    try:
        with _lock(conn):
            return _upgrade(conn, directory, functions_directory, progress or (lambda _f: None))
    finally:
        conn.autocommit = autocommit


def _upgrade(
    conn: psycopg.Connection,
    directory: Path,
    functions_directory: Path,
    tell: Callable[[_SqlFile], None],
) -> list[Migration]:
    with conn.transaction():
        _ensure_tables(conn)
        _adopt_squashed(conn)
    rest = pending(conn, directory)
    if not rest and not changed_functions(conn, functions_directory):
        return []
    applied: list[Migration] = []
    first = True
    while True:
        batch = []
        for m in rest:
            if not m.transactional:
                break
            batch.append(m)
        rest = rest[len(batch):]
        with conn.transaction():
            if first and (batch or rest):
                conn.execute("SET LOCAL check_function_bodies = off")
                _create(conn, changed_functions(conn, functions_directory))
            for migration in batch:
                tell(migration)
                _apply(conn, migration)
                applied.append(migration)
            if not rest:
                _finish_functions(conn, functions_directory, tell)
                _record_upgrade(conn)
                return applied
        first = False
        alone = rest.pop(0)
        tell(alone)
        _apply_alone(conn, alone)
        applied.append(alone)


def _finish_functions(
    conn: psycopg.Connection, directory: Path, tell: Callable[[_SqlFile], None]
) -> None:
    """Create the changed function files with their bodies checked against the finished
    schema, check what they left, and record their checksums."""
    conn.execute("SET LOCAL check_function_bodies = on")
    functions = changed_functions(conn, directory)
    for f in functions:
        tell(f)
    failed = _create(conn, functions)
    if failed:
        first = next(f for f in functions if f.name in failed)
        raise _function_error(first, failed[first.name])
    _check_functions(conn, function_files(directory))
    for f in functions:
        conn.execute(
            """
            INSERT INTO schema_functions (name, checksum) VALUES (%s, %s)
            ON CONFLICT (name) DO UPDATE SET checksum = EXCLUDED.checksum, applied_at = now()
            """, (f.name, f.checksum))


def _apply(conn: psycopg.Connection, migration: Migration) -> None:
    try:
        with conn.transaction():
            conn.execute(migration.sql.encode())
    except psycopg.Error as exc:
        raise MigrationError(
            f"migration {migration.path.name} failed and the upgrade was rolled back: {exc}"
        ) from exc
    _record(conn, migration)


def _apply_alone(conn: psycopg.Connection, migration: Migration) -> None:
    try:
        for statement in sql_script.statements(migration.sql):
            conn.execute(statement.text.encode())
    except psycopg.Error as exc:
        raise MigrationError(
            f"migration {migration.path.name} (no-transaction) failed part-way: {exc}; "
            f"the migrations before it are applied, fix it and run the upgrade again"
        ) from exc
    with conn.transaction():
        _record(conn, migration)


def _record_upgrade(conn: psycopg.Connection) -> None:
    latest = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()[0]
    conn.execute("INSERT INTO schema_upgrades (code_version, latest_migration) VALUES (%s, %s)",
                 (code_version(), latest or "none"))


def _record(conn: psycopg.Connection, migration: Migration) -> None:
    conn.execute(
        "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
        (migration.version, migration.name, migration.checksum),
    )
