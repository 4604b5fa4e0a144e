"""What a live session must become, and the one request that gets it there. Pure: no I/O.

The worker (``ebs.enforce_access``) fetches candidate sessions with their account's facts
and hands each to :func:`plan`; the verdict comes from :func:`billing.access.decide_live`,
the same rules as login, so there is no second copy of them. :func:`plan` answers with at
most one :class:`Wanted`:

* not allowed (suspended, disabled, no tariff, outside the access window, blocked or
  out of money with no guest pool) -> Disconnect, desired state 'disconnected';
* allowed only as a guest, on a normal address -> Disconnect, desired state 'guest'. The
  guest pool is an address pool (the stub page and NAT rules key on those addresses) and
  no vendor renumbers a live PPP or IPoE session by CoA, so the session is ended and its
  re-authentication lands in the guest pool (``decide`` puts it there);
* allowed, but a guest (on a guest-pool address, or admitted as one) now that the debt
  is paid -> Disconnect, so the re-authentication gets the tariff's pool and speed;
* allowed, on a normal address, after we had asked the NAS for something else (a
  disconnect that was refused or not answered, another speed) -> CoA restoring the speed
  in force;
* allowed, on a normal address, never sent anything, given a speed at login that is not
  the speed due now (the tariff changed, its speeds or time-of-day speeds were edited, a
  time-of-day edge passed) -> CoA with the speed due (reason ``speed_changed``). What a
  login gave travels in the Access-Accept's Class and lands on the open session with the
  Accounting-Start; a CoA the NAS ACKs replaces it;
* the same, for a session whose login did not say what it gave (a NAS that does not echo
  the Class, a session older than the record): on a tariff whose speed changes by time of
  day, when the speed in force differs from any its login may have rendered -> CoA with
  the speed in force (:func:`login_speed_states`, reason ``time_of_day_speed``).

The speed in force is the tariff's, changed by the account's traffic limits in force
(``limit_speeds``, :func:`billing.traffic_limits.limited_speed`): a limit reached or
lifted is one more reason the speed due differs from what the session has, and the CoA
that follows carries the reason ``traffic_limit`` (``speed_changed`` once lifted). A
login gives the same limited speed (rlm_ebs.core.login_speed, from the limits
``ebs_radius_check`` reads, spelled as ``limit_speeds`` are) and says so in its Class, so
a limited account's new session is sent nothing more; a session whose login did not say
what it gave is sent the limited speed unless the tariff's default already is it.

Any other session is left as its login made it; one whose Disconnect was ACKed is left to
its Stop. A request the NAS answered (ACK, or a NAK: asking again gets the same answer) is
not repeated; a timeout is retried on the next run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo

from billing.access import AccessFacts, Decision, Reason, decide_live
from billing.speeds import (
    Speed,
    SpeedOverride,
    TariffSpeeds,
    last_speed_change,
    render,
    speed_for,
)
from billing.time_windows import Repeat, TimeNode
from billing.traffic_limits import limited_speed

__all__ = [
    "DISCONNECTED",
    "GUEST",
    "LOGIN_SLACK",
    "SPEED_CHANGED",
    "TIME_OF_DAY_SPEED",
    "TRAFFIC_LIMIT",
    "Request",
    "SessionFacts",
    "TariffRules",
    "Wanted",
    "given_state",
    "healthy",
    "login_speed_states",
    "plan",
    "speed_change",
    "speed_edges",
    "speed_state",
    "speed_states",
    "tariff_rules",
    "verdict",
]

DISCONNECTED = "disconnected"
GUEST = "guest"
TIME_OF_DAY_SPEED = "time_of_day_speed"
SPEED_CHANGED = "speed_changed"
TRAFFIC_LIMIT = "traffic_limit"

# How long before its Accounting-Start a session may have been authorised: the NAS
# sends the Start once the link is up (PPP's IPCP, a DHCP lease), seconds after the
# Access-Accept that carried the speed. A speed boundary inside this slack leaves the
# login's speed unknown, and the session is sent the speed in force to be sure.
LOGIN_SLACK = timedelta(minutes=1)


class Request(StrEnum):
    """What to ask of the NAS (RFC 5176); the values are ``coa_requests.kind``'s."""

    DISCONNECT = "disconnect"
    COA = "coa"


@dataclass(frozen=True, slots=True)
class SessionFacts:
    """One open session as the policy sees it: its account, its tariff, what it was
    given (``given_state``: a :func:`speed_state` or :data:`GUEST`, None = unknown) and
    our last request to it. ``nas_known`` False: its NAS was deleted."""

    account_id: int | None
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
    nas_known: bool = True
    last_desired: str | None = None
    last_kind: str | None = None
    last_result: str | None = None
    started_at: datetime | None = None
    given_state: str | None = None
    limit_speeds: tuple[str, ...] | list[str] = ()


@dataclass(frozen=True, slots=True)
class Wanted:
    """One request to make: the state it leads to, its kind, why, and the rate-limit
    attributes a CoA carries (rendered for the NAS's vendor)."""

    desired_state: str
    kind: Request
    reason: str
    change: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class TariffRules:
    """Per tariff: access window nodes and speeds (None = a speed we cannot read)."""

    windows: Mapping[int, tuple[TimeNode, ...]] = field(default_factory=dict)
    speeds: Mapping[int, TariffSpeeds | None] = field(default_factory=dict)


def tariff_rules(
    window_rows: Iterable[tuple[int, datetime, timedelta, str]],
    speed_rows: Iterable[tuple[int, int, str, int | None, datetime | None,
                               timedelta | None, str | None]],
) -> TariffRules:
    """Every tariff's window and speeds from the rows the worker reads once per run:
    ``(tariff, starts_at, length, repeat)`` per access-window node, and ``(tariff, speed
    id, speed text, time period or None, node starts_at, length, repeat)`` per speed and
    node. A tariff with a speed that does not parse gets None: nothing is sent for it."""
    windows: dict[int, list[TimeNode]] = {}
    for tariff_id, starts_at, length, repeat in window_rows:
        windows.setdefault(tariff_id, []).append(TimeNode(starts_at, length, Repeat(repeat)))
    rows: dict[int, dict[int, tuple[str, int | None, list[TimeNode]]]] = {}
    for tariff_id, speed_id, text, period_id, starts_at, length, repeat in speed_rows:
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


@lru_cache(maxsize=4096)
def _speed_at(speeds: TariffSpeeds, moment: datetime, tz: ZoneInfo) -> Speed | None:
    """``speed_for``, remembered: a run asks it for every candidate of a tariff at the
    same moment, and for sessions that began together at their common start."""
    return speed_for(speeds, moment, tz)


def speed_state(speed: Speed | None) -> str:
    """The desired state of a speed: ``speed:10M/20M`` (``speed:none``: unlimited)."""
    return f"speed:{speed.mikrotik() if speed is not None else 'none'}"


def given_state(guest: bool, speed: Speed | None) -> str:
    """What a login gives, in the terms :func:`plan` compares: :data:`GUEST` for a guest
    (the guest pool, no tariff speed), else the :func:`speed_state` of its speed."""
    return GUEST if guest else speed_state(speed)


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


def speed_states(rules: TariffRules, now: datetime, tz: ZoneInfo) -> dict[int, str | None]:
    """Per tariff with speed rows: the state of its speed in force now (None: a speed
    we cannot read). A tariff without rows is unlimited: ``speed:none``."""
    return {tariff_id: None if speeds is None else speed_state(_speed_at(speeds, now, tz))
            for tariff_id, speeds in rules.speeds.items()}


def healthy(facts: SessionFacts) -> bool:
    """The account-side half of the candidate query's skip: an active, unblocked account
    with a positive total. Every session of such an account on an active tariff without
    an access window is allowed in full (tests/unit/test_enforcement.py)."""
    return (facts.status == "active" and not facts.blocked_by_balance
            and not facts.blocked_by_limit
            and (facts.balance or Decimal(0)) + (facts.credit or Decimal(0)) > 0)


def verdict(facts: SessionFacts, now: datetime, tz: ZoneInfo, rules: TariffRules) -> Decision:
    """billing.access.decide_live on the session's facts (unknown_login with no account)."""
    if facts.status is None:
        return Decision.reject(Reason.UNKNOWN_LOGIN)
    return decide_live(
        AccessFacts(
            now=now,
            tz=tz,
            account_status=facts.status,
            blocked_by_balance=bool(facts.blocked_by_balance),
            blocked_by_limit=bool(facts.blocked_by_limit),
            balance=facts.balance or Decimal(0),
            credit=facts.credit or Decimal(0),
            allow_at_zero=facts.allow_at_zero,
            allow_negative=facts.allow_negative,
            allow_when_blocked=facts.allow_when_blocked,
            tariff_active=bool(facts.tariff_active),
            tariff_access_type=facts.access_type if facts.tariff_id is not None else None,
            access_window=rules.windows.get(facts.tariff_id, ()) if facts.tariff_id else (),
            guest_pool_id=facts.guest_pool_id,
        )
    )


def speed_change(
    facts: SessionFacts, now: datetime, tz: ZoneInfo, rules: TariffRules
) -> tuple[str, list[tuple[str, str]]] | None:
    """(desired state, attributes) of the speed in force; None if it cannot be sent (no
    tariff or NAS vendor, a speed we cannot read, a vendor we cannot shape)."""
    if facts.tariff_id is None or facts.vendor is None:
        return None
    speeds = rules.speeds.get(facts.tariff_id, TariffSpeeds())
    if speeds is None:
        return None
    try:
        speed = limited_speed(_speed_at(speeds, now, tz), facts.limit_speeds)
    except ValueError:
        return None  # a limit's speed we cannot read: leave the session as it is
    change = render(facts.vendor, speed)
    return (speed_state(speed), change) if change else None


def login_speed_states(facts: SessionFacts, tz: ZoneInfo, rules: TariffRules) -> set[str]:
    """The states of the speeds the login of a session may have rendered, when the
    session does not say (``given_state`` None).

    The login rendered the tariff's speed in force when it was authorised (rlm_ebs:
    ``speed_for`` at the request's moment), which was at most ``LOGIN_SLACK`` before the
    session's start: one state, or two when a speed edge fell in between. Empty for a
    tariff without time-of-day speeds, whose speed does not depend on the moment.
    """
    speeds = rules.speeds.get(facts.tariff_id) if facts.tariff_id is not None else None
    if speeds is None or not speeds.overrides or facts.started_at is None:
        return set()
    return {speed_state(_speed_at(speeds, moment, tz))
            for moment in (facts.started_at - LOGIN_SLACK, facts.started_at)}


def _full_access(facts: SessionFacts, reason: str, now: datetime, tz: ZoneInfo,
                 rules: TariffRules) -> Wanted | None:
    """The request for a session allowed in full (module docstring, last four cases)."""
    change = speed_change(facts, now, tz, rules)
    if facts.in_guest_pool or facts.given_state == GUEST:
        desired = change[0] if change else speed_state(None)
        return Wanted(desired, Request.DISCONNECT, reason)
    if change is None:
        return None
    due, attributes = change[0], tuple(change[1])
    if facts.last_desired is not None:
        return Wanted(due, Request.COA, reason, attributes)
    limited = bool(facts.limit_speeds)
    if facts.given_state is not None:
        if facts.given_state == due:
            return None  # the session has what is due
        return Wanted(due, Request.COA, TRAFFIC_LIMIT if limited else SPEED_CHANGED,
                      attributes)
    given = login_speed_states(facts, tz, rules)
    if not given and limited:
        # The login rendered the tariff's default speed (no time of day), limited by what
        # was in force then, which is not known: sent unless the default is what is due.
        speeds = rules.speeds.get(facts.tariff_id, TariffSpeeds())
        given = {speed_state(speeds.default)} if speeds is not None else set()
    if not given or given == {due}:
        return None  # the login's speed is still the one in force
    return Wanted(due, Request.COA, TRAFFIC_LIMIT if limited else TIME_OF_DAY_SPEED,
                  attributes)


def plan(facts: SessionFacts, now: datetime, tz: ZoneInfo, rules: TariffRules) -> Wanted | None:
    """At most one request for this session (module docstring); None = nothing to do."""
    if not facts.nas_known:
        return None  # the NAS was deleted: nobody to ask; the sweep closes the session
    if facts.last_kind == Request.DISCONNECT and facts.last_result == "ACK":
        return None  # gone on the NAS; its Stop is on the way
    decision = verdict(facts, now, tz, rules)
    reason = str(decision.reason)
    if not decision.accepted:
        wanted = Wanted(DISCONNECTED, Request.DISCONNECT, reason)
    elif decision.guest:
        if facts.in_guest_pool or facts.given_state == GUEST:
            return None
        wanted = Wanted(GUEST, Request.DISCONNECT, reason)
    else:
        wanted = _full_access(facts, reason, now, tz, rules)
        if wanted is None:
            return None
    answered = facts.last_result in ("ACK", "NAK")
    if facts.last_desired == wanted.desired_state and answered:
        return None
    return wanted
