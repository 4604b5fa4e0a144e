"""Accounting spool drain: Accounting-Requests FreeRADIUS spooled (while rlm_sql failed,
or all of them in the spool mode, whose follower normally gets there first), applied in
batches by ``stack.acct_spool`` (beat runs it every few seconds); and the auth log's
answers spooled while the database was away (``stack.auth_spool``)."""

from __future__ import annotations

import logging

import psycopg
import redis

from billing import settings as settings_mod
from billing.db import connect
from stack import acct_spool, auth_spool, health
from worker import arguments
from worker.app import celery

log = logging.getLogger(__name__)


@celery.task(name="ebs.acct_drain")
def acct_drain(spool_dir: str | None = None) -> dict:
    """Drain the spool directory of this host (``RADIUS_ACCT_SPOOL_DIR``); a
    ``spool_dir`` naming any other directory is refused.

    Idempotent and exclusive per directory: a run that overlaps another returns ``busy``;
    a run that dies is resumed by the next from the last committed batch.
    """
    settings = settings_mod.load()
    directory = arguments.spool_directory(spool_dir, settings)
    auth_dir = auth_spool.spool_dir(settings)
    if not acct_spool.has_work(directory) and not auth_spool.has_work(auth_dir):
        _publish(settings, directory, None)
        return acct_spool.DrainResult().as_dict()
    try:
        with connect(settings_mod.database_conninfo(settings, component="acct")) as conn:
            result = acct_spool.drain(conn, directory).as_dict()
            result["auth_log"] = auth_spool.drain(conn, auth_dir).as_dict()
            _publish(settings, directory, conn)
            return result
    except psycopg.OperationalError as exc:
        # Still away: the spool keeps everything and the next beat tries again.
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "no answer"
        _publish(settings, directory, None)
        return {"pending": True, "error": f"database unavailable: {first}"}


def _publish(settings, directory, conn) -> None:
    """This host's backlog for the health figures (stack/health.py). Best effort: the
    figures may miss a beat, the drain never fails for them."""
    try:
        health.publish_spool(health.broker(settings), health.spool_backlog(directory, conn))
    except (redis.RedisError, OSError) as exc:
        log.warning("spool backlog not published for the health figures: %s", exc)
