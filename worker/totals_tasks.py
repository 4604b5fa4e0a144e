"""Folding of the append-only totals the dashboard and reports sum (``ledger_totals``,
``assignment_totals``, ``account_stats_deltas``): every statement that moves them appends
a row so that no writer waits on another; this keeps the rows a report sums few."""

from __future__ import annotations

from billing import settings as settings_mod
from billing.db import connect
from worker.app import celery


@celery.task(name="ebs.fold_totals")
def fold_totals() -> dict:
    """Merge each key's appended rows into one; safe to run twice or at once (the SQL
    functions delete what they merge, so a second run skips rows the first took)."""
    conninfo = settings_mod.database_conninfo(settings_mod.load(), component="worker")
    with connect(conninfo) as conn:
        merged = conn.execute("SELECT ebs_ledger_totals_fold()").fetchone()[0]
        assignments = conn.execute("SELECT ebs_assignment_totals_fold()").fetchone()[0]
        conn.execute("SELECT ebs_account_stats_compact()")
    return {"ledger_totals_merged": merged, "assignment_totals_merged": assignments}
