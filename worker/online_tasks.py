"""``ebs.sample_online``: the dashboard's sessions-online samples (billing/online_samples.py)."""

from __future__ import annotations

from billing import online_samples
from billing import settings as settings_mod
from billing.db import connect
from worker.app import celery


@celery.task(name="ebs.sample_online")
def sample_online() -> dict:
    """One sample for the current five minutes; a repeat within them adds nothing."""
    conninfo = settings_mod.database_conninfo(settings_mod.load(), component="worker")
    with connect(conninfo) as conn:
        added = online_samples.record_sample(conn)
    return {"added": added}
