"""This host's part of the health figures (billing/health.py): the accounting spool
FreeRADIUS writes here, measured on disk and published to Redis for whoever reads the
figures (the web app's /metrics may run on another host).

The drain (``ebs.acct_drain``, every 10 s on each host that runs FreeRADIUS) publishes it
with a short expiry: a host whose drain stopped disappears from the figures rather than
showing an old backlog as current.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from types import SimpleNamespace

import psycopg
import redis

from billing import health
from billing import settings as settings_mod
from stack import acct_spool

PUBLISHED_FOR_S = 60


def spool_backlog(directory: Path, conn: psycopg.Connection | None,
                  now: float | None = None) -> health.SpoolBacklog:
    """The accounting spooled under ``directory`` and not applied yet: its files, the
    bytes past each work file's applied position, and how long the oldest has waited."""
    now = time.time() if now is None else now
    files = sorted(directory.glob(acct_spool.SPOOL_GLOB)) if directory.is_dir() else []
    positions = {}
    if conn is not None and files:
        positions = dict(conn.execute(
            "SELECT work_file, position FROM acct_spool_files WHERE NOT done").fetchall())
    size, oldest = 0, None
    for path in files:
        try:
            stat = path.stat()
        except FileNotFoundError:  # applied and removed meanwhile
            continue
        size += max(0, stat.st_size - positions.get(str(path), 0))
        oldest = stat.st_mtime if oldest is None else min(oldest, stat.st_mtime)
    return health.SpoolBacklog(len(files), size,
                               None if oldest is None else max(0.0, now - oldest))


def publish_spool(client: redis.Redis, backlog: health.SpoolBacklog,
                  host: str | None = None) -> None:
    client.set(health.SPOOL_KEY + (host or socket.gethostname()), json.dumps(
        {"files": backlog.files, "bytes": backlog.bytes,
         "oldest_age_s": backlog.oldest_age_s}), ex=PUBLISHED_FOR_S)


def broker(settings: SimpleNamespace) -> redis.Redis:
    return redis.Redis.from_url(settings_mod.redis_url(settings), socket_timeout=2,
                                socket_connect_timeout=2)


def snapshot(settings: SimpleNamespace, conn: psycopg.Connection | None) -> health.Figures:
    """The figures as ``ebs status`` shows them: this host's spool measured now."""
    figures = health.snapshot(conn, broker(settings))
    try:
        figures.spool[socket.gethostname()] = spool_backlog(
            acct_spool.spool_dir(settings), conn)
    except (OSError, psycopg.Error) as exc:
        figures.problems.append(f"accounting spool: {exc}")
    return figures
