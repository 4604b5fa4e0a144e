"""``ebs.reconcile_traffic``: RADIUS accounting against the collector's flows
(flow/reconcile.py), every ten minutes, with its figures as a metric line in the log."""

from __future__ import annotations

import logging

from billing import settings as settings_mod
from billing.db import connect
from flow.reconcile import reconcile, settings_options
from worker import arguments
from worker.app import celery

log = logging.getLogger(__name__)


@celery.task(name="ebs.reconcile_traffic")
def reconcile_traffic(at: str | None = None) -> dict:
    """Compare sessions and exporters up to ``at`` (ISO time, default now); a run still
    busy holds the lock and the next gives way at once (the one after reads on from
    where the busy one left off)."""
    settings = settings_mod.load()
    moment = arguments.moment(at, settings)
    with connect(settings_mod.database_conninfo(settings, component="worker"),
                 autocommit=True) as conn:
        result = reconcile(conn, moment, **settings_options(settings), wait=False)
    log.info("traffic reconciliation: %s", result.metric_line())
    return result.as_dict()
