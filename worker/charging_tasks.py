"""Celery task of the charging engine: one chunky tick, never a task per account."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from billing import settings as settings_mod
from billing.charging.tick import charge
from billing.db import connect
from worker import arguments
from worker.app import celery


@celery.task(name="ebs.charge_tick")
def charge_tick(at: str | None = None) -> dict:
    """Charge everything due up to ``at`` (ISO time, default now) for all accounts.

    Safe to deliver twice or to run beside another tick: every charge has its ledger key.
    A moment beyond the clock (``TASK_CLOCK_SKEW_SECONDS``) is refused: posted through
    the broker, it would charge every account for periods not yet begun.
    """
    settings = settings_mod.load()
    moment = arguments.moment(at, settings)
    with connect(settings_mod.database_conninfo(settings, component="worker"),
                 autocommit=True) as conn:
        summary = charge(conn, moment, ZoneInfo(settings.TIME_ZONE))
    return summary.as_dict()
