"""``ebs backup``, ``ebs restore FILE``, ``ebs upgrade``: the operator's releases and
archives (stack/backup.py, stack/restore.py, stack/upgrade.py do the work)."""

from __future__ import annotations

from pathlib import Path

import click

from cli.common import load_settings
from stack import archive
from stack import backup as backup_mod
from stack import restore as restore_mod
from stack import upgrade as upgrade_mod


def _say(message: str) -> None:
    click.echo(f"ebs: {message}")


def _mib(size: int) -> str:
    return f"{size / (1 << 20):,.1f} MiB"


class _DumpBar:
    """A progress bar over the dump, weighted by table size; quiet when not a terminal."""

    def __init__(self) -> None:
        self.bar = None
        self.shown = 0

    def __call__(self, done: int, total: int, table: str) -> None:
        if self.bar is None:
            self.bar = click.progressbar(length=total, label="dumping the database",
                                         show_pos=False, show_percent=True,
                                         item_show_func=lambda t: t or "")
            self.bar.__enter__()
        self.bar.update(done - self.shown, table)
        self.shown = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


@click.command()
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Where to write the archive (default: BACKUP_DIR, else "
              "STATE_DIR/backups).")
@click.option("--label", default="", metavar="WORD",
              help="A word added to the file name (letters, digits, dashes).")
@click.option("--no-offsite", is_flag=True,
              help="Skip the rsync/S3 copies configured by BACKUP_RSYNC_TARGET / BACKUP_S3_*.")
@click.option("--list", "list_only", is_flag=True, help="List the archives kept and exit.")
def backup(directory: Path | None, label: str, no_offsite: bool, list_only: bool) -> None:
    """Back up the database (pg_dump, custom format), the data folder (secrets, spooled
    accounting) and the settings into one timestamped archive with a manifest; keep the
    newest BACKUP_KEEP; copy it off-site when configured. Exit 1 when anything failed."""
    settings = load_settings()
    where = directory or backup_mod.backup_dir(settings)
    if list_only:
        for path in backup_mod.list_backups(where):
            try:
                made = archive.read_manifest(path)
                what = f"ebs {made.code_version}, schema {made.latest_migration}"
            except archive.ArchiveError as exc:
                what = f"unreadable: {exc}"
            click.echo(f"{path}  {_mib(path.stat().st_size):>12}  {what}")
        return
    if label and not all(c.isalnum() or c == "-" for c in label):
        raise click.BadParameter("letters, digits and dashes only", param_hint="--label")
    bar = _DumpBar()
    try:
        result = backup_mod.take(settings, directory=where, label=label.lower(),
                                 progress=bar, offsite_copy=not no_offsite)
    except backup_mod.BackupError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        bar.close()
    _say(f"backup {result.path} ({_mib(result.size)}, {result.seconds:.1f} s)")
    for path in result.removed:
        _say(f"removed old backup {path.name} (BACKUP_KEEP={settings.BACKUP_KEEP})")
    for place in result.copies:
        _say(f"copied to {place}")
    if result.copy_errors:
        for problem in result.copy_errors:
            click.echo(f"ebs: error: {problem}", err=True)
        raise SystemExit(1)


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--check", "check_only", is_flag=True,
              help="Only verify the archive (manifest, checksums, versions) and exit.")
@click.option("--jobs", type=click.IntRange(1, 16), default=2, show_default=True,
              help="pg_restore's parallel jobs.")
@click.option("--drop-previous", is_flag=True,
              help="Drop the replaced database after a successful restore (kept by default "
              "as <DB_NAME>_before_restore_<time>).")
def restore(file: Path, check_only: bool, jobs: int, drop_previous: bool) -> None:
    """Restore an `ebs backup` archive: verify it before touching anything, stop the
    services, restore into a new database, migrate it to this code, swap it in, put the
    data folder back, start the services. A failed restore leaves the old database."""
    settings = load_settings()
    if check_only:
        try:
            made = restore_mod.check(file)
        except archive.ArchiveError as exc:
            raise click.ClickException(f"{file}: {exc}") from None
        _say(f"{file}: intact; ebs {made.code_version}, made {made.created_at}, schema "
             f"{made.latest_migration}, parts "
             + ", ".join(f"{p.name} {_mib(p.size)}" for p in made.parts))
        return
    try:
        result = restore_mod.restore(settings, file, _say, jobs=jobs,
                                     drop_previous=drop_previous)
    except restore_mod.RestoreError as exc:
        raise click.ClickException(str(exc)) from None
    _say(f"restored {file.name} in {result.seconds:.1f} s"
         + (f"; migrations applied: {', '.join(result.migrations_applied)}"
            if result.migrations_applied else ""))


@click.command()
@click.option("--no-backup", is_flag=True,
              help="Upgrade without the backup taken first (not recommended).")
def upgrade(no_backup: bool) -> None:
    """Upgrade the database to this code: stop the services, take a backup, apply the
    migrations and function files, start the services. A failed migration leaves the
    database at its old version and prints the command that restores the backup."""
    settings = load_settings()
    bar = _DumpBar()
    try:
        result = upgrade_mod.upgrade(settings, _say, take_backup=not no_backup, progress=bar)
    except upgrade_mod.UpgradeError as exc:
        bar.close()
        raise click.ClickException(str(exc)) from None
    bar.close()
    if result is None:
        _say("the database is up to date; nothing was stopped")
        return
    _say(f"upgraded: schema {result.before} -> {result.after}, {len(result.applied)} "
         f"migration(s), {len(result.functions)} function file(s)")
