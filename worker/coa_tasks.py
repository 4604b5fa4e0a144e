"""Tasks the admin calls by name: ``ebs.kick_session`` and ``ebs.change_speed``.

Both take the session's Acct-Unique-Session-Id (``sessions_open``'s key), send through
``worker.coa_store.perform`` and so share its idempotency: delivered twice, a request the
NAS has ACKed is not sent again.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from billing import settings as settings_mod
from billing.db import connect
from billing.enforcement import DISCONNECTED, Request, Wanted, speed_change, verdict
from worker import arguments
from worker.app import celery
from worker.coa_store import Sent, perform
from worker.live_sessions import action, fetch_one, load_tariff_rules


def summary(sent: Sent) -> dict:
    """A task's JSON result: what was wanted and how it ended (``sent`` False: not sent)."""
    outcome = sent.outcome
    return {
        "session": sent.action.acct_unique_id,
        "desired_state": sent.action.desired_state,
        "kind": str(sent.action.kind),
        "request_id": sent.request_id,
        "sent": outcome is not None and outcome.attempts > 0,
        "result": str(outcome.result) if outcome else None,
        "attempts": outcome.attempts if outcome else 0,
        "error_cause": outcome.error_cause if outcome else None,
        "error": outcome.error if outcome else "already done or in progress",
    }


def _refused(session_id: str, error: str) -> dict:
    return {"session": session_id, "sent": False, "result": None, "error": error}


@celery.task(name="ebs.kick_session")
def kick_session(session_id: str, reason: str = "admin") -> dict:
    """Disconnect-Request for one open session (desired state 'disconnected')."""
    session_id = arguments.session_key(session_id)
    reason = arguments.text(reason, "reason")
    settings = settings_mod.load()
    with connect(settings_mod.database_conninfo(settings, component="worker"),
                 autocommit=True) as conn:
        row = fetch_one(conn, datetime.now(UTC), session_id)
        if row is None:
            return _refused(session_id, "no such open session")
        [sent] = perform(conn, [action(row, Wanted(DISCONNECTED, Request.DISCONNECT, reason))])
    return summary(sent)


@celery.task(name="ebs.change_speed")
def change_speed(session_id: str) -> dict:
    """CoA-Request giving one open session its tariff's speed in force now.

    An operator's explicit re-apply (the online sessions page); tariff changes and speed
    edits reach live sessions by themselves through ``ebs.enforce_access``. Refused for
    a session whose account may not have full access (that is ``ebs.enforce_access``'s
    business) and when there is nothing to send (no speed, or a vendor we cannot shape).
    """
    session_id = arguments.session_key(session_id)
    settings = settings_mod.load()
    tz = ZoneInfo(settings.TIME_ZONE)
    now = datetime.now(UTC)
    with connect(settings_mod.database_conninfo(settings, component="worker"),
                 autocommit=True) as conn:
        row = fetch_one(conn, now, session_id)
        if row is None:
            return _refused(session_id, "no such open session")
        rules = load_tariff_rules(conn)
        decision = verdict(row, now, tz, rules)
        if not decision.accepted or decision.guest:
            return _refused(session_id, f"access is not full: {decision.reason}")
        change = speed_change(row, now, tz, rules)
        if change is None:
            return _refused(session_id, "no speed to send for this tariff and NAS vendor")
        desired, attributes = change
        wanted = Wanted(desired, Request.COA, "admin", tuple(attributes))
        [sent] = perform(conn, [action(row, wanted)])
    return summary(sent)
