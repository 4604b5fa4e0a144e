"""Live sessions for the enforcement: the candidate query, their rows, and the packets.

The policy (what each session must become) is :mod:`billing.enforcement`'s; here are only
the queries that feed it and the mapping of its :class:`~billing.enforcement.Wanted` to a
:class:`worker.coa_store.Action` for the session's NAS. :func:`candidates` narrows 500k
open sessions to those the policy might act on, in one set-based statement;
:func:`fetch` reads them with their facts in chunks.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import class_row

from billing.assignments import all_in_force, in_force
from billing.enforcement import (
    LOGIN_SLACK,
    Request,
    SessionFacts,
    TariffRules,
    Wanted,
    tariff_rules,
)
from worker.coa import Kind, SessionIdent, Target, identity_attributes
from worker.coa_store import Action

__all__ = [
    "LiveSession",
    "action",
    "candidates",
    "fetch",
    "fetch_one",
    "load_tariff_rules",
    "target",
]

_KINDS = {Request.DISCONNECT: Kind.DISCONNECT, Request.COA: Kind.COA}


@dataclass(frozen=True, slots=True)
class LiveSession(SessionFacts):
    """One open session: the policy's facts (its account, tariff, what it was given, our
    last request) and what names it to its NAS and reaches that NAS."""

    acct_unique_id: str = ""
    acct_session_id: str = ""
    username: str = ""
    nas_ip: str = ""
    framed_ip: str | None = None
    nas_id: int | None = None
    nas_address: str | None = None
    coa_port: int | None = None
    secret: str | None = None
    coa_timeout_ms: int | None = None
    coa_attempts: int | None = None


# ``limit_speeds`` are spelled as billing.traffic_limits.parse_limit_speed reads them, in
# limit id order; sql/functions/ebs_radius_check.sql spells the login's EBS-Limit-Speed
# rows the same, so a login and the enforcement arrive at one speed.
_SELECT = f"""
SELECT so.acct_unique_id, so.acct_session_id, so.username, host(so.nas_ip) AS nas_ip,
       host(so.framed_ip) AS framed_ip, so.account_id, so.nas_id,
       so.nas_id IS NOT NULL AS nas_known,
       a.status, a.blocked_by_balance, a.blocked_by_limit, a.balance, a.credit,
       coalesce(sa.allow_at_zero, false) AS allow_at_zero,
       coalesce(sa.allow_negative, false) AS allow_negative,
       coalesce(sa.allow_when_blocked, false) AS allow_when_blocked,
       t.id AS tariff_id, t.active AS tariff_active, t.access_type, t.guest_pool_id,
       coalesce(so.framed_ip BETWEEN gp.range_start AND gp.range_end, false) AS in_guest_pool,
       n.vendor, host(n.ip_address) AS nas_address, n.coa_port, n.secret,
       n.coa_timeout_ms, n.coa_attempts,
       last.desired_state AS last_desired, last.kind AS last_kind, last.result AS last_result,
       so.started_at, so.given_state,
       coalesce((SELECT array_agg(l.speed_mode || ':' || coalesce(l.speed, l.percent::text)
                                  ORDER BY l.id)
                   FROM account_traffic_limits s
                   JOIN tariff_traffic_limits l ON l.id = s.limit_id
                  WHERE s.account_id = so.account_id AND l.action = 'speed'),
                '{{}}') AS limit_speeds
  FROM sessions_open so
  LEFT JOIN accounts a ON a.id = so.account_id
  LEFT JOIN subaccounts sa ON sa.id = so.subaccount_id
  LEFT JOIN nas n ON n.id = so.nas_id
  LEFT JOIN LATERAL (
        SELECT tr.id, tr.active, tr.access_type, tr.guest_pool_id, tr.access_time_period_id
          FROM ({in_force("so.account_id", "%(now)s", columns="t.tariff_id")}) at
          JOIN tariffs tr ON tr.id = at.tariff_id) t ON true
  LEFT JOIN ip_pools gp ON gp.id = t.guest_pool_id
  LEFT JOIN LATERAL (
        SELECT c.desired_state, c.kind, c.result
          FROM coa_requests c
         WHERE c.acct_unique_id = so.acct_unique_id
         ORDER BY c.requested_at DESC, c.id DESC
         LIMIT 1) last ON true
"""

# The enforcement's candidates, set-based (hash joins; one index lookup per session we
# have sent something to): sessions whose account is not ``billing.enforcement.healthy``
# (not active, blocked, or no positive balance + credit); sessions we have sent something
# to, unless our last request was a Disconnect the NAS ACKed (plan leaves those to their
# Stop) or was answered with the speed state now in force on the session's tariff
# (``speed_states``: plan would ask for that state again, which it does not repeat; a
# session whose access changed is a candidate by the other branches); sessions on an
# address of any guest pool; sessions of accounts with any assignment to an inactive or
# windowed tariff; sessions of accounts with no tariff yet, and those whose login (or
# last ACKed CoA) gave a state other than the one due on their account's current tariff
# now (its ``speed_states`` entry, ``speed:none`` for a tariff without speeds;
# ``given_state``, recorded from the Class by the accounting and by coa_store on an ACK):
# a tariff change by any path, an edit of a tariff's speeds or time-of-day speeds, a
# time-of-day edge, a guest whose debt is paid (one merge join of the open sessions with
# each account's current assignment: about 0.4 s of the query's 0.7-1.0 s at 500k open
# sessions, none of them a candidate, on a busy 2-core box); and sessions whose login did
# not say what it gave and were never sent anything, of accounts with any assignment to
# a tariff with time-of-day speeds, that began (less LOGIN_SLACK) before that tariff's
# last speed edge (``speed_edges``: one moment per such tariff, from a few rows); and
# sessions of accounts with a traffic limit's speed in force (account_traffic_limits,
# few rows: their speed due is not their tariff's).
# Every other session belongs to a healthy account on an active tariff without an access
# window, sits on a normal address, was never sent anything and has had the speed its
# login gave ever since: decide_live allows it and plan leaves it alone, so skipping it
# changes no outcome (tests/integration/test_enforcement_candidates.py holds the query
# against plan on a generated grid) and keeps a run over 500k healthy sessions to a few
# scans.
_CANDIDATES = f"""
SELECT so.acct_unique_id
  FROM sessions_open so JOIN accounts a ON a.id = so.account_id
 WHERE NOT (a.status = 'active' AND NOT a.blocked_by_balance AND NOT a.blocked_by_limit
            AND a.balance + a.credit > 0)
UNION
SELECT l.acct_unique_id
  FROM (SELECT DISTINCT ON (c.acct_unique_id) c.acct_unique_id, so.account_id,
               c.desired_state, c.kind, c.result
          FROM coa_requests c JOIN sessions_open so ON so.acct_unique_id = c.acct_unique_id
         WHERE so.account_id IS NOT NULL
         ORDER BY c.acct_unique_id, c.requested_at DESC, c.id DESC) l
 WHERE NOT coalesce(l.kind = 'disconnect' AND l.result = 'ACK', false)
   AND NOT coalesce(l.result IN ('ACK', 'NAK') AND l.desired_state = (
           SELECT CASE WHEN st.tariff_id IS NULL THEN 'speed:none' ELSE st.state END
             FROM ({in_force("l.account_id", "%(now)s", columns="t.tariff_id")}) cur
             LEFT JOIN unnest(%(state_tariffs)s::integer[], %(states)s::text[])
                  AS st(tariff_id, state) ON st.tariff_id = cur.tariff_id), false)
UNION
SELECT so.acct_unique_id
  FROM sessions_open so
  JOIN ip_pools gp ON so.framed_ip BETWEEN gp.range_start AND gp.range_end
 WHERE so.account_id IS NOT NULL
   AND gp.id IN (SELECT guest_pool_id FROM tariffs WHERE guest_pool_id IS NOT NULL)
UNION
SELECT so.acct_unique_id
  FROM tariffs t
  JOIN account_tariffs at ON at.tariff_id = t.id
  JOIN sessions_open so ON so.account_id = at.account_id
 WHERE NOT t.active OR t.access_time_period_id IS NOT NULL
UNION
SELECT so.acct_unique_id
  FROM sessions_open so
  LEFT JOIN ({all_in_force("%(now)s", columns="t.account_id, t.tariff_id")}) cur
       ON cur.account_id = so.account_id
  LEFT JOIN unnest(%(state_tariffs)s::integer[], %(states)s::text[]) AS st(tariff_id, state)
       ON st.tariff_id = cur.tariff_id
 WHERE so.account_id IS NOT NULL
   AND (cur.account_id IS NULL
        OR so.given_state <> CASE WHEN st.tariff_id IS NULL THEN 'speed:none' ELSE st.state END)
UNION
SELECT so.acct_unique_id
  FROM unnest(%(speed_tariffs)s::integer[], %(speed_since)s::timestamptz[])
       AS e(tariff_id, since)
  JOIN account_tariffs at ON at.tariff_id = e.tariff_id
  JOIN sessions_open so ON so.account_id = at.account_id
 WHERE so.started_at < e.since + %(slack)s
   AND so.given_state IS NULL
   AND NOT EXISTS (SELECT 1 FROM coa_requests c WHERE c.acct_unique_id = so.acct_unique_id)
UNION
SELECT so.acct_unique_id
  FROM account_traffic_limits s
  JOIN tariff_traffic_limits l ON l.id = s.limit_id AND l.action = 'speed'
  JOIN sessions_open so ON so.account_id = s.account_id
ORDER BY 1
"""

_CHUNK = _SELECT + """
 WHERE so.acct_unique_id = ANY(%(ids)s) AND a.id IS NOT NULL
 ORDER BY so.acct_unique_id
"""

_ONE = _SELECT + " WHERE so.acct_unique_id = %(uid)s"

_NODES = """
SELECT tr.id, tn.starts_at, tn.length, tn.repeat
  FROM tariffs tr JOIN time_period_nodes tn ON tn.time_period_id = tr.access_time_period_id
 ORDER BY tr.id, tn.id
"""

_SPEEDS = """
SELECT ts.tariff_id, ts.id, ts.speed, ts.time_period_id, tn.starts_at, tn.length, tn.repeat
  FROM tariff_speeds ts
  LEFT JOIN time_period_nodes tn ON tn.time_period_id = ts.time_period_id
 ORDER BY ts.tariff_id, ts.time_period_id IS NOT NULL, ts.id, tn.id
"""


def load_tariff_rules(conn: psycopg.Connection) -> TariffRules:
    """Every tariff's window and speeds: a few rows, read once per run."""
    return tariff_rules(conn.execute(_NODES).fetchall(), conn.execute(_SPEEDS).fetchall())


def candidates(
    conn: psycopg.Connection,
    now: datetime,
    edges: Mapping[int, datetime] | None = None,
    states: Mapping[int, str | None] | None = None,
) -> list[str]:
    """Sessions that may need a request now, in key order (see ``_CANDIDATES``);
    ``edges`` from ``billing.enforcement.speed_edges`` (none: time-of-day speeds are not
    looked at), ``states`` from ``billing.enforcement.speed_states`` (none: every tariff
    counts as unlimited)."""
    edges, states = edges or {}, states or {}
    params = {"now": now, "speed_tariffs": list(edges), "speed_since": list(edges.values()),
              "slack": LOGIN_SLACK, "state_tariffs": list(states),
              "states": list(states.values())}
    with _without_jit(conn):
        return [row[0] for row in conn.execute(_CANDIDATES, params)]


def fetch(conn: psycopg.Connection, now: datetime, ids: list[str]) -> list[LiveSession]:
    """The rows of these sessions (those still open and with an account)."""
    with _without_jit(conn), conn.cursor(row_factory=class_row(LiveSession)) as cur:
        return cur.execute(_CHUNK, {"now": now, "ids": ids}).fetchall()


@contextmanager
def _without_jit(conn: psycopg.Connection) -> Iterator[None]:
    """Compiling these plans took seconds where running them takes a fraction of one
    (measured on 200k sessions): the planner's estimates for the big scans trip JIT."""
    with conn.transaction():
        conn.execute("SET LOCAL jit = off")
        yield


def fetch_one(conn: psycopg.Connection, now: datetime, acct_unique_id: str) -> LiveSession | None:
    with conn.cursor(row_factory=class_row(LiveSession)) as cur:
        return cur.execute(_ONE, {"now": now, "uid": acct_unique_id}).fetchone()


def target(row: LiveSession) -> Target | None:
    """The NAS's Dynamic Authorization server, or None when the session's NAS is gone."""
    if row.nas_address is None or row.secret is None or row.coa_port is None:
        return None
    return Target(
        host=row.nas_address,
        port=row.coa_port,
        secret=row.secret.encode(),
        timeout=(row.coa_timeout_ms or 3000) / 1000,
        attempts=row.coa_attempts or 3,
    )


def identity(row: LiveSession) -> tuple[tuple[str, str], ...]:
    return tuple(
        identity_attributes(
            SessionIdent(row.username, row.acct_session_id, row.nas_ip, row.framed_ip)
        )
    )


def action(row: LiveSession, wanted: Wanted) -> Action:
    """The packet for ``wanted``: the session's identity, then the change it carries."""
    return Action(
        acct_unique_id=row.acct_unique_id,
        desired_state=wanted.desired_state,
        kind=_KINDS[wanted.kind],
        reason=wanted.reason,
        account_id=row.account_id,
        nas_id=row.nas_id,
        target=target(row),
        attributes=identity(row) + tuple(wanted.change),
    )
