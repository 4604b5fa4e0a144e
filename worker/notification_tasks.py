"""``ebs.send_due_messages`` every minute (ExpertBilling's cron ran
``process_sms_messages`` every five) and ``ebs.poll_message_status`` every five minutes:
thin tasks over worker/notify/sender.py.

Late acknowledgement may deliver a task twice and two workers may run it at once; neither
sends a message twice, because each message is claimed (``FOR UPDATE SKIP LOCKED``,
committed) before its provider is called."""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import UTC, datetime

from billing import settings as settings_mod
from billing.db import connect
from worker.app import celery
from worker.notify import sender

log = logging.getLogger(__name__)


@celery.task(name="ebs.send_due_messages")
def send_due_messages() -> dict:
    settings = settings_mod.load()
    with connect(settings_mod.database_conninfo(settings, component="worker"),
                 autocommit=True) as conn:
        counts = sender.send_due(conn, datetime.now(UTC), settings)
    if counts.claimed or counts.expired or counts.made:
        log.info("messages: %s", asdict(counts))
    if counts.expired:
        log.warning("messages: %s left sending by a stopped sender are now unknown",
                    counts.expired)
    return asdict(counts)


@celery.task(name="ebs.poll_message_status")
def poll_message_status() -> dict:
    settings = settings_mod.load()
    with connect(settings_mod.database_conninfo(settings, component="worker"),
                 autocommit=True) as conn:
        return sender.poll_statuses(conn, datetime.now(UTC), settings)
