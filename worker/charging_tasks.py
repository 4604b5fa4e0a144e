"""Celery task of the charging engine: one chunky tick, never a task per account."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from billing import settings as settings_mod
from billing.charging.tick import charge
from billing.db import connect
from worker.app import celery


@celery.task(name="ebs.charge_tick")
def charge_tick(at: str | None = None) -> dict:
    """Charge everything due up to ``at`` (ISO time, default now) for all accounts.

    Safe to deliver twice or to run beside another tick: every charge has its ledger key.
    """
    settings = settings_mod.load()
    moment = datetime.fromisoformat(at) if at else datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    with connect(settings_mod.database_conninfo(settings), autocommit=True) as conn:
        summary = charge(conn, moment, ZoneInfo(settings.TIME_ZONE))
    return summary.as_dict()
