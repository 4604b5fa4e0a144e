"""``ebs.rate_traffic``: the collector's rows to statistics and charges (flow/rater.py),
then the traffic limits brought to the usage (flow/limits.py)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from billing import settings as settings_mod
from billing.db import connect
from flow.limits import check_limits
from flow.rater import keep_group_bins, rate
from worker import arguments
from worker.app import celery


@celery.task(name="ebs.rate_traffic")
def rate_traffic(at: str | None = None) -> dict:
    """Rate every bin up to ``at`` (ISO time, default now) and the late window again.

    Beat sends it every minute; a run still busy with a long catch-up holds the rater's
    lock, and the next one gives way at once instead of queueing behind it (the minute
    after, a run takes up whatever the busy one did not reach). Each run that rated
    checks the limits too, also when no traffic came: that lifts them on time."""
    settings = settings_mod.load()
    moment = arguments.moment(at, settings)
    with connect(settings_mod.database_conninfo(settings, component="worker"),
                 autocommit=True) as conn:
        result = rate(conn, moment, ZoneInfo(settings.TIME_ZONE),
                      late_minutes=int(settings.FLOW_RATE_LATE_MINUTES),
                      chunk_minutes=int(settings.FLOW_RATE_CHUNK_MINUTES), wait=False,
                      keep_group_bins=keep_group_bins(settings))
        limits = None if result.skipped else check_limits(conn, moment)
    return {**result.as_dict(), "limits": limits.as_dict() if limits else None}
