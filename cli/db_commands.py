"""``ebs db``: the schema (migrations and function files under sql/)."""

from __future__ import annotations

from pathlib import Path

import click

from billing import schema
from cli import release_fixture
from cli.common import open_db


@click.group()
def db() -> None:
    """The database schema."""


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


@db.command()
def status() -> None:
    """List migrations and function files, and whether each is applied as it is now."""
    with open_db() as conn:
        try:
            waiting = {m.version for m in schema.pending(conn)}
            changed = {f.name for f in schema.changed_functions(conn)}
        except schema.MigrationError as exc:
            raise click.ClickException(str(exc)) from None
    for m in schema.available():
        click.echo(f"{'pending' if m.version in waiting else 'applied':8} {m.label}")
    for f in schema.function_files():
        click.echo(f"{'changed' if f.name in changed else 'applied':8} {f.label}")


@db.command("release-fixture")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write (default: tests/fixtures/release-<version>.sql.gz).")
@click.option("--upto", metavar="VERSION", default=None,
              help="Leave out the migrations newer than this one (YYYYMMDDHHMM).")
def release_fixture_command(out: Path | None, upto: str | None) -> None:
    """Build the release fixture of this checkout's version: the schema from scratch and
    the demo data on a private PostgreSQL, dumped as gzipped SQL (run it as the service
    user; scripts/release-fixture.sh does)."""
    version = release_fixture.current_version()
    path = release_fixture.build(out or release_fixture.fixture_path(version), upto)
    click.echo(f"release {version} fixture: {path} ({path.stat().st_size // 1024} KiB)")
