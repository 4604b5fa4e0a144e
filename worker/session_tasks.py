"""Session housekeeping tasks; the work is set-based SQL in ``billing.sessions``."""

from __future__ import annotations

from billing import sessions
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
