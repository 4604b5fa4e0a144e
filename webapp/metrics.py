"""``GET /metrics``: the figures of ``stack/health.py`` for Prometheus, read at each scrape.

The endpoint carries no login (Prometheus scrapes it) and answers only addresses in
``METRICS_NETWORKS`` (loopback by default; the scraper's address behind a trusted
proxy is its forwarded one): to anyone else it does not exist (404). Figures over a
window say so in their name (``_5m``, ``_1h``, ``_1d``): they are gauges of what the
database holds, not counters of this process, so every web worker answers the same.
``docs/monitoring/`` has a Grafana dashboard and alert rules built on these names.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

import redis
from flask import Blueprint, Flask, Response, abort, current_app
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import CollectorRegistry, GaugeMetricFamily
from prometheus_client.registry import Collector

from billing import health
from billing import settings as settings_mod
from webapp import report_db
from webapp.extensions import db
from webapp.staff_networks import client_address, trusted_proxies
from webapp.views.ledger import raw_connection


def _gauge(name: str, doc: str, value: float | None) -> Iterator[GaugeMetricFamily]:
    if value is not None:
        yield GaugeMetricFamily(name, doc, value=value)


def _labelled(name: str, doc: str, labels: list[str],
              values: dict) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=labels)
    for key, value in sorted(values.items()):
        family.add_metric([str(k) for k in (key if isinstance(key, tuple) else (key,))],
                          value)
    return family


def families(figures: health.Figures) -> Iterator[GaugeMetricFamily]:
    """The figures as metric families (a figure not known is left out, not zero)."""
    yield GaugeMetricFamily("ebs_up", "1: the figures were read; problems are counted "
                            "in ebs_problems", value=1)
    yield GaugeMetricFamily("ebs_problems", "Parts whose figures could not be read",
                            value=len(figures.problems))
    yield from _gauge("ebs_celery_queue_depth", "Tasks waiting in the broker's queue",
                      figures.queue_depth)
    yield from _gauge("ebs_worker_last_seen_seconds",
                      "Seconds since a worker last ran ebs.health (the beat sends it every "
                      "minute): above 60 is the Celery lag", figures.worker_seen_age_s)
    yield from _gauge("ebs_charge_tick_age_seconds", "Seconds since the last charge tick "
                      "finished", figures.charge_tick_age_s)
    yield from _gauge("ebs_charged_to_age_seconds", "Seconds between now and the moment "
                      "the last tick charged up to", figures.charged_to_age_s)
    yield _labelled("ebs_traffic_rated_to_age_seconds", "Seconds between now and the "
                    "moment traffic is rated up to, per source", ["source"],
                    figures.traffic_rated_age_s)
    yield _labelled("ebs_acct_spool_files", "Accounting spool files not applied yet, per "
                    "FreeRADIUS host", ["host"],
                    {h: b.files for h, b in figures.spool.items()})
    yield _labelled("ebs_acct_spool_bytes", "Accounting spooled and not applied yet, in "
                    "bytes, per FreeRADIUS host", ["host"],
                    {h: b.bytes for h, b in figures.spool.items()})
    yield _labelled("ebs_acct_spool_oldest_seconds", "Age of the oldest spool file "
                    "waiting (the spool's lag), per FreeRADIUS host", ["host"],
                    {h: b.oldest_age_s for h, b in figures.spool.items()
                     if b.oldest_age_s is not None})
    yield _labelled("ebs_auth_requests_5m", "Logins answered in the last 5 minutes, by "
                    "reason and decision", ["reason", "accepted"],
                    {(r, "true" if ok else "false"): n for (r, ok), n in figures.auth.items()})
    yield GaugeMetricFamily("ebs_auth_rate", "Logins answered per second over the last "
                            "5 minutes", value=figures.auth_rate)
    yield _labelled("ebs_coa_requests_1h", "CoA and Disconnect requests finished in the "
                    "last hour by result; 'pending': still being sent", ["result"],
                    figures.coa)
    yield _labelled("ebs_gateway_payments_1h", "Gateway payments made in the last hour, "
                    "by backend and state", ["backend", "state"], figures.payments)
    yield _labelled("ebs_gateway_callbacks_1h", "Gateway callbacks received in the last "
                    "hour, by backend and outcome", ["backend", "outcome"], figures.callbacks)
    yield _labelled("ebs_reconciliation_attention_1d", "RADIUS-against-NetFlow results "
                    "of the last day that are not ok, by state", ["state"],
                    figures.reconciliation)
    yield _labelled("ebs_nas_accounting_age_seconds", "Seconds since the last accounting "
                    "of a NAS's open sessions (a silent NAS grows)", ["nas"],
                    figures.nas_accounting_age_s)
    yield from _gauge("ebs_messages_queued", "SMS and e-mail waiting to be sent",
                      figures.messages_queued)
    if figures.replica_serving is not None:
        yield GaugeMetricFamily("ebs_replica_serving_reports", "1: the reports read the "
                                "replica now; 0: they read the primary (the replica does "
                                "not answer, is no standby, does not stream or lags too far)",
                                value=1 if figures.replica_serving else 0)
    yield from _gauge("ebs_replica_replay_lag_seconds", "How far the replica's replay is "
                      "behind (0 when it has replayed all it received)", figures.replica_lag_s)
    latency = GaugeMetricFamily(
        "ebs_radius_auth_answer_seconds_5m", "How long logins took to answer over the last "
        "5 minutes, from the request's arrival at FreeRADIUS to its auth log row, per NAS",
        labels=["nas", "quantile"])
    for nas, times in sorted(figures.auth_latency.items()):
        for quantile, value in (("0.5", times.p50_s), ("0.95", times.p95_s),
                                ("0.99", times.p99_s)):
            latency.add_metric([nas, quantile], value)
    yield latency
    yield _labelled("ebs_radius_auth_answered_5m", "Logins whose answer time is known, "
                    "over the last 5 minutes, per NAS", ["nas"],
                    {nas: times.count for nas, times in figures.auth_latency.items()})


class _Figures(Collector):
    def __init__(self, figures: health.Figures) -> None:
        self.figures = figures

    def collect(self) -> Iterator[GaugeMetricFamily]:
        return families(self.figures)


def _allowed() -> bool:
    networks = current_app.config["EBS_METRICS_NETWORKS"]
    try:
        address = ipaddress.ip_address(client_address())
    except ValueError:
        return False
    return any(address in network for network in networks)


def scrape() -> Response:
    if not _allowed():
        abort(404)
    settings = current_app.config["EBS_SETTINGS"]
    broker = redis.Redis.from_url(settings_mod.redis_url(settings), socket_timeout=2,
                                  socket_connect_timeout=2)
    try:
        figures = health.snapshot(raw_connection(db.session), broker)
    finally:
        broker.close()
        db.session.rollback()  # read only; the connection goes back to the pool clean
    replica = report_db.figures()
    if replica is not None:
        figures.replica_serving, figures.replica_lag_s = replica
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Figures(figures))
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


def install(app: Flask) -> None:
    app.config["EBS_METRICS_NETWORKS"] = trusted_proxies(
        app.config["EBS_SETTINGS"].METRICS_NETWORKS)
    blueprint = Blueprint("metrics", __name__)
    blueprint.add_url_rule("/metrics", "scrape", scrape, methods=["GET"])
    app.register_blueprint(blueprint)
