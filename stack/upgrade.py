"""``ebs upgrade``: services stopped, a backup taken, migrations and function files
applied, services started.

``billing.schema.upgrade`` applies everything in one transaction (a migration marked
``-- ebs: no-transaction`` excepted), so a migration that fails half-way leaves the
database at its old schema. The services then stay stopped — this code needs the new
schema — and the message names the one command that returns to the backup taken a moment
before (``ebs restore FILE``), for the operator who goes back to the previous release.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import psycopg

from billing import schema
from billing.release import code_version
from stack import backup, maintenance
from stack.installed import services

Report = Callable[[str], None]


class UpgradeError(Exception):
    """The upgrade did not complete; the message says what state it left and what to do."""


@dataclass
class UpgradeResult:
    before: str  # the latest migration before
    after: str
    applied: list[str] = field(default_factory=list)
    functions: list[str] = field(default_factory=list)
    backup: backup.BackupResult | None = None


def upgrade(settings: SimpleNamespace, report: Report, *, take_backup: bool = True,
            progress: backup.DumpProgress | None = None,
            migrations_dir: Path = schema.MIGRATIONS_DIR,
            functions_dir: Path = schema.FUNCTIONS_DIR) -> UpgradeResult | None:
    """Upgrade the database to this code; None when it is up to date (nothing is stopped
    then). The local stack's PostgreSQL is started for the job when it was not running
    (not by `ebs up`, which would migrate without a backup) and stopped again after; an
    installed system's is started through systemd if it was down, and left running."""
    pg = services(settings).postgres
    was_running = pg.running()
    if not was_running:
        report("starting postgresql")
        pg.start()
    try:
        with psycopg.connect(pg.conninfo(settings.DB_NAME), autocommit=True) as conn:
            try:
                waiting = schema.pending(conn, migrations_dir)
                changed = schema.changed_functions(conn, functions_dir)
            except schema.MigrationError as exc:
                raise UpgradeError(str(exc)) from None
            before = schema.database_version(conn).latest_migration
    except BaseException:
        if not was_running:
            pg.stop()
        raise
    if not waiting and not changed:
        if not was_running:
            pg.stop()
        return None
    report(f"upgrading the database from schema {before} to ebs {code_version()}: "
           f"{len(waiting)} migration(s), {len(changed)} function file(s)")
    result = UpgradeResult(before=before, after=before)
    with maintenance.services_stopped(settings, report, was_running) as window:
        if take_backup:
            try:
                result.backup = backup.take(settings, label="pre-upgrade", progress=progress,
                                            offsite_copy=False)
            except backup.BackupError as exc:
                raise UpgradeError(f"no backup, so no upgrade: {exc}") from None
            report(f"backup: {result.backup.path}")
        pg = window.stack.postgres
        try:
            with psycopg.connect(pg.conninfo(settings.DB_NAME), autocommit=True) as conn:
                def tell(item) -> None:
                    report(f"applying {item.label}")
                    (result.functions if isinstance(item, schema.FunctionFile)
                     else result.applied).append(item.label)
                schema.upgrade(conn, directory=migrations_dir, progress=tell,
                               functions_directory=functions_dir)
                result.after = schema.database_version(conn).latest_migration
        except (schema.MigrationError, psycopg.Error) as exc:
            window.restart = False
            with psycopg.connect(pg.conninfo(settings.DB_NAME), autocommit=True) as conn:
                now_at = schema.database_version(conn).latest_migration
            back = (f"\nTo return to the backup taken before it: ebs restore {result.backup.path}"
                    if result.backup else "")
            raise UpgradeError(
                f"{exc}\nThe database is at schema {now_at} (it was {before}); the services "
                f"are left stopped, since this code needs the new schema: fix the cause and "
                f"run `ebs upgrade` again.{back}") from None
    return result

