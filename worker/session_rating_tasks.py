"""``ebs.rate_sessions``: the sessions' accounting counters and time online to charges
(flow/session_rater.py): RADIUS-counter traffic and time charging."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from billing import settings as settings_mod
from billing.db import connect
from flow.session_rater import rate_sessions
from worker import arguments
from worker.app import celery


@celery.task(name="ebs.rate_sessions")
def rate_sessions_task(at: str | None = None) -> dict:
    """Rate what the sessions' octets and seconds grew by up to ``at`` (ISO time,
    default now).

    Beat sends it every minute, beside ``ebs.rate_traffic``; both take the rater's lock
    and a run that finds it held gives way at once (the next minute rates what it did
    not: the growth is measured from each session's mark, not from the clock)."""
    settings = settings_mod.load()
    moment = arguments.moment(at, settings)
    with connect(settings_mod.database_conninfo(settings, component="worker"),
                 autocommit=True) as conn:
        result = rate_sessions(conn, moment, ZoneInfo(settings.TIME_ZONE),
                               late_minutes=int(settings.FLOW_RATE_LATE_MINUTES), wait=False)
    return result.as_dict()
