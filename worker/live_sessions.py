"""Live sessions against their accounts: what each must become, and the request to get it.

Rows come from one set-based query per chunk (:func:`fetch`); each row's verdict comes
from :func:`billing.access.decide_live`, the same rules as login, so there is no second
copy of them; :func:`plan` turns the verdict into at most one :class:`Action`:

* not allowed (suspended, disabled, no tariff, outside the access window, blocked or
  out of money with no guest pool) -> Disconnect-Request, desired state 'disconnected';
* allowed only as a guest, on a normal address -> Disconnect-Request, desired state
  'guest'. The guest pool is an address pool (the stub page and NAT rules key on those
  addresses) and no vendor renumbers a live PPP or IPoE session by CoA, so the session is
  ended and its re-authentication lands in the guest pool (``decide`` puts it there);
* allowed, but sitting in the guest pool (the debt was paid) -> Disconnect-Request, so
  the re-authentication gets the tariff's pool and speed, for the same reason;
* allowed, on a normal address, after we had asked the NAS for something else (a
  disconnect that was refused or not answered, another speed) -> CoA-Request restoring
  the speed in force, rendered for the NAS's vendor by ``billing.speeds.render``;
* allowed, on a normal address, never sent anything, on a tariff whose speed changes by
  time of day, where the speed in force differs from the one its login rendered ->
  CoA-Request with the speed in force (:func:`login_speed_states`).

Any other session we never sent anything to is left as its login made it; one whose
Disconnect was ACKed is left to its Stop. A request the NAS answered (ACK, or a NAK:
asking again gets the same answer) is not repeated by the enforcement; a timeout is
retried on the next run.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

import psycopg
from psycopg.rows import class_row

from billing.access import AccessFacts, Decision, Reason, decide_live
from billing.periods import Repeat, TimeNode
from billing.speeds import (
    Speed,
    SpeedOverride,
    TariffSpeeds,
    last_speed_change,
    render,
    speed_for,
)
from worker.coa import Kind, SessionIdent, Target, identity_attributes
from worker.coa_store import Action

__all__ = [
    "DISCONNECTED",
    "GUEST",
    "LiveSession",
    "TariffRules",
    "action",
    "candidates",
    "fetch",
    "fetch_one",
    "load_tariff_rules",
    "login_speed_states",
    "plan",
    "speed_change",
    "speed_edges",
    "speed_state",
    "speed_states",
    "target",
    "verdict",
]

DISCONNECTED = "disconnected"
GUEST = "guest"
TIME_OF_DAY_SPEED = "time_of_day_speed"

# How long before its Accounting-Start a session may have been authorised: the NAS
# sends the Start once the link is up (PPP's IPCP, a DHCP lease), seconds after the
# Access-Accept that carried the speed. A speed boundary inside this slack leaves the
# login's speed unknown, and the session is sent the speed in force to be sure.
LOGIN_SLACK = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class LiveSession:
    """One open session with its account's facts, its NAS and our last request to it."""

    acct_unique_id: str
    acct_session_id: str
    username: str
    nas_ip: str
    framed_ip: str | None
    account_id: int | None
    nas_id: int | None
    status: str | None
    blocked_by_balance: bool | None
    blocked_by_limit: bool | None
    balance: Decimal | None
    credit: Decimal | None
    allow_at_zero: bool
    allow_negative: bool
    allow_when_blocked: bool
    tariff_id: int | None
    tariff_active: bool | None
    access_type: str | None
    guest_pool_id: int | None
    in_guest_pool: bool
    vendor: str | None
    nas_address: str | None
    coa_port: int | None
    secret: str | None
    coa_timeout_ms: int | None
    coa_attempts: int | None
    last_desired: str | None
    last_kind: str | None
    last_result: str | None
    started_at: datetime | None = None


_SELECT = """
SELECT so.acct_unique_id, so.acct_session_id, so.username, host(so.nas_ip) AS nas_ip,
       host(so.framed_ip) AS framed_ip, so.account_id, so.nas_id,
       a.status, a.blocked_by_balance, a.blocked_by_limit, a.balance, a.credit,
       coalesce(sa.allow_at_zero, false) AS allow_at_zero,
       coalesce(sa.allow_negative, false) AS allow_negative,
       coalesce(sa.allow_when_blocked, false) AS allow_when_blocked,
       t.id AS tariff_id, t.active AS tariff_active, t.access_type, t.guest_pool_id,
       coalesce(so.framed_ip BETWEEN gp.range_start AND gp.range_end, false) AS in_guest_pool,
       n.vendor, host(n.ip_address) AS nas_address, n.coa_port, n.secret,
       n.coa_timeout_ms, n.coa_attempts,
       last.desired_state AS last_desired, last.kind AS last_kind, last.result AS last_result,
       so.started_at
  FROM sessions_open so
  LEFT JOIN accounts a ON a.id = so.account_id
  LEFT JOIN subaccounts sa ON sa.id = so.subaccount_id
  LEFT JOIN nas n ON n.id = so.nas_id
  LEFT JOIN LATERAL (
        SELECT tr.id, tr.active, tr.access_type, tr.guest_pool_id, tr.access_time_period_id
          FROM account_tariffs at JOIN tariffs tr ON tr.id = at.tariff_id
         WHERE at.account_id = so.account_id AND at.assigned_at <= %(now)s
         ORDER BY at.assigned_at DESC
         LIMIT 1) t ON true
  LEFT JOIN ip_pools gp ON gp.id = t.guest_pool_id
  LEFT JOIN LATERAL (
        SELECT c.desired_state, c.kind, c.result
          FROM coa_requests c
         WHERE c.acct_unique_id = so.acct_unique_id
         ORDER BY c.requested_at DESC, c.id DESC
         LIMIT 1) last ON true
"""

# The enforcement's candidates, set-based (hash joins; one index lookup per session we
# have sent something to): sessions whose account is not active, is blocked or has no
# positive balance + credit; sessions we have sent something to, unless our last request
# was a Disconnect the NAS ACKed (plan leaves those to their Stop) or was answered with
# the speed state now in force on the session's tariff (``speed_states``: plan would ask
# for that state again, which it does not repeat; a session whose access changed is a
# candidate by the other branches); sessions on an address of any guest pool; sessions of
# accounts with no tariff yet or with any assignment to an inactive or windowed tariff;
# sessions never sent anything, of accounts with any assignment to a tariff with
# time-of-day speeds, that began (less LOGIN_SLACK) before that tariff's last speed edge
# (``speed_edges``: one moment per such tariff, computed in Python from a few rows).
# Every other session belongs to an active, unblocked account with a positive total on
# an active tariff without an access window, sits on a normal address, was never sent
# anything and has had the speed its login rendered ever since: decide_live allows it
# and plan leaves it alone (tests/unit/test_access_live.py holds the first half), so
# skipping it changes no outcome and keeps a run over 500k healthy sessions to a few
# scans.
_CANDIDATES = """
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
           SELECT st.state
             FROM (SELECT at.tariff_id FROM account_tariffs at
                    WHERE at.account_id = l.account_id AND at.assigned_at <= %(now)s
                    ORDER BY at.assigned_at DESC LIMIT 1) cur
             JOIN unnest(%(state_tariffs)s::integer[], %(states)s::text[])
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
  FROM unnest(%(speed_tariffs)s::integer[], %(speed_since)s::timestamptz[])
       AS e(tariff_id, since)
  JOIN account_tariffs at ON at.tariff_id = e.tariff_id
  JOIN sessions_open so ON so.account_id = at.account_id
 WHERE so.started_at < e.since + %(slack)s
   AND NOT EXISTS (SELECT 1 FROM coa_requests c WHERE c.acct_unique_id = so.acct_unique_id)
UNION
SELECT so.acct_unique_id
  FROM sessions_open so
 WHERE so.account_id IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM account_tariffs at
                    WHERE at.account_id = so.account_id AND at.assigned_at <= %(now)s)
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


@dataclass(frozen=True, slots=True)
class TariffRules:
    """Per tariff: access window nodes and speeds (None = a speed we cannot read)."""

    windows: Mapping[int, tuple[TimeNode, ...]]
    speeds: Mapping[int, TariffSpeeds | None]


def load_tariff_rules(conn: psycopg.Connection) -> TariffRules:
    """Every tariff's window and speeds: a few rows, read once per run."""
    windows: dict[int, list[TimeNode]] = {}
    for tariff_id, starts_at, length, repeat in conn.execute(_NODES):
        windows.setdefault(tariff_id, []).append(TimeNode(starts_at, length, Repeat(repeat)))
    rows: dict[int, dict[int, tuple[str, int | None, list[TimeNode]]]] = {}
    for tariff_id, speed_id, text, period_id, starts_at, length, repeat in conn.execute(_SPEEDS):
        entry = rows.setdefault(tariff_id, {}).setdefault(speed_id, (text, period_id, []))
        if starts_at is not None:
            entry[2].append(TimeNode(starts_at, length, Repeat(repeat)))
    speeds: dict[int, TariffSpeeds | None] = {}
    for tariff_id, entries in rows.items():
        try:
            default = None
            overrides = []
            for text, period_id, nodes in entries.values():
                if period_id is None:
                    default = Speed.parse(text)
                else:
                    overrides.append(SpeedOverride(Speed.parse(text), tuple(nodes)))
            speeds[tariff_id] = TariffSpeeds(default=default, overrides=tuple(overrides))
        except ValueError:
            speeds[tariff_id] = None
    return TariffRules(windows={k: tuple(v) for k, v in windows.items()}, speeds=speeds)


def speed_edges(rules: TariffRules, now: datetime, tz: ZoneInfo) -> dict[int, datetime]:
    """Per tariff with time-of-day speeds: the last moment its speed may have changed
    (``billing.speeds.last_speed_change``). A session that began after it still has the
    speed its login rendered."""
    edges = {}
    for tariff_id, speeds in rules.speeds.items():
        if speeds is None or not speeds.overrides:
            continue
        edge = last_speed_change(speeds, now, tz)
        if edge is not None:
            edges[tariff_id] = edge
    return edges


def speed_states(rules: TariffRules, now: datetime, tz: ZoneInfo) -> dict[int, str]:
    """Per tariff whose speeds we can read: the desired state of its speed in force now."""
    return {tariff_id: speed_state(_speed_at(speeds, now, tz))
            for tariff_id, speeds in rules.speeds.items() if speeds is not None}


def candidates(
    conn: psycopg.Connection,
    now: datetime,
    edges: Mapping[int, datetime] | None = None,
    states: Mapping[int, str] | None = None,
) -> list[str]:
    """Sessions that may need a request now, in key order (see ``_CANDIDATES``);
    ``edges`` from :func:`speed_edges` (none: time-of-day speeds are not looked at),
    ``states`` from :func:`speed_states` (none: every session we have sent something to
    but an ACKed Disconnect is a candidate)."""
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


def verdict(row: LiveSession, now: datetime, tz: ZoneInfo, rules: TariffRules) -> Decision:
    """billing.access.decide_live on the row's facts (unknown_login with no account)."""
    if row.status is None:
        return Decision.reject(Reason.UNKNOWN_LOGIN)
    return decide_live(
        AccessFacts(
            now=now,
            tz=tz,
            account_status=row.status,
            blocked_by_balance=bool(row.blocked_by_balance),
            blocked_by_limit=bool(row.blocked_by_limit),
            balance=row.balance or Decimal(0),
            credit=row.credit or Decimal(0),
            allow_at_zero=row.allow_at_zero,
            allow_negative=row.allow_negative,
            allow_when_blocked=row.allow_when_blocked,
            tariff_active=bool(row.tariff_active),
            tariff_access_type=row.access_type if row.tariff_id is not None else None,
            access_window=rules.windows.get(row.tariff_id, ()) if row.tariff_id else (),
            guest_pool_id=row.guest_pool_id,
        )
    )


@lru_cache(maxsize=4096)
def _speed_at(speeds: TariffSpeeds, moment: datetime, tz: ZoneInfo) -> Speed | None:
    """``speed_for``, remembered: a run asks it for every candidate of a tariff at the
    same moment, and for sessions that began together at their common start."""
    return speed_for(speeds, moment, tz)


def speed_state(speed: Speed | None) -> str:
    """The desired state of a speed change: ``speed:10M/20M`` (``speed:none``: unlimited)."""
    return f"speed:{speed.mikrotik() if speed is not None else 'none'}"


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


def action(row: LiveSession, desired: str, kind: Kind, reason: str,
           change: list[tuple[str, str]] | None = None) -> Action:
    return Action(
        acct_unique_id=row.acct_unique_id,
        desired_state=desired,
        kind=kind,
        reason=reason,
        account_id=row.account_id,
        nas_id=row.nas_id,
        target=target(row),
        attributes=identity(row) + tuple(change or ()),
    )


def speed_change(
    row: LiveSession, now: datetime, tz: ZoneInfo, rules: TariffRules
) -> tuple[str, list[tuple[str, str]]] | None:
    """(desired state, attributes) of the speed in force; None if it cannot be sent."""
    if row.tariff_id is None or row.vendor is None:
        return None
    speeds = rules.speeds.get(row.tariff_id, TariffSpeeds())
    if speeds is None:
        return None
    speed = _speed_at(speeds, now, tz)
    change = render(row.vendor, speed)
    return (speed_state(speed), change) if change else None


def login_speed_states(row: LiveSession, tz: ZoneInfo, rules: TariffRules) -> set[str]:
    """The desired states of the speeds the session's login may have rendered.

    The login rendered the tariff's speed in force when it was authorised (rlm_ebs:
    ``speed_for`` at the request's moment), which was at most ``LOGIN_SLACK`` before the
    session's start: one state, or two when a speed edge fell in between. Empty for a
    tariff without time-of-day speeds, whose speed does not depend on the moment. The
    tariff is the one in force now: a tariff change mid-session is the admin's
    ``ebs.change_speed`` to send, as before.
    """
    speeds = rules.speeds.get(row.tariff_id) if row.tariff_id is not None else None
    if speeds is None or not speeds.overrides or row.started_at is None:
        return set()
    return {speed_state(_speed_at(speeds, moment, tz))
            for moment in (row.started_at - LOGIN_SLACK, row.started_at)}


def plan(row: LiveSession, now: datetime, tz: ZoneInfo, rules: TariffRules) -> Action | None:
    """At most one request for this session (module docstring); None = nothing to do."""
    if row.nas_id is None:
        return None  # the NAS was deleted: nobody to ask; the sweep closes the session
    if row.last_kind == Kind.DISCONNECT and row.last_result == "ACK":
        return None  # gone on the NAS; its Stop is on the way
    decision = verdict(row, now, tz, rules)
    reason = str(decision.reason)
    if not decision.accepted:
        wanted = action(row, DISCONNECTED, Kind.DISCONNECT, reason)
    elif decision.guest:
        if row.in_guest_pool:
            return None
        wanted = action(row, GUEST, Kind.DISCONNECT, reason)
    else:
        change = speed_change(row, now, tz, rules)
        if row.in_guest_pool:
            desired = change[0] if change else speed_state(None)
            wanted = action(row, desired, Kind.DISCONNECT, reason)
        elif change is None:
            return None
        elif row.last_desired is None:
            given = login_speed_states(row, tz, rules)
            if not given or given == {change[0]}:
                return None  # the login's speed is still the one in force
            wanted = action(row, change[0], Kind.COA, TIME_OF_DAY_SPEED, change[1])
        else:
            wanted = action(row, change[0], Kind.COA, reason, change[1])
    answered = row.last_result in ("ACK", "NAK")
    if row.last_desired == wanted.desired_state and answered:
        return None
    return wanted
