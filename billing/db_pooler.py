"""Where a component's database connections go: PostgreSQL itself, or PgBouncer before it.

Many FreeRADIUS nodes each keep a pool of connections (up to ``max_servers`` apiece);
PgBouncer in transaction pooling lets them share a few server connections. A component
named in ``DB_POOLER_COMPONENTS`` connects to ``DB_POOLER_HOST:DB_POOLER_PORT`` instead
of PostgreSQL, with the same database name, role and password.

Debian 12's PgBouncer (1.18) does not track prepared statements: in transaction mode
the next transaction may run on another server connection, which does not know a
statement the previous one prepared ("prepared statement _pg3_0 does not exist"). So a
psycopg connection made through the pooler turns automatic prepare off
(``prepare_threshold=None``). The conninfo string carries that fact itself
(:class:`PooledConninfo`), so every call site keeps calling
``billing.db.connect(settings.database_conninfo(...))`` unchanged.

Which pool mode a role needs is PgBouncer's configuration, not ours: FreeRADIUS's
rlm_sql sends single statements and keeps no session state (transaction mode); the
worker's charge tick and the accounting drain keep temporary tables and settings across
transactions (session mode). docs/scaling.md says why, role by role.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any


class PooledConninfo(str):
    """A libpq connection string that leads through the pooler."""


def pooled_components(settings: SimpleNamespace) -> set[str]:
    """The components routed through the pooler; none while ``DB_POOLER_PORT`` is 0."""
    if not int(settings.DB_POOLER_PORT or 0):
        return set()
    named = settings.DB_POOLER_COMPONENTS
    if isinstance(named, str):  # EBS_DB_POOLER_COMPONENTS="radius,worker"
        named = named.split(",")
    return {str(name).strip() for name in named if str(name).strip()}


def pooled(settings: SimpleNamespace, component: str | None) -> bool:
    """Whether ``component``'s connections go through the pooler (the owner's never do:
    migrations take a session-level advisory lock)."""
    return component is not None and component in pooled_components(settings)


def address(settings: SimpleNamespace, component: str | None) -> tuple[str, int]:
    """The host (or socket directory) and port ``component`` connects to."""
    if pooled(settings, component):
        return settings.DB_POOLER_HOST, int(settings.DB_POOLER_PORT)
    return settings.DB_HOST or str(Path(settings.STATE_DIR) / "run"), int(settings.DB_PORT)


def connect_options(conninfo: str) -> dict[str, Any]:
    """psycopg's keyword arguments for a connection to ``conninfo``."""
    return {"prepare_threshold": None} if isinstance(conninfo, PooledConninfo) else {}
