"""Database connections: psycopg 3 everywhere, one place that knows how to connect."""

from __future__ import annotations

from types import SimpleNamespace

import psycopg

from billing import db_pooler
from billing import settings as settings_mod


def connect(
    conninfo: str | None = None,
    *,
    settings: SimpleNamespace | None = None,
    autocommit: bool = False,
    connect_timeout: int = 5,
) -> psycopg.Connection:
    """Open a connection to the billing database (the configured one unless given); one
    that leads through PgBouncer prepares nothing (billing/db_pooler.py)."""
    if conninfo is None:
        conninfo = settings_mod.database_conninfo(settings or settings_mod.load())
    return psycopg.connect(conninfo, autocommit=autocommit, connect_timeout=connect_timeout,
                           **db_pooler.connect_options(conninfo))
