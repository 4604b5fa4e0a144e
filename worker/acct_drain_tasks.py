"""Accounting spool drain: Accounting-Requests FreeRADIUS spooled (while rlm_sql failed,
or all of them in the spool mode, whose follower normally gets there first), applied in
batches by ``stack.acct_spool`` (beat runs it every few seconds)."""

from __future__ import annotations

import psycopg

from billing import settings as settings_mod
from billing.db import connect
from stack import acct_spool
from worker import arguments
from worker.app import celery


@celery.task(name="ebs.acct_drain")
def acct_drain(spool_dir: str | None = None) -> dict:
    """Drain the spool directory of this host (``RADIUS_ACCT_SPOOL_DIR``); a
    ``spool_dir`` naming any other directory is refused.

    Idempotent and exclusive per directory: a run that overlaps another returns ``busy``;
    a run that dies is resumed by the next from the last committed batch.
    """
    settings = settings_mod.load()
    directory = arguments.spool_directory(spool_dir, settings)
    if not acct_spool.has_work(directory):
        return acct_spool.DrainResult().as_dict()
    try:
        with connect(settings_mod.database_conninfo(settings, component="acct")) as conn:
            return acct_spool.drain(conn, directory).as_dict()
    except psycopg.OperationalError as exc:
        # Still away: the spool keeps everything and the next beat tries again.
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "no answer"
        return {"pending": True, "error": f"database unavailable: {first}"}
