"""The collector's upkeep: its configuration follows the database (``ebs.flow_changed``),
its tables' day partitions are made ahead and dropped after their retention
(``ebs.flow_partitions``, flow/partitions.py), and the hourly statistics older than
theirs are rolled up to days (``ebs.traffic_stats_rollup``, flow/stats_rollup.py).

The beat sends ``ebs.flow_changed`` every minute, as it sends ``ebs.nas_changed``: an
edit of classes, pools or NAS reaches nfacctd within a minute without the web app
knowing where it runs, and a check that finds nothing changed costs a few queries.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from billing import settings as settings_mod
from billing.db import connect
from flow import partitions, stats_rollup
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


@celery.task(name="ebs.traffic_stats_rollup")
def traffic_stats_rollup() -> dict:
    """The hours before TRAFFIC_STATS_HOURLY_KEEP_DAYS summed per local day; hourly, so a
    day is rolled within an hour of its turn and a stopped beat catches up at once. A run
    still busy holds the lock and the next gives way."""
    settings = settings_mod.load()
    tz = ZoneInfo(settings.TIME_ZONE)
    conninfo = settings_mod.database_conninfo(settings, component="worker")
    with connect(conninfo, autocommit=True) as conn:
        return stats_rollup.roll_up(conn, datetime.now(tz).date(), tz,
                                    stats_rollup.keep_hourly_days(settings),
                                    wait=False).as_dict()
