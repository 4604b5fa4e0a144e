"""Celery tasks. Each is named ``ebs.<what>`` so other parts call it by name."""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime

import redis

from billing import health as health_figures
from billing import schema
from billing import settings as settings_mod
from billing.db import connect
from worker.app import celery


@celery.task(name="ebs.health")
def health() -> dict:
    """Prove the worker reaches the database and sees the schema it expects.

    Used by ``ebs status``, the metrics (the time it last ran) and the tests; a failure
    here is the first thing to look at when charges stop appearing.
    """
    settings = settings_mod.load()
    conninfo = settings_mod.database_conninfo(settings, component="worker")
    with connect(conninfo) as conn:
        applied = schema.applied_versions(conn)
        db_now = conn.execute("SELECT now()").fetchone()[0]
    # When a worker last took a task off the queue: the metrics' Celery lag.
    redis.Redis.from_url(settings_mod.redis_url(settings)).set(
        health_figures.WORKER_SEEN_KEY, time.time())
    known = [m.version for m in schema.available()]
    return {
        "worker": socket.gethostname(),
        "at": datetime.now(UTC).isoformat(),
        "db_time": db_now.isoformat(),
        "schema": applied[-1] if applied else None,
        "schema_current": applied == known,
    }
