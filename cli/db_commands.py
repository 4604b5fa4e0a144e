"""``ebs db``: the schema (migrations and function files under sql/)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click

from billing import history_partitions, schema
from billing.release import code_version
from cli import release_fixture
from cli.common import load_settings, open_db
from cli.replica_commands import replica


@click.group()
def db() -> None:
    """The database schema."""


db.add_command(replica)


@db.command()
def upgrade() -> None:
    """Apply pending migrations from sql/migrations and the function files of sql/functions
    whose text changed (a second run changes nothing)."""
    functions = []

    def tell(item) -> None:
        if isinstance(item, schema.FunctionFile):
            functions.append(item)
        click.echo(f"applying {item.label}")

    with open_db() as conn:
        try:
            applied = schema.upgrade(conn, progress=tell)
        except schema.MigrationError as exc:
            raise click.ClickException(str(exc)) from None
    if applied or functions:
        click.echo(f"applied {len(applied)} migration(s), {len(functions)} function file(s)")
    else:
        click.echo("schema is up to date")


def versions_lines(conn) -> list[str]:
    """The code's and the database's versions, as `ebs --version` and `ebs db status`
    print them."""
    known = schema.available()
    found = schema.database_version(conn)
    waiting = [m for m in known if m.version not in set(found.migrations)]
    unknown = sorted(set(found.migrations) - {m.version for m in known})
    if unknown:
        state = f"NEWER than this code (migration {unknown[-1]}): upgrade the code"
    elif waiting:
        state = f"{len(waiting)} migration(s) pending: run `ebs upgrade`"
    else:
        state = "up to date"
    release = f"ebs {found.release}" if found.release else "release not recorded"
    return [
        f"code:     ebs {code_version()}, schema {known[-1].version if known else 'none'}",
        f"database: {release}, schema {found.latest_migration} ({state})",
    ]


@db.command()
def status() -> None:
    """The code's and the database's versions, then each migration and function file and
    whether it is applied as it is now."""
    with open_db() as conn:
        try:
            for line in versions_lines(conn):
                click.echo(line)
            waiting = {m.version for m in schema.pending(conn)}
            changed = {f.name for f in schema.changed_functions(conn)}
        except schema.MigrationError as exc:
            raise click.ClickException(str(exc)) from None
    for m in schema.available():
        click.echo(f"{'pending' if m.version in waiting else 'applied':8} {m.label}")
    for f in schema.function_files():
        click.echo(f"{'changed' if f.name in changed else 'applied':8} {f.label}")


@db.command("partitions")
def partitions_command() -> None:
    """Make the months of sessions_history and auth_log from last month to three ahead and
    drop the months past SESSIONS_HISTORY_KEEP_MONTHS / AUTH_LOG_KEEP_MONTHS (0: kept for
    ever), as the hourly beat task does. Prints what was made and dropped, and any table
    whose default partition holds rows (a month came before its partition)."""
    settings = load_settings()
    try:
        keep = history_partitions.keep_months(settings)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    with open_db(component="worker") as conn:
        result = history_partitions.maintain(conn, datetime.now(UTC), keep)
    click.echo(json.dumps(result, sort_keys=True))


@db.command("release-fixture")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write (default: tests/fixtures/release-<version>.sql.gz).")
@click.option("--upto", metavar="VERSION", default=None,
              help="Leave out the migrations newer than this one (YYYYMMDDHHMM).")
def release_fixture_command(out: Path | None, upto: str | None) -> None:
    """Build the release fixture of this checkout's version: the schema from scratch and
    the demo data on a private PostgreSQL, dumped as gzipped SQL (run it as the service
    user; scripts/release-fixture.sh does)."""
    version = code_version()
    path = release_fixture.build(out or release_fixture.fixture_path(version), upto)
    click.echo(f"release {version} fixture: {path} ({path.stat().st_size // 1024} KiB)")
