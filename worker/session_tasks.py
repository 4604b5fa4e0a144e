"""Session housekeeping tasks; the work is set-based SQL in ``billing.sessions``."""

from __future__ import annotations

from datetime import UTC, datetime

from billing import history_partitions, sessions
from billing import settings as settings_mod
from billing.db import connect
from worker import arguments
from worker.app import celery


@celery.task(name="ebs.sweep_sessions")
def sweep_sessions(at: str | None = None) -> dict:
    """Close sessions whose NAS went silent for 3 interim intervals (cause Stale-Session).

    ``at`` (ISO 8601) replaces the clock for tests and replays, never a moment ahead of
    it (every session would look silent); the sweep is idempotent.
    """
    settings = settings_mod.load()
    now = arguments.moment(at, settings)
    with connect(settings_mod.database_conninfo(settings, component="worker")) as conn:
        result = sessions.sweep_stale_sessions(conn, now)
    return {"closed": result.closed, "partitions_created": result.partitions_created,
            "at": now.isoformat()}


@celery.task(name="ebs.history_partitions")
def history_partitions_task() -> dict:
    """The months of sessions_history and auth_log around now made, and those past
    SESSIONS_HISTORY_KEEP_MONTHS / AUTH_LOG_KEEP_MONTHS dropped."""
    settings = settings_mod.load()
    conninfo = settings_mod.database_conninfo(settings, component="worker")
    with connect(conninfo, autocommit=True) as conn:
        conn.execute("SET lock_timeout = '5s'")  # the next hour tries again
        return history_partitions.maintain(conn, datetime.now(UTC),
                                           history_partitions.keep_months(settings))
