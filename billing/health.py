"""How the running system is doing, in figures: what ``ebs status`` prints under the
services and what the Prometheus endpoint (webapp/metrics.py) serves.

:func:`snapshot` reads them all, each with one cheap statement (an index or a small
table) or a look at Redis: the broker's queue, the time a worker last ran ``ebs.health``
and each FreeRADIUS host's accounting spool backlog, which that host's drain publishes
there (stack/health.py), so the figures are the same wherever they are read. The Redis
client is the caller's (this package does not import Redis). Windows are fixed and named
in each figure (the last 5 minutes of logins, the last hour of CoA and payments), so a
figure means the same in the terminal, on a dashboard and in an alert rule. A part that
cannot be reached (Redis down, the database away) leaves its figures out and says why
in ``problems``; the rest still come.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import psycopg

AUTH_WINDOW_S = 300
HOUR_S = 3600
WORKER_SEEN_KEY = "ebs:worker:seen"  # set by ebs.health (worker/tasks.py), a Unix time
SPOOL_KEY = "ebs:spool:"  # + host: that host's spool backlog (stack/health.py), JSON
CELERY_QUEUE = "celery"


class Broker(Protocol):
    """The little of a Redis client the figures use."""

    def llen(self, name: str) -> int: ...
    def get(self, name: str) -> bytes | None: ...
    def scan_iter(self, match: str) -> object: ...


@dataclass(frozen=True)
class SpoolBacklog:
    """Accounting spooled on one FreeRADIUS host and not applied yet."""

    files: int
    bytes: int
    oldest_age_s: float | None


@dataclass(frozen=True)
class AnswerTimes:
    """How long one NAS's logins took to answer, arrival to the auth log's row."""

    count: int
    p50_s: float
    p95_s: float
    p99_s: float


@dataclass
class Figures:
    at: float  # Unix time of the snapshot
    problems: list[str] = field(default_factory=list)
    queue_depth: int | None = None
    worker_seen_age_s: float | None = None
    charge_tick_age_s: float | None = None
    charged_to_age_s: float | None = None
    traffic_rated_age_s: dict[str, float] = field(default_factory=dict)
    spool: dict[str, SpoolBacklog] = field(default_factory=dict)  # host -> backlog
    # (reason, accepted) -> logins in the last AUTH_WINDOW_S
    auth: dict[tuple[str, bool], int] = field(default_factory=dict)
    coa: dict[str, int] = field(default_factory=dict)  # result ('pending' open) -> last hour
    payments: dict[tuple[str, str], int] = field(default_factory=dict)  # backend, state
    callbacks: dict[tuple[str, str], int] = field(default_factory=dict)  # backend, outcome
    reconciliation: dict[str, int] = field(default_factory=dict)  # state -> last day, not ok
    nas_accounting_age_s: dict[str, float] = field(default_factory=dict)
    # NAS (its name, else the address it sent from) -> the last AUTH_WINDOW_S's answers
    auth_latency: dict[str, AnswerTimes] = field(default_factory=dict)
    messages_queued: int | None = None
    # The reports' replica, when one is configured (the web app probes it: webapp/report_db)
    replica_serving: bool | None = None
    replica_lag_s: float | None = None

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
    figures.auth_latency = {
        nas: AnswerTimes(count, *(float(us) / 1e6 for us in quantiles))
        for nas, count, quantiles in conn.execute(
            "SELECT coalesce(n.name, host(a.nas_ip), 'unknown'), count(*),"
            "       percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY a.answer_us)"
            "  FROM auth_log a LEFT JOIN nas n ON n.ip_address = a.nas_ip"
            " WHERE a.logged_at > now() - make_interval(secs => %s)"
            "   AND a.answer_us IS NOT NULL GROUP BY 1", (AUTH_WINDOW_S,))}


def _broker(client: Broker, figures: Figures) -> None:
    figures.queue_depth = int(client.llen(CELERY_QUEUE))
    seen = client.get(WORKER_SEEN_KEY)
    if seen is not None:
        figures.worker_seen_age_s = max(0.0, figures.at - float(seen))
    for key in client.scan_iter(match=SPOOL_KEY + "*"):
        raw = client.get(key)
        if raw is None:
            continue
        name = key.decode() if isinstance(key, bytes) else str(key)
        data = json.loads(raw)
        figures.spool[name[len(SPOOL_KEY):]] = SpoolBacklog(
            int(data["files"]), int(data["bytes"]), data.get("oldest_age_s"))


def snapshot(conn: psycopg.Connection | None, broker: Broker | None) -> Figures:
    """The figures now. ``conn``: a connection that reads them; ``broker``: a Redis
    client (None for either: its figures are left out, and said so)."""
    figures = Figures(at=time.time())
    if conn is None:
        figures.problems.append("database: not reachable")
    else:
        try:
            _database(conn, figures)
        except psycopg.Error as exc:
            figures.problems.append(f"database: {str(exc).strip().splitlines()[0]}")
    if broker is None:
        figures.problems.append("broker: not reachable")
    else:
        try:
            _broker(broker, figures)
        except Exception as exc:  # the client's own errors (redis.RedisError) among them
            figures.problems.append(f"broker: {type(exc).__name__}: {exc}")
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
    for host, backlog in sorted(figures.spool.items()):
        oldest = ("" if backlog.oldest_age_s is None
                  else f", oldest {_seconds(backlog.oldest_age_s)}")
        out.append(f"{'accounting spool ' + host:24} {backlog.files} files, "
                   f"{backlog.bytes} bytes to apply{oldest}")
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
    for name, times in sorted(figures.auth_latency.items()):
        out.append(f"{'NAS ' + name:24} {times.count} logins answered in "
                   f"p50 {times.p50_s * 1000:.1f} / p95 {times.p95_s * 1000:.1f} / "
                   f"p99 {times.p99_s * 1000:.1f} ms (last 5 min)")
    if figures.messages_queued is not None:
        out.append(f"{'messages queued':24} {figures.messages_queued}")
    out += [f"{'problem':24} {p}" for p in figures.problems]
    return out
