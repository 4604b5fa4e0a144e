"""``ebs restore FILE``: the archive checked before anything stops, the database restored
beside the old one and swapped in only when complete and migrated.

Order, and what a failure at each step leaves:

1. verify the archive (stack/archive.py) and unpack its parts into a scratch folder —
   a bad archive is refused here, with every service still running;
2. stop the services (stack/maintenance.py), restore the dump into a new database
   ``<DB_NAME>_restoring`` and migrate it to this code's schema — a failure drops that
   database, the old one is untouched, the services start again;
3. swap: the old database becomes ``<DB_NAME>_before_restore_<time>`` (kept, unless asked
   to drop it), the restored one takes its name;
4. put back the data folder: the secrets file by file, the spooled accounting as new spool
   files (applying an entry twice changes nothing, so nothing is lost or doubled); the
   settings file is never overwritten: the archive's copy is written beside it when it
   differs, for the operator to compare;
5. the roles' passwords from the restored secrets, then the services start again.
"""

from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import psycopg
from psycopg import sql

from billing import schema
from billing import settings as settings_mod
from billing.release import code_version
from stack import archive, maintenance
from stack.backup import data_sources
from stack.installed import UnitError
from stack.servers.postgres import PostgresServer, pg_bindir

Report = Callable[[str], None]


class RestoreError(Exception):
    """The restore did not happen; the message says why and what was left as it was."""


@dataclass
class RestoreResult:
    manifest: archive.Manifest
    seconds: float = 0.0
    previous_database: str | None = None  # the old database, kept under this name
    migrations_applied: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def check(path: Path) -> archive.Manifest:
    """Everything about the archive that can be known without touching the system."""
    return archive.verify(Path(path), {m.version for m in schema.available()}, code_version())


def restore(settings: SimpleNamespace, path: Path, report: Report, *, jobs: int = 2,
            drop_previous: bool = False) -> RestoreResult:
    started = time.monotonic()
    try:
        manifest = check(path)
    except archive.ArchiveError as exc:
        raise RestoreError(f"{path}: {exc}; nothing was stopped or changed") from None
    report(f"archive ok: ebs {manifest.code_version}, made {manifest.created_at}, "
           f"schema {manifest.latest_migration}")
    result = RestoreResult(manifest)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    state = Path(settings.STATE_DIR)
    state.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".ebs-restore-", dir=state) as tmp:
        scratch = Path(tmp)
        try:
            dump = archive.extract_part(Path(path), archive.DATABASE, scratch / archive.DATABASE)
            toc = _restore_list(dump, scratch / "restore.list")
            files = scratch / "files"
            files.mkdir(mode=0o700)
            if archive.FILES in {p.name for p in manifest.parts}:
                packed = archive.extract_part(Path(path), archive.FILES, scratch / archive.FILES)
                archive.unpack_files(packed, files)
            saved_settings = None
            if archive.SETTINGS in {p.name for p in manifest.parts}:
                saved_settings = archive.extract_part(
                    Path(path), archive.SETTINGS, scratch / archive.SETTINGS)
        except (archive.ArchiveError, OSError) as exc:
            raise RestoreError(f"{path}: {exc}; nothing was stopped or changed") from None

        with maintenance.services_stopped(settings, report) as window:
            pg = window.stack.postgres
            name = settings.DB_NAME
            restoring = f"{name}_restoring"
            try:
                pg.drop_database(restoring)  # left by a restore that was killed
                pg.create_database(restoring)
                report(f"restoring the database into {restoring}")
                _pg_restore(pg, restoring, dump, toc, jobs)
                with psycopg.connect(pg.conninfo(restoring), autocommit=True) as conn:
                    result.migrations_applied = [
                        m.version for m in schema.upgrade(
                            conn, progress=lambda f: report(f"applying {f.label}"))]
            except (RestoreError, schema.MigrationError, psycopg.Error, UnitError) as exc:
                pg.drop_database(restoring)
                raise RestoreError(
                    f"restore failed: {exc}; the database {name} was left as it was") from None
            result.previous_database = _swap(pg, name, restoring, f"{name}_before_restore_{stamp}")
            report(f"the restored database is {name}"
                   + (f"; the previous one is kept as {result.previous_database}"
                      if result.previous_database else ""))
            _put_back_files(settings, files, stamp, report)
            if saved_settings is not None:
                note = _offer_settings(saved_settings, stamp)
                if note:
                    result.notes.append(note)
                    report(note)
            pg.setup_roles()  # the passwords of the restored secrets
            if drop_previous and result.previous_database:
                pg.drop_database(result.previous_database)
                report(f"dropped {result.previous_database}")
                result.previous_database = None
    result.seconds = time.monotonic() - started
    return result


def _restore_list(dump: Path, target: Path) -> Path:
    """pg_restore's table of contents without the extensions: the set-up creates those as
    the superuser (db_roles.prepare_database); the owner restores everything else."""
    listed = subprocess.run([str(pg_bindir() / "pg_restore"), "--list", str(dump)],
                            capture_output=True, text=True, check=False)
    if listed.returncode != 0:
        why = (listed.stderr.strip().splitlines() or ["unreadable"])[-1]
        raise archive.ArchiveError(f"the database dump cannot be read: {why}")
    kept = [line for line in listed.stdout.splitlines() if " EXTENSION " not in line]
    target.write_text("\n".join(kept) + "\n", encoding="utf-8")
    return target


def _pg_restore(pg: PostgresServer, dbname: str, dump: Path, toc: Path, jobs: int) -> None:
    conninfo, env = pg.tool_conninfo(dbname)
    done = subprocess.run(
        [str(pg_bindir() / "pg_restore"), "--no-owner", "--exit-on-error",
         f"--jobs={max(1, jobs)}", f"--use-list={toc}", f"--dbname={conninfo}", str(dump)],
        capture_output=True, text=True, check=False, env={**os.environ, **env})
    if done.returncode != 0:
        why = [line for line in done.stderr.splitlines() if line.strip()][-3:]
        raise RestoreError("pg_restore: " + " / ".join(why or [f"exit {done.returncode}"]))


def _swap(pg: PostgresServer, name: str, restored: str, previous: str) -> str | None:
    """Rename the old database away and the restored one into its place; the two renames
    either both happen or the old name is given back."""
    with psycopg.connect(pg.conninfo("postgres"), autocommit=True) as conn:
        existed = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                               (name,)).fetchone() is not None
    pg.as_superuser(lambda admin: _renames(admin, name, restored, previous, existed))
    return previous if existed else None


def _renames(admin: psycopg.Connection, name: str, restored: str, previous: str,
             existed: bool) -> None:
    if existed:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                      " WHERE datname = %s AND pid <> pg_backend_pid()", (name,))
        admin.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
            sql.Identifier(name), sql.Identifier(previous)))
    try:
        admin.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
            sql.Identifier(restored), sql.Identifier(name)))
    except psycopg.Error:
        if existed:
            admin.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                sql.Identifier(previous), sql.Identifier(name)))
        raise


def _put_back_files(settings: SimpleNamespace, files: Path, stamp: str,
                    report: Report) -> None:
    places = data_sources(settings)
    secrets = files / "secrets"
    if secrets.is_dir():
        for source in sorted(p for p in secrets.rglob("*") if p.is_file()):
            _replace(source, places["secrets"] / source.relative_to(secrets))
        report(f"secrets restored into {places['secrets']}")
    key = files / "credentials.key"
    if key.is_file():
        _replace(key, places.get("credentials.key", Path(settings.CREDENTIALS_KEY_FILE)))
    spool = files / "acct-spool"
    if spool.is_dir():
        target = places["acct-spool"]
        target.mkdir(parents=True, exist_ok=True)
        count = 0
        for number, source in enumerate(sorted(p for p in spool.iterdir() if p.is_file())):
            # A new spool name: the drain takes it as unread and applies it from the
            # start; entries the database already has change nothing.
            _replace(source, target / f"detail-restored-{stamp}-{number:04d}")
            count += 1
        if count:
            report(f"{count} spooled accounting file(s) put back for the drain")


def _replace(source: Path, target: Path) -> None:
    """Write ``target`` whole, then rename it into place (never a half-written secret)."""
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    partial = target.with_name(f".{target.name}.restoring")
    shutil.copyfile(source, partial)
    os.chmod(partial, source.stat().st_mode & 0o777)
    if os.geteuid() == 0:
        # root restores an installed system: the file stays the account's that reads it
        # (the one it replaces, else its directory's: the drain's spool).
        owner = (target if target.exists() else target.parent).stat()
        os.chown(partial, owner.st_uid, owner.st_gid)
    os.replace(partial, target)


def _offer_settings(saved: Path, stamp: str) -> str | None:
    """The settings in force stay; the archive's copy goes beside them when it differs."""
    current = settings_mod.settings_file()
    if current is not None and filecmp.cmp(current, saved, shallow=False):
        return None
    place = (current.parent if current is not None else settings_mod.CHECKOUT_SETTINGS.parent)
    target = place / f"settings_local.py.from-backup-{stamp}"
    try:
        _replace(saved, target)
    except OSError as exc:
        return f"the archive's settings_local.py could not be written to {target}: {exc}"
    return (f"the archive's settings_local.py differs from the one in force: it is in "
            f"{target}; compare and copy what you need")

