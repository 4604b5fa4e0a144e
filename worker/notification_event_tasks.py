"""The notices the system queues by itself (billing/notifications/events.py), as thin
tasks: ``ebs.sms_balance_alerts`` and ``ebs.sms_forecast`` daily at SENDSMS_BALANCE_AT
(the guide's cron ran ``ballance_sms_messages`` at noon; the forecast reads every account,
so once a day), ``ebs.sms_events`` (payments, blocks) every five minutes. Delivered twice,
they queue nothing twice: every message has its event's key."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from billing import settings as settings_mod
from billing.db import connect
from billing.notifications import events
from worker.app import celery

log = logging.getLogger(__name__)


def _run(which: tuple[str, ...]) -> dict:
    settings = settings_mod.load()
    with connect(settings_mod.database_conninfo(settings, component="worker"),
                 autocommit=True) as conn:
        figures = events.run_events(conn, datetime.now(UTC), settings, which)
    if any(f["queued"] or f["reset"] for f in figures.values()):
        log.info("notifications: %s", figures)
    return figures


@celery.task(name="ebs.sms_balance_alerts")
def sms_balance_alerts() -> dict:
    return _run(("balance",))


@celery.task(name="ebs.sms_forecast")
def sms_forecast() -> dict:
    return _run(("forecast",))


@celery.task(name="ebs.sms_events")
def sms_events() -> dict:
    return _run(("payments", "blocks"))
