"""``ebs.enforce_access``: access follows money, for sessions that are already up.

One task per run finds the candidate sessions in one set-based query, then fetches them
in chunks, decides each by ``billing.enforcement`` (the login rules) and sends each
chunk's requests together (``worker.coa_store``); never a task per account. Beat runs it
every minute, so a payment or a block reaches the NAS within about a minute plus the
NAS's reply time.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from billing import settings as settings_mod
from billing.db import connect
from billing.enforcement import plan, speed_edges, speed_states
from worker.app import celery
from worker.coa_store import perform
from worker.live_sessions import action, candidates, fetch, load_tariff_rules

CHUNK = 2000


def enforce(conn, now: datetime, tz: ZoneInfo, chunk: int = CHUNK) -> dict:
    """Run the enforcement once over every open session; ``conn`` autocommits."""
    rules = load_tariff_rules(conn)
    totals: Counter[str] = Counter()
    ids = candidates(conn, now, speed_edges(rules, now, tz), speed_states(rules, now, tz))
    for start in range(0, len(ids), chunk):
        rows = fetch(conn, now, ids[start : start + chunk])
        totals["checked"] += len(rows)
        actions = [action(row, wanted) for row in rows
                   if (wanted := plan(row, now, tz, rules)) is not None]
        for sent in perform(conn, actions):
            totals[str(sent.action.kind)] += 1
            totals[str(sent.outcome.result) if sent.outcome else "already_done"] += 1
    return {"at": now.isoformat(), "checked": 0, **totals}


@celery.task(name="ebs.enforce_access")
def enforce_access(at: str | None = None) -> dict:
    """Disconnect, move to the guest pool or restore the speed of live sessions whose
    account's access changed, and send the speed due to those given another (a tariff
    change, a speed edit, a time-of-day edge: ``billing.enforcement``). ``at`` (ISO 8601)
    replaces the clock for replays; safe to deliver twice (``worker.coa_store``)."""
    settings = settings_mod.load()
    now = datetime.fromisoformat(at) if at else datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    with connect(settings_mod.database_conninfo(settings, component="worker"),
                 autocommit=True) as conn:
        return enforce(conn, now, ZoneInfo(settings.TIME_ZONE))
