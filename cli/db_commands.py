"""``ebs db``: schema migrations."""

from __future__ import annotations

import click

from billing import schema
from cli.common import open_db


@click.group()
def db() -> None:
    """The database schema."""


@db.command()
def upgrade() -> None:
    """Apply pending migrations from sql/migrations (a second run changes nothing)."""
    with open_db() as conn:
        try:
            applied = schema.upgrade(
                conn, progress=lambda m: click.echo(f"applying {m.path.name}")
            )
        except schema.MigrationError as exc:
            raise click.ClickException(str(exc)) from None
    if applied:
        click.echo(f"applied {len(applied)} migration(s)")
    else:
        click.echo("schema is up to date")


@db.command()
def status() -> None:
    """List migrations and whether each is applied."""
    with open_db() as conn:
        done = set(schema.applied_versions(conn))
    for m in schema.available():
        click.echo(f"{'applied' if m.version in done else 'pending':8} {m.path.name}")
