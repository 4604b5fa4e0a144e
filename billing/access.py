"""The RADIUS access decision: facts in, one reason out. Pure: no I/O, ``now`` explicit.

The adapter (rlm_ebs) gathers :class:`AccessFacts` (from rlm_sql's control attributes or
a cache), calls :func:`decide`, and turns the :class:`Decision` into a reply and an
auth-log row. Everything that can deny access is here, so the rules are written once.

Precedence: when several checks fail, the first in this list wins::

    1. UNKNOWN_LOGIN             no subaccount matched the request
    2. ACCOUNT_SUSPENDED         account status 'suspended'
       ACCOUNT_DISABLED          status 'inactive_charged' / 'inactive_uncharged'
    3. TARIFF_INACTIVE           no current tariff, or the tariff is not active
    4. WRONG_ACCESS_TYPE         request kind (PPP / HotSpot / DHCP-IPoE) not the tariff's
       CHAP_NOT_ENABLED          a CHAP request, and CHAP cannot be checked for this
                                 subscriber: the tariff does not enable it, or no sealed
                                 CHAP password is stored (set while no key existed)
    5. WRONG_NAS                 subaccount bound to another NAS
    6. MAC_MISMATCH              bound to a MAC, Calling-Station-Id differs or is missing
    7. IP_MISMATCH               bound to an IP, the request's Framed-IP-Address differs
    8. OUTSIDE_ACCESS_WINDOW     now is outside the tariff's access time period
    9. BLOCKED_BY_LIMIT          a traffic limit blocks the account
   10. BLOCKED_BY_BALANCE        package cost not covered at period start
   11. BALANCE_NEGATIVE          balance + credit < 0
   12. BALANCE_ZERO              balance + credit == 0
   13. SIMULTANEOUS_USE          live sessions >= simultaneous_use
   14. POOL_EXHAUSTED            the pool to lease from has no free address

Why this order: who you are (1-3) before how and where you connect (4-7), so a stranger
never learns about bindings; then time (8); then money (9-12), which comes after every
non-money check so that the guest pool is only ever offered to a subscriber whose one
problem is money; capacity (13-14) last, because it depends on live state and must be
checked for the pool the subscriber will actually get (the guest pool for a debtor).
DB_UNAVAILABLE, WRONG_PASSWORD, BAD_REQUEST and INTERNAL_ERROR are never produced from
facts: the adapter answers with ``Decision.reject(...)`` when it cannot gather or read
facts or fails itself, and post-auth REJECT (pap/chap/mschap said no) is logged as
WRONG_PASSWORD.

Overrides per subaccount (ExpertBilling's allow-with-zero / with-minus / when-blocked),
with ``total = balance + credit``::

    total <  0          denies (BALANCE_NEGATIVE) unless allow_negative
    total == 0          denies (BALANCE_ZERO) unless allow_at_zero or allow_negative
    blocked_by_balance  denies (BLOCKED_BY_BALANCE) unless allow_when_blocked
    blocked_by_limit    denies (BLOCKED_BY_LIMIT) unless allow_when_blocked

``allow_negative`` implies zero: a subscriber allowed to owe money is allowed to owe
nothing. ``allow_at_zero`` alone does not admit a negative total.

Guest pool: when the first failing check is a *money* one (BLOCKED_BY_BALANCE,
BALANCE_NEGATIVE, BALANCE_ZERO) and the tariff has a guest pool, the subscriber is
accepted into the guest pool with ``guest=True`` and that money reason kept as the reason
(the auth log says why). A traffic-limit block is not money owed and is rejected.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo

from billing.time_windows import TimeNode, in_time_period, next_boundary

__all__ = [
    "AccessFacts",
    "AccountStatus",
    "Decision",
    "Reason",
    "RequestAccess",
    "count_live_sessions",
    "decide",
    "decide_live",
    "normalize_mac",
    "request_access",
    "session_hold",
    "tariff_access",
]


class Reason(StrEnum):
    """One code per outcome; the values are written to the auth log."""

    OK = "ok"
    UNKNOWN_LOGIN = "unknown_login"
    WRONG_PASSWORD = "wrong_password"  # noqa: S105 - a reason code, not a password
    ACCOUNT_DISABLED = "account_disabled"
    ACCOUNT_SUSPENDED = "account_suspended"
    TARIFF_INACTIVE = "tariff_inactive"
    WRONG_ACCESS_TYPE = "wrong_access_type"
    CHAP_NOT_ENABLED = "chap_not_enabled"
    WRONG_NAS = "wrong_nas"
    MAC_MISMATCH = "mac_mismatch"
    IP_MISMATCH = "ip_mismatch"
    OUTSIDE_ACCESS_WINDOW = "outside_access_window"
    BLOCKED_BY_LIMIT = "blocked_by_limit"
    BLOCKED_BY_BALANCE = "blocked_by_balance"
    BALANCE_NEGATIVE = "balance_negative"
    BALANCE_ZERO = "balance_zero"
    SIMULTANEOUS_USE = "simultaneous_use"
    POOL_EXHAUSTED = "pool_exhausted"
    DB_UNAVAILABLE = "db_unavailable"
    # Accepted while the database was away, on the facts of the subscriber's last login
    # (FreeRADIUS's cache: the degraded mode, rlm_ebs/core.py).
    DEGRADED = "degraded"
    # Adapter-level: a request we cannot read (BAD_REQUEST) or a fault of our own
    # (INTERNAL_ERROR, logged with its traceback); never produced from facts.
    BAD_REQUEST = "bad_request"
    INTERNAL_ERROR = "internal_error"


MONEY_REASONS = frozenset({Reason.BLOCKED_BY_BALANCE, Reason.BALANCE_NEGATIVE, Reason.BALANCE_ZERO})


class AccountStatus(StrEnum):
    """``accounts.status`` (DESIGN.md's account state model)."""

    ACTIVE = "active"
    INACTIVE_CHARGED = "inactive_charged"
    INACTIVE_UNCHARGED = "inactive_uncharged"
    SUSPENDED = "suspended"


class RequestAccess(StrEnum):
    """The kind of access a request asks for, as far as RADIUS attributes tell."""

    PPP = "ppp"
    HOTSPOT = "hotspot"
    DHCP_IPOE = "dhcp_ipoe"


_TARIFF_ACCESS = {
    "pppoe": RequestAccess.PPP,
    "pptp": RequestAccess.PPP,
    "l2tp": RequestAccess.PPP,
    "hotspot": RequestAccess.HOTSPOT,
    "dhcp": RequestAccess.DHCP_IPOE,
    "ipoe": RequestAccess.DHCP_IPOE,
}


def tariff_access(access_type: str) -> RequestAccess:
    """The request kind a tariff's ``access_type`` admits.

    PPPoE, PPTP and L2TP share one kind: NASes do not tell them apart reliably
    (NAS-Port-Type Virtual covers both tunnels, Tunnel-Type is rarely sent in an
    Access-Request), so a finer check would reject good subscribers.
    """
    try:
        return _TARIFF_ACCESS[access_type]
    except KeyError:
        raise ValueError(f"unknown tariff access type {access_type!r}") from None


def request_access(
    *,
    service_type: str | None = None,
    framed_protocol: str | None = None,
    nas_port_type: str | None = None,
) -> RequestAccess:
    """Classify a request from its attributes (values by name, as rlm_python3 gives them).

    * ``Framed-Protocol = PPP`` → PPP (every PPP NAS sends it: PPPoE, PPTP, L2TP);
    * ``Service-Type = Login-User`` (HotSpot logins: MikroTik, Cisco web-auth) or
      ``NAS-Port-Type = Wireless-802.11`` without PPP → HotSpot;
    * anything else (DHCP on MikroTik, accel-ppp IPoE, Cisco ISG IP sessions with
      Outbound-User, or no Service-Type at all) → DHCP/IPoE.
    """
    if framed_protocol == "PPP":
        return RequestAccess.PPP
    if service_type == "Login-User" or nas_port_type == "Wireless-802.11":
        return RequestAccess.HOTSPOT
    return RequestAccess.DHCP_IPOE


_MAC_HEX = re.compile(r"[0-9a-f]{12}")


def normalize_mac(value: str | None) -> str | None:
    """``AA-BB-CC-DD-EE-FF``, ``aabb.ccdd.eeff``, ``aa:bb:…`` → ``aa:bb:cc:dd:ee:ff``.

    None when the value is not a MAC (a PPTP Calling-Station-Id is an IP address).
    """
    if value is None:
        return None
    digits = re.sub(r"[\s:.\-]", "", value).lower()
    if not _MAC_HEX.fullmatch(digits):
        return None
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


def _same_ip(a: str, b: str) -> bool:
    try:
        return ipaddress.ip_address(a.strip()) == ipaddress.ip_address(b.strip())
    except ValueError:
        return False


# A session is presumed dead after this many missed interim updates.
MISSED_INTERIMS = 3
# The nas table's lower bound on Acct-Interim-Interval, also the floor applied here.
MIN_INTERIM_SECONDS = 60


def session_hold(interim_interval: int) -> timedelta:
    """How long a session (and its leased address) is held after the last word from it;
    the twin of SQL ``ebs_session_hold`` (sql/functions/), which the sweep, the RADIUS
    facts and the lease renewals ask."""
    return timedelta(seconds=MISSED_INTERIMS * max(interim_interval, MIN_INTERIM_SECONDS))


def count_live_sessions(
    last_updates: Iterable[datetime],
    now: datetime,
    interim_interval: int,
) -> int:
    """Open sessions heard from within their hold (:func:`session_hold`) of ``now``.

    A session whose NAS went quiet for longer is stale (the sweep will close it) and must
    not lock its owner out; it is the same rule ``ebs.sweep_sessions`` uses.
    """
    horizon = now - session_hold(interim_interval)
    return sum(1 for seen in last_updates if seen >= horizon)


@dataclass(frozen=True, slots=True)
class AccessFacts:
    """Everything the decision needs, gathered by the adapter for one Access-Request."""

    now: datetime
    tz: ZoneInfo
    subaccount_found: bool = True
    # The account.
    account_status: str = AccountStatus.ACTIVE
    blocked_by_balance: bool = False
    blocked_by_limit: bool = False
    balance: Decimal = Decimal(0)
    credit: Decimal = Decimal(0)
    # The subaccount's overrides and bindings.
    allow_at_zero: bool = False
    allow_negative: bool = False
    allow_when_blocked: bool = False
    bound_nas_id: int | None = None
    bind_to_mac: bool = False
    mac_address: str | None = None
    bind_to_ip: bool = False
    ip_address: str | None = None
    simultaneous_use: int = 1
    # The tariff (None access type = the account has no current tariff).
    tariff_active: bool = True
    tariff_access_type: str | None = "pppoe"
    access_window: tuple[TimeNode, ...] = field(default_factory=tuple)
    guest_pool_id: int | None = None
    # The request and live state.
    request_access: RequestAccess = RequestAccess.PPP
    # A CHAP request, and whether CHAP can be checked (tariff enables it, password sealed).
    chap_requested: bool = False
    chap_available: bool = False
    request_nas_id: int | None = None
    calling_station_id: str | None = None
    framed_ip: str | None = None
    live_sessions: int = 0
    pool_has_free_address: bool = True
    guest_pool_has_free_address: bool = True


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome. ``guest`` means accepted into the guest pool for ``reason``.

    ``session_timeout`` (seconds) bounds the session by the access window's end; None when
    the window never closes (or there is none). Other bounds are the caller's to combine.
    """

    accepted: bool
    reason: Reason
    guest: bool = False
    session_timeout: int | None = None

    @classmethod
    def reject(cls, reason: Reason) -> Decision:
        """A reject decided outside :func:`decide` (DB_UNAVAILABLE, WRONG_PASSWORD)."""
        return cls(accepted=False, reason=Reason(reason))


def _identity(facts: AccessFacts) -> Reason | None:
    if not facts.subaccount_found:
        return Reason.UNKNOWN_LOGIN
    status = AccountStatus(facts.account_status)
    if status is AccountStatus.SUSPENDED:
        return Reason.ACCOUNT_SUSPENDED
    if status is not AccountStatus.ACTIVE:
        return Reason.ACCOUNT_DISABLED
    if facts.tariff_access_type is None or not facts.tariff_active:
        return Reason.TARIFF_INACTIVE
    return None


def _connection(facts: AccessFacts) -> Reason | None:
    assert facts.tariff_access_type is not None
    if tariff_access(facts.tariff_access_type) is not RequestAccess(facts.request_access):
        return Reason.WRONG_ACCESS_TYPE
    if facts.chap_requested and not facts.chap_available:
        # Said apart from a wrong password: the fix is the tariff or the key, not the user.
        return Reason.CHAP_NOT_ENABLED
    if facts.bound_nas_id is not None and facts.bound_nas_id != facts.request_nas_id:
        return Reason.WRONG_NAS
    if facts.bind_to_mac and facts.mac_address is not None:
        bound = normalize_mac(facts.mac_address)
        if bound is None or normalize_mac(facts.calling_station_id) != bound:
            return Reason.MAC_MISMATCH
    if (
        facts.bind_to_ip
        and facts.ip_address is not None
        and facts.framed_ip is not None
        and not _same_ip(facts.ip_address, facts.framed_ip)
    ):
        return Reason.IP_MISMATCH
    return None


def _money(facts: AccessFacts) -> Reason | None:
    if facts.blocked_by_limit and not facts.allow_when_blocked:
        return Reason.BLOCKED_BY_LIMIT
    if facts.blocked_by_balance and not facts.allow_when_blocked:
        return Reason.BLOCKED_BY_BALANCE
    total = Decimal(facts.balance) + Decimal(facts.credit)
    if total < 0 and not facts.allow_negative:
        return Reason.BALANCE_NEGATIVE
    if total == 0 and not (facts.allow_at_zero or facts.allow_negative):
        return Reason.BALANCE_ZERO
    return None


def _window(facts: AccessFacts) -> tuple[Reason | None, int | None]:
    nodes = facts.access_window
    if not nodes:
        return None, None
    if not in_time_period(nodes, facts.now, facts.tz):
        return Reason.OUTSIDE_ACCESS_WINDOW, None
    closes = next_boundary(nodes, facts.now, facts.tz)
    if closes is None:
        return None, None
    return None, max(1, math.ceil((closes - facts.now).total_seconds()))


def decide(facts: AccessFacts) -> Decision:
    """Accept or reject per the module docstring's precedence and overrides."""
    denied = _identity(facts) or _connection(facts)
    if denied is not None:
        return Decision.reject(denied)
    denied, session_timeout = _window(facts)
    if denied is not None:
        return Decision.reject(denied)
    guest = False
    money = _money(facts)
    if money is not None:
        if money not in MONEY_REASONS or facts.guest_pool_id is None:
            return Decision.reject(money)
        guest = True
    if facts.live_sessions >= facts.simultaneous_use:
        return Decision.reject(Reason.SIMULTANEOUS_USE)
    free = facts.guest_pool_has_free_address if guest else facts.pool_has_free_address
    if not free:
        return Decision.reject(Reason.POOL_EXHAUSTED)
    return Decision(
        accepted=True,
        reason=money if guest else Reason.OK,  # type: ignore[arg-type]
        guest=guest,
        session_timeout=session_timeout,
    )


def decide_live(facts: AccessFacts) -> Decision:
    """The decision for a session that is already up: may it stay, as what?

    The same rules as :func:`decide`, minus those a live session has already passed or
    that do not apply to it: the connection checks (access type, NAS, MAC and IP
    bindings) were settled at login and describe a request, not an account; capacity
    (simultaneous use, a free address) does not apply to a session that holds its
    address. What remains is what changes while a session lasts: the account's state,
    the access window and money. ``guest=True`` means the subscriber may stay only in
    the guest pool. ``ebs.enforce_access`` acts on the outcome.
    """
    denied = _identity(facts)
    if denied is not None:
        return Decision.reject(denied)
    denied, session_timeout = _window(facts)
    if denied is not None:
        return Decision.reject(denied)
    money = _money(facts)
    if money is None:
        return Decision(accepted=True, reason=Reason.OK, session_timeout=session_timeout)
    if money not in MONEY_REASONS or facts.guest_pool_id is None:
        return Decision.reject(money)
    return Decision(accepted=True, reason=money, guest=True, session_timeout=session_timeout)
