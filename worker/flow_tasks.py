"""The collector's upkeep: its configuration follows the database (``ebs.flow_changed``)
and its tables' day partitions are made ahead and dropped after their retention
(``ebs.flow_partitions``, flow/partitions.py).

The beat sends ``ebs.flow_changed`` every minute, as it sends ``ebs.nas_changed``: an
edit of classes, pools or NAS reaches nfacctd within a minute without the web app
knowing where it runs, and a check that finds nothing changed costs a few queries.
"""

from __future__ import annotations

from datetime import UTC, datetime

from billing import settings as settings_mod
from billing.db import connect
from flow import partitions
from worker.app import celery
from worker.collector_sync import sync_collector


@celery.task(name="ebs.flow_changed")
def flow_changed() -> dict:
    return sync_collector(settings_mod.load())


@celery.task(name="ebs.flow_partitions")
def flow_partitions() -> dict:
    """Today's and the next days' partitions, and the drop of expired days."""
    settings = settings_mod.load()
    conninfo = settings_mod.database_conninfo(settings, component="worker")
    # One statement, one transaction: a partition's CREATE or DROP locks the parent,
    # which nfacctd's COPY and the rater also use, so no lock is held longer than its
    # statement, nor waited for longer than a few seconds (the next hour tries again).
    with connect(conninfo, autocommit=True) as conn:
        conn.execute("SET lock_timeout = '5s'")
        return partitions.maintain(conn, datetime.now(UTC).date(),
                                   settings.FLOW_RETENTION_DAYS,
                                   settings.FLOW_STORE_RETENTION_DAYS)
