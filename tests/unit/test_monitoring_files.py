"""The sample alert rules and Grafana dashboard (docs/monitoring/) name only metrics the
endpoint serves: a renamed figure fails here, not silently on an operator's dashboard."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from billing import health
from webapp.metrics import families

DOCS = Path(__file__).resolve().parents[2] / "docs" / "monitoring"
NAME = re.compile(r"\bebs_[a-z0-9_]+\b")


def served() -> set[str]:
    """Every metric name with every figure known."""
    figures = health.Figures(
        at=0.0, queue_depth=1, worker_seen_age_s=1.0, charge_tick_age_s=1.0,
        charged_to_age_s=1.0, traffic_rated_age_s={"flow": 1.0},
        spool={"h": health.SpoolBacklog(1, 1, 1.0)}, auth={("ok", True): 1}, coa={"ACK": 1},
        payments={("b", "paid"): 1}, callbacks={("b", "ok"): 1},
        reconciliation={"silent": 1}, nas_accounting_age_s={"n": 1.0}, messages_queued=1,
        auth_latency={"n": health.AnswerTimes(1, 0.1, 0.2, 0.3)}, replica_serving=True,
        replica_lag_s=0.5)
    return {family.name for family in families(figures)}


def test_the_alert_rules_use_served_metrics():
    rules = yaml.safe_load((DOCS / "prometheus-alerts.yml").read_text(encoding="utf-8"))
    exprs = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    used = {name for expr in exprs for name in NAME.findall(str(expr))}
    assert len(exprs) >= 8 and used
    assert used <= served(), used - served()


def test_the_dashboard_uses_served_metrics():
    board = json.loads((DOCS / "grafana-dashboard.json").read_text(encoding="utf-8"))
    exprs = [t["expr"] for panel in board["panels"] for t in panel["targets"]]
    used = {name for expr in exprs for name in NAME.findall(expr)}
    assert used <= served(), used - served()
    assert served() - used <= {"ebs_up", "ebs_problems"}  # everything else is drawn
