"""``ebs.reconcile_gateway_payments``: once a day, every gateway payment against the
ledger (billing/gateway_payments.reconcile). The list must be empty; a payment on it is
logged as an ERROR with what it should have posted and what it did, so the log's alerting
catches it, and the admin's Money → Gateway reconciliation page shows the same list."""

from __future__ import annotations

import logging

from billing import gateway_payments
from billing import settings as settings_mod
from billing.db import connect
from worker.app import celery

log = logging.getLogger(__name__)


@celery.task(name="ebs.reconcile_gateway_payments")
def reconcile_gateway_payments() -> dict:
    settings = settings_mod.load()
    with connect(settings_mod.database_conninfo(settings, component="worker"),
                 autocommit=True) as conn:
        found = gateway_payments.reconcile(conn)
    for d in found:
        log.error("gateway payment %s (%s %s, account %s, %s) does not match the ledger: "
                  "should have posted %s, posted %s in %s entries", d.payment_id, d.backend,
                  d.provider_txn_id, d.account_id, d.state, d.expected, d.posted, d.entries)
    log.info("gateway reconciliation: %d payment(s) differ from the ledger", len(found))
    return {"differ": len(found), "payments": [d.payment_id for d in found]}
