"""The one path that sends CoA/Disconnect requests: claim, send, record (``coa_requests``).

Idempotency is the database's (DESIGN.md: CoA by (session, desired state)). Before a
request leaves, its row is claimed by one INSERT … ON CONFLICT that succeeds only if no
row exists for (session, desired state), or the row ended without an ACK, or its ACK was
superseded by a later request for the same session (the state changed since), or it is a
claim left 'sending' by a worker that died. So a duplicate task delivery, or two workers
racing, send nothing twice once the NAS has ACKed; the claim commits before the packet
goes, so a crash between them is recovered after ``STALE_CLAIM``.

Claims and records are set-based (one statement per batch); the exchanges of a batch run
in parallel threads, since each mostly waits on a NAS.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

import psycopg

from worker.coa import Kind, Outcome, Result, Target, build_request, exchange

__all__ = ["Action", "Sent", "perform"]

# A 'sending' row older than this belongs to a worker that died mid-exchange; longer
# than any exchange (60 s timeout x 10 attempts at most, see the nas table's CHECKs).
STALE_CLAIM = timedelta(minutes=15)
PARALLEL = 32


@dataclass(frozen=True, slots=True)
class Action:
    """One request to make: ``attributes`` are the session's identity plus the change."""

    acct_unique_id: str
    desired_state: str
    kind: Kind
    reason: str
    account_id: int | None
    nas_id: int | None
    target: Target | None
    attributes: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Sent:
    """What became of an action: ``request_id`` None = not claimed (done or in flight)."""

    action: Action
    request_id: int | None
    outcome: Outcome | None


_CLAIM = """
INSERT INTO coa_requests AS c
       (acct_unique_id, desired_state, kind, reason, account_id, nas_id, attributes)
SELECT x.uid, x.desired, x.kind, x.reason, x.account, x.nas, x.attrs::jsonb
  FROM unnest(%(uid)s::text[], %(desired)s::text[], %(kind)s::text[], %(reason)s::text[],
              %(account)s::bigint[], %(nas)s::integer[], %(attrs)s::text[])
       AS x(uid, desired, kind, reason, account, nas, attrs)
ON CONFLICT (acct_unique_id, desired_state) DO UPDATE
   SET kind = excluded.kind, reason = excluded.reason, account_id = excluded.account_id,
       nas_id = excluded.nas_id, attributes = excluded.attributes, state = 'sending',
       result = NULL, error_cause = NULL, error = '', requested_at = now(),
       finished_at = NULL
 WHERE (c.state = 'done'
        AND (c.result <> 'ACK'
             OR EXISTS (SELECT 1 FROM coa_requests o
                         WHERE o.acct_unique_id = c.acct_unique_id AND o.id <> c.id
                           AND o.requested_at > c.requested_at)))
    OR (c.state = 'sending' AND c.requested_at < now() - %(stale)s)
RETURNING c.id, c.acct_unique_id
"""

# A CoA the NAS ACKed is what the session has now: its desired state becomes the
# session's given_state, which the enforcement compares with what is due
# (billing.enforcement).
_RECORD = """
WITH done AS (
    UPDATE coa_requests c
       SET state = 'done', result = x.result, error_cause = x.cause, error = x.error,
           attempts = c.attempts + x.attempts, finished_at = clock_timestamp()
      FROM unnest(%(id)s::bigint[], %(result)s::text[], %(cause)s::integer[],
                  %(error)s::text[], %(attempts)s::integer[])
           AS x(id, result, cause, error, attempts)
     WHERE c.id = x.id
    RETURNING c.acct_unique_id, c.desired_state, c.kind, c.result
)
UPDATE sessions_open so SET given_state = d.desired_state
  FROM done d
 WHERE so.acct_unique_id = d.acct_unique_id AND d.kind = 'coa' AND d.result = 'ACK'
"""


def _claim(conn: psycopg.Connection, actions: Sequence[Action]) -> dict[str, int]:
    rows = conn.execute(
        _CLAIM,
        {
            "uid": [a.acct_unique_id for a in actions],
            "desired": [a.desired_state for a in actions],
            "kind": [str(a.kind) for a in actions],
            "reason": [a.reason for a in actions],
            "account": [a.account_id for a in actions],
            "nas": [a.nas_id for a in actions],
            "attrs": [json.dumps([list(p) for p in a.attributes]) for a in actions],
            "stale": STALE_CLAIM,
        },
    ).fetchall()
    return {uid: request_id for request_id, uid in rows}


def _send(action: Action) -> Outcome:
    if action.target is None:
        return Outcome(result=Result.ERROR, attempts=0, error="the session's NAS is unknown")
    try:
        packet = build_request(
            action.kind, action.target.secret, list(action.attributes), secrets.randbelow(256)
        )
    except (ValueError, TypeError, KeyError) as error:  # an attribute pyrad cannot encode
        return Outcome(result=Result.ERROR, attempts=0, error=f"cannot build request: {error}")
    return exchange(action.target, packet)


def _record(conn: psycopg.Connection, done: Sequence[tuple[int, Outcome]]) -> None:
    conn.execute(
        _RECORD,
        {
            "id": [request_id for request_id, _ in done],
            "result": [str(o.result) for _, o in done],
            "cause": [o.error_cause for _, o in done],
            "error": [o.error for _, o in done],
            "attempts": [o.attempts for _, o in done],
        },
    )


def perform(conn: psycopg.Connection, actions: Sequence[Action]) -> list[Sent]:
    """Claim, send and record ``actions`` (at most one per session); ``conn`` autocommits.

    Actions whose claim fails are returned with ``request_id`` None and nothing is sent.
    """
    if not actions:
        return []
    claimed = _claim(conn, actions)
    to_send = [a for a in actions if a.acct_unique_id in claimed]
    with ThreadPoolExecutor(max_workers=min(PARALLEL, max(1, len(to_send)))) as pool:
        outcomes = dict(zip((a.acct_unique_id for a in to_send), pool.map(_send, to_send),
                            strict=True))
    if outcomes:
        _record(conn, [(claimed[uid], outcome) for uid, outcome in outcomes.items()])
    return [
        Sent(a, claimed.get(a.acct_unique_id), outcomes.get(a.acct_unique_id)) for a in actions
    ]
