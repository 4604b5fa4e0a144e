"""How the running system is doing, in figures: what ``ebs status`` prints under the
services and what the Prometheus endpoint (webapp/metrics.py) serves.

One :func:`snapshot` reads them all, each with one cheap statement (an index or a small
table) or a look at Redis or the spool directory. Windows are fixed and named in each
figure (the last 5 minutes of logins, the last hour of CoA and payments), so a figure
means the same in the terminal, on a dashboard and in an alert rule. A part that cannot
be reached (Redis down, the database away) leaves its figures out and says why in
``problems``; the rest still come.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import psycopg
import redis

from billing import settings as settings_mod
from stack import acct_spool

AUTH_WINDOW_S = 300
HOUR_S = 3600
WORKER_SEEN_KEY = "ebs:worker:seen"  # set by ebs.health (worker/tasks.py), a Unix time
CELERY_QUEUE = "celery"


@dataclass
class Figures:
    at: float  # Unix time of the snapshot
    problems: list[str] = field(default_factory=list)
    queue_depth: int | None = None
    worker_seen_age_s: float | None = None
    charge_tick_age_s: float | None = None
    charged_to_age_s: float | None = None
    traffic_rated_age_s: dict[str, float] = field(default_factory=dict)
    spool_files: int | None = None
    spool_bytes: int | None = None
    spool_oldest_age_s: float | None = None
    # (reason, accepted) -> logins in the last AUTH_WINDOW_S
    auth: dict[tuple[str, bool], int] = field(default_factory=dict)
    coa: dict[str, int] = field(default_factory=dict)  # result ('pending' open) -> last hour
    payments: dict[tuple[str, str], int] = field(default_factory=dict)  # backend, state
    callbacks: dict[tuple[str, str], int] = field(default_factory=dict)  # backend, outcome
    reconciliation: dict[str, int] = field(default_factory=dict)  # state -> last day, not ok
    nas_accounting_age_s: dict[str, float] = field(default_factory=dict)
    messages_queued: int | None = None

    @property
    def auth_rate(self) -> float:
        return sum(self.auth.values()) / AUTH_WINDOW_S


def _age(now: float, moment: datetime | None) -> float | None:
    return None if moment is None else max(0.0, now - moment.timestamp())


def _database(conn: psycopg.Connection, figures: Figures) -> None:
    now = figures.at
    row = conn.execute("SELECT finished_at, charged_to FROM charge_runs"
                       " WHERE finished_at IS NOT NULL ORDER BY id DESC LIMIT 1").fetchone()
    if row:
        figures.charge_tick_age_s, figures.charged_to_age_s = (_age(now, v) for v in row)
    figures.traffic_rated_age_s = {
        source: _age(now, rated_to) for source, rated_to in conn.execute(
            "SELECT source, rated_to FROM traffic_rating_state")}
    figures.auth = {(reason, accepted): n for reason, accepted, n in conn.execute(
        "SELECT reason, accepted, count(*) FROM auth_log"
        " WHERE logged_at > now() - make_interval(secs => %s) GROUP BY 1, 2",
        (AUTH_WINDOW_S,))}
    figures.coa = dict(conn.execute(
        "SELECT 'pending', count(*) FROM coa_requests WHERE state = 'sending'"
        " UNION ALL"
        " SELECT result, count(*) FROM coa_requests"
        "  WHERE state = 'done' AND finished_at > now() - make_interval(secs => %s)"
        "  GROUP BY result", (HOUR_S,)).fetchall())
    figures.payments = {(b, s): n for b, s, n in conn.execute(
        "SELECT backend, state, count(*) FROM gateway_payments"
        " WHERE created_at > now() - make_interval(secs => %s) GROUP BY 1, 2", (HOUR_S,))}
    figures.callbacks = {(b, o): n for b, o, n in conn.execute(
        "SELECT backend, split_part(coalesce(outcome, 'unanswered'), ':', 1), count(*)"
        "  FROM gateway_notifications"
        " WHERE received_at > now() - make_interval(secs => %s) GROUP BY 1, 2", (HOUR_S,))}
    figures.reconciliation = dict(conn.execute(
        "SELECT state, count(*) FROM traffic_reconciliation"
        " WHERE state <> 'ok' AND period_start > now() - interval '1 day' GROUP BY state"
    ).fetchall())
    figures.nas_accounting_age_s = {
        name: _age(now, last) for name, last in conn.execute(
            "SELECT n.name, max(s.updated_at) FROM sessions_open s"
            "  JOIN nas n ON n.id = s.nas_id GROUP BY n.name")}
    figures.messages_queued = conn.execute(
        "SELECT count(*) FROM messages WHERE state = 'queued'").fetchone()[0]


def _broker(client: redis.Redis, figures: Figures) -> None:
    figures.queue_depth = int(client.llen(CELERY_QUEUE))
    seen = client.get(WORKER_SEEN_KEY)
    if seen is not None:
        figures.worker_seen_age_s = max(0.0, figures.at - float(seen))


def _spool(directory: Path, conn: psycopg.Connection | None, figures: Figures) -> None:
    """The accounting spooled and not applied yet: its files, the bytes past each work
    file's applied position, and how long the oldest has waited."""
    files = sorted(directory.glob(acct_spool.SPOOL_GLOB)) if directory.is_dir() else []
    positions = {}
    if conn is not None and files:
        positions = dict(conn.execute(
            "SELECT work_file, position FROM acct_spool_files WHERE NOT done").fetchall())
    sizes, oldest = 0, None
    for path in files:
        try:
            stat = path.stat()
        except FileNotFoundError:  # applied and removed meanwhile
            continue
        sizes += max(0, stat.st_size - positions.get(str(path), 0))
        oldest = stat.st_mtime if oldest is None else min(oldest, stat.st_mtime)
    figures.spool_files, figures.spool_bytes = len(files), sizes
    figures.spool_oldest_age_s = None if oldest is None else max(0.0, figures.at - oldest)


def snapshot(settings: SimpleNamespace, conn: psycopg.Connection | None,
             broker: Callable[[], redis.Redis] | None = None) -> Figures:
    """The figures now. ``conn``: a connection that reads them (None: the database's
    figures are left out, and said so)."""
    figures = Figures(at=time.time())
    if conn is None:
        figures.problems.append("database: not reachable")
    else:
        try:
            _database(conn, figures)
        except psycopg.Error as exc:
            figures.problems.append(f"database: {str(exc).strip().splitlines()[0]}")
    try:
        client = broker() if broker else redis.Redis.from_url(
            settings_mod.redis_url(settings), socket_timeout=2, socket_connect_timeout=2)
        _broker(client, figures)
    except (redis.RedisError, OSError) as exc:
        figures.problems.append(f"broker: {exc}")
    try:
        _spool(acct_spool.spool_dir(settings), conn, figures)
    except (OSError, psycopg.Error) as exc:
        figures.problems.append(f"accounting spool: {exc}")
    return figures


def _seconds(value: float | None) -> str:
    if value is None:
        return "never"
    if value < 120:
        return f"{value:.0f} s ago"
    if value < 7200:
        return f"{value / 60:.0f} min ago"
    return f"{value / 3600:.1f} h ago"


def lines(figures: Figures) -> list[str]:
    """The figures as ``ebs status`` prints them under the services."""
    out = []
    if figures.queue_depth is not None:
        out.append(f"{'tasks waiting':24} {figures.queue_depth}")
    if figures.worker_seen_age_s is not None or figures.queue_depth is not None:
        out.append(f"{'worker last seen':24} {_seconds(figures.worker_seen_age_s)}")
    if figures.charge_tick_age_s is not None or not figures.problems:
        out.append(f"{'last charge tick':24} {_seconds(figures.charge_tick_age_s)}")
    for source, age in sorted(figures.traffic_rated_age_s.items()):
        out.append(f"{'traffic rated (' + source + ')':24} up to {_seconds(age)}")
    if figures.spool_files is not None:
        oldest = ("" if figures.spool_oldest_age_s is None
                  else f", oldest {_seconds(figures.spool_oldest_age_s)}")
        out.append(f"{'accounting spool':24} {figures.spool_files} files, "
                   f"{figures.spool_bytes} bytes to apply{oldest}")
    total = sum(figures.auth.values())
    rejects = sorted(((n, r) for (r, ok), n in figures.auth.items() if not ok), reverse=True)
    out.append(f"{'logins, last 5 min':24} {total} ({figures.auth_rate:.1f}/s); rejects: "
               + (", ".join(f"{r} {n}" for n, r in rejects) or "none"))
    if figures.coa:
        out.append(f"{'CoA, last hour':24} " + ", ".join(
            f"{k} {v}" for k, v in sorted(figures.coa.items())))
    if figures.payments or figures.callbacks:
        out.append(f"{'payments, last hour':24} " + ", ".join(
            f"{b} {s} {n}" for (b, s), n in sorted(figures.payments.items())) + "; callbacks: "
            + ", ".join(f"{b} {o} {n}" for (b, o), n in sorted(figures.callbacks.items())))
    if figures.reconciliation:
        out.append(f"{'reconciliation, 1 day':24} " + ", ".join(
            f"{k} {v}" for k, v in sorted(figures.reconciliation.items())))
    for name, age in sorted(figures.nas_accounting_age_s.items()):
        out.append(f"{'NAS ' + name:24} last accounting {_seconds(age)}")
    if figures.messages_queued is not None:
        out.append(f"{'messages queued':24} {figures.messages_queued}")
    out += [f"{'problem':24} {p}" for p in figures.problems]
    return out
