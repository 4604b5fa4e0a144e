"""``ebs.poll_qiwi_invoices``: the open QIWI invoices' statuses every five minutes
(billing/gateways/qiwi_invoices.py), as ExpertBilling's guide has cron run
``process_qiwi_payments``; its figures as a metric line in the log."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from billing import settings as settings_mod
from billing.db import connect
from billing.gateways import qiwi_invoices
from billing.gateways.base import backend_config
from worker.app import celery

log = logging.getLogger(__name__)


@celery.task(name="ebs.poll_qiwi_invoices")
def poll_qiwi_invoices() -> dict:
    """Nothing to ask without a QIWI terminal (an ISP not invoicing through QIWI). An
    operator who takes QIWI out of GETPAID_BACKENDS stops new invoices, not this: the
    open ones may still be paid, and those payments are the subscribers' money."""
    settings = settings_mod.load()
    config = backend_config(qiwi_invoices.NAME, settings)
    if not config.get("TERMINAL_ID"):
        return {"qiwi": "not configured"}
    with connect(settings_mod.database_conninfo(settings, component="worker"),
                 autocommit=True) as conn:
        result = qiwi_invoices.poll(conn, config, datetime.now(UTC))
    if result.busy:
        log.info("QIWI invoices: another poll is running")
    return {**{name: result.counts[name] for name in qiwi_invoices.COUNTS},
            "failure": result.failure, "busy": result.busy}
