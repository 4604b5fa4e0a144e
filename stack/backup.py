"""``ebs backup``: the database, the data folder and the settings in one archive.

The data folder is packed **before** the database is dumped. The accounting spool's read
positions live in the database, and applying an entry twice changes nothing
(``stack/acct_spool.py``), so a spool file copied first and a dump taken after it restore
to the same state: entries applied in between are applied again, harmlessly. The other
order would lose the entries of a spool file applied and removed in between.

The archive is written under a temporary name and renamed when complete, so a full disk, a
missing directory or a failed ``pg_dump`` leaves the earlier backups as they were and no
file that looks like a backup; old archives are pruned (``BACKUP_KEEP``) only after a new
one is complete. Copies to a remote path (rsync) or an S3-compatible store follow
(``stack/offsite.py``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from billing import schema
from billing import settings as settings_mod
from billing.release import code_version
from stack import acct_spool, archive, offsite
from stack.servers.postgres import pg_bindir

# done bytes, total bytes, the table being dumped
DumpProgress = Callable[[int, int, str], None]
_DUMPING = re.compile(r'dumping contents of table "(?P<table>[^"]+)"')


class BackupError(Exception):
    """No backup was made; the message says why. Earlier backups are untouched."""


@dataclass
class BackupResult:
    path: Path
    size: int
    seconds: float
    manifest: archive.Manifest
    removed: list[Path] = field(default_factory=list)
    copies: list[str] = field(default_factory=list)
    copy_errors: list[str] = field(default_factory=list)


def backup_dir(settings: SimpleNamespace) -> Path:
    """``BACKUP_DIR``, else ``STATE_DIR/backups``."""
    named = getattr(settings, "BACKUP_DIR", "")
    return Path(named) if named else Path(settings.STATE_DIR) / "backups"


def data_sources(settings: SimpleNamespace) -> dict[str, Path]:
    """What of the data folder a restore needs, by label: the generated secrets (the
    credentials key seals the CHAP passwords stored in the database) and the accounting
    the spool holds and the database has not applied yet."""
    secrets = Path(settings.STATE_DIR) / "secrets"
    sources = {"secrets": secrets, "acct-spool": acct_spool.spool_dir(settings)}
    key = Path(settings.CREDENTIALS_KEY_FILE)
    if not key.is_relative_to(secrets):
        sources["credentials.key"] = key
    return sources


def owner_conninfo(settings: SimpleNamespace, dbname: str | None = None) -> tuple[str, dict]:
    """The owner's connection for the PostgreSQL tools: the conninfo without its password
    (argv is visible to every local user) and the environment carrying it."""
    params = conninfo_to_dict(settings_mod.database_conninfo(settings, dbname=dbname))
    password = params.pop("password", None)
    env = {**os.environ, "PGPASSWORD": password} if password else dict(os.environ)
    return make_conninfo(**params), env


def _free_name(directory: Path, now: datetime, label: str) -> Path:
    """The archive's path, named by the second it starts; a second backup started within
    the same second (a small database, a retried command) takes the next free second, so
    names stay unique and keep sorting by time instead of the backup failing."""
    while True:
        target = directory / archive.archive_name(now.strftime("%Y%m%dT%H%M%SZ"), label)
        if not target.exists():
            return target
        now += timedelta(seconds=1)


def take(settings: SimpleNamespace, *, directory: Path | None = None, label: str = "",
         progress: DumpProgress | None = None, offsite_copy: bool = True,
         now: datetime | None = None) -> BackupResult:
    """Make one archive in ``directory`` (default :func:`backup_dir`), prune the old ones,
    copy it off-site when configured. Raises :class:`BackupError` when no archive was made;
    a failed copy is reported in the result (the local archive stands)."""
    started = time.monotonic()
    now = now or datetime.now(UTC)
    directory = Path(directory) if directory else backup_dir(settings)
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise BackupError(f"backup directory {directory}: {exc.strerror or exc}") from None
    if not os.access(directory, os.W_OK | os.X_OK):
        raise BackupError(f"backup directory {directory} is not writable")
    target = _free_name(directory, now, label)

    conninfo, env = owner_conninfo(settings)
    try:
        with psycopg.connect(conninfo, autocommit=True, connect_timeout=10,
                             password=env.get("PGPASSWORD")) as conn:
            found = schema.database_version(conn)
            sizes = table_sizes(conn)
            db_size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
    except psycopg.OperationalError as exc:
        raise BackupError(f"cannot reach the database: {_first_line(exc)}") from None

    try:
        with tempfile.TemporaryDirectory(prefix=".ebs-backup-", dir=directory) as tmp:
            staging = Path(tmp)
            parts: dict[str, Path] = {}
            parts[archive.FILES] = staging / archive.FILES
            packed = archive.pack_files(parts[archive.FILES], data_sources(settings))
            parts[archive.DATABASE] = staging / archive.DATABASE
            dump_database(conninfo, env, parts[archive.DATABASE], sizes, progress)
            settings_file = settings_mod.settings_file()
            if settings_file is not None:
                parts[archive.SETTINGS] = staging / archive.SETTINGS
                shutil.copyfile(settings_file, parts[archive.SETTINGS])
            described = []
            for name, path in parts.items():
                part = archive.file_digest(path)
                described.append(archive.Part(name, part.size, part.sha256))
            manifest = archive.Manifest(
                code_version=code_version(),
                created_at=now.isoformat(timespec="seconds"),
                database={"name": settings.DB_NAME, "migrations": found.migrations,
                          "latest_migration": found.latest_migration,
                          "release": found.release, "schema_checksum": found.schema_checksum,
                          "size": db_size},
                parts=described, files=packed)
            archive.write(target, manifest, parts)
    except OSError as exc:
        raise BackupError(f"writing the backup into {directory} failed: "
                          f"{exc.strerror or exc}; earlier backups are untouched") from None

    result = BackupResult(target, target.stat().st_size, 0.0, manifest)
    result.removed = prune(directory, int(getattr(settings, "BACKUP_KEEP", 0) or 0))
    if offsite_copy:
        result.copies, result.copy_errors = offsite.copy(settings, target)
    result.seconds = time.monotonic() - started
    return result


def table_sizes(conn: psycopg.Connection) -> dict[str, int]:
    """Each table's heap size by ``schema.name``: the dump's progress weighs tables by it."""
    return dict(conn.execute(
        """
        SELECT n.nspname || '.' || c.relname, pg_table_size(c.oid)
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'm')
           AND n.nspname NOT IN ('pg_catalog', 'information_schema')
        """).fetchall())


def dump_database(conninfo: str, env: dict, target: Path, sizes: dict[str, int],
                  progress: DumpProgress | None = None) -> None:
    """``pg_dump`` in the custom format (compressed, one consistent snapshot), reporting
    progress as it moves from table to table."""
    argv = [str(pg_bindir() / "pg_dump"), "--format=custom", "--verbose",
            f"--file={target}", f"--dbname={conninfo}"]
    total = max(sum(sizes.values()), 1)
    done, current, errors = 0, "", []
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    for line in proc.stderr:
        match = _DUMPING.search(line)
        if match:
            done += sizes.get(current, 0)
            current = match["table"]
            if progress:
                progress(done, total, current)
        elif "error" in line.lower() or "fatal" in line.lower():
            errors.append(line.strip())
    if proc.wait() != 0:
        why = "; ".join(errors[-3:]) or f"exit {proc.returncode}"
        raise BackupError(f"pg_dump failed: {why}")
    if progress:
        progress(total, total, "")


def prune(directory: Path, keep: int) -> list[Path]:
    """Remove the oldest archives beyond the newest ``keep`` (0 keeps them all)."""
    if keep <= 0:
        return []
    found = sorted(p for p in directory.iterdir() if archive.is_archive_name(p.name))
    removed = found[:-keep] if len(found) > keep else []
    for path in removed:
        path.unlink(missing_ok=True)
    return removed


def list_backups(directory: Path) -> list[Path]:
    """The archives in ``directory``, oldest first."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if archive.is_archive_name(p.name))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
