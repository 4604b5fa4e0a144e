"""What every ``ebs`` command shares: settings, a database connection, clean failures."""

from __future__ import annotations

from types import SimpleNamespace

import click
import psycopg

from billing import settings as settings_mod
from billing.db import connect


def load_settings() -> SimpleNamespace:
    try:
        return settings_mod.load()
    except settings_mod.SettingsError as exc:
        raise click.ClickException(str(exc)) from None


def open_db(autocommit: bool = True, component: str | None = None) -> psycopg.Connection:
    """Connect to the configured database or fail with one line saying where we tried:
    as the owner, or as ``component``'s role for a command that does that part's work."""
    settings = load_settings()
    try:
        conninfo = settings_mod.database_conninfo(settings, component=component)
    except settings_mod.SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        return connect(conninfo, autocommit=autocommit)
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "no answer"
        raise click.ClickException(
            f"cannot connect to PostgreSQL at {settings.DB_HOST or 'socket'}:{settings.DB_PORT} "
            f"database {settings.DB_NAME!r} ({first}); is the stack up (ebs up)?"
        ) from None
