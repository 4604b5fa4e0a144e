"""``ebs.import_payments``: the bank-statement import (billing/statement_import.py) every
ten minutes, as ExpertBilling's guide has cron run its ``process.py``; its figures as a
metric line in the log, each bad line in its section's error folder."""

from __future__ import annotations

import logging

from billing import settings as settings_mod
from billing import statement_import
from billing.db import connect
from worker.app import celery

log = logging.getLogger(__name__)


@celery.task(name="ebs.import_payments")
def import_payments() -> dict:
    """Every active section's waiting files; nothing to do without a pattern file (an ISP
    importing no statements). A section another run is reading is left to that run."""
    settings = settings_mod.load()
    if not statement_import.pattern_path(settings).exists():
        return {"files": 0, "pattern": "none"}
    with connect(settings_mod.database_conninfo(settings, component="worker"),
                 autocommit=True) as conn:
        result = statement_import.run_configured(conn, settings)
    for section, problem in result.problems:
        log.warning("statement import: section %s not read: %s", section, problem)
    log.info("statement import: %s", result.metric_line())
    return {"files": len(result.files),
            **{name: result.total(name) for name in ("lines", "credited", "already_seen",
                                                      "errors")},
            "problems": [f"{section}: {problem}" for section, problem in result.problems]}
