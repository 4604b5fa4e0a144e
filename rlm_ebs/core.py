"""The authorize hook's logic, without FreeRADIUS: attribute lists in, (code, updates) out.

``hooks.py`` only adds ``radiusd`` (logging, the module's config) around :func:`authorize`.
No database: rlm_sql has already put the subscriber's facts into control (see
``rlm_ebs/facts.py``); we decide with :func:`billing.access.decide` and hand pap / chap /
mschap the known-good credential. The NT-Password came straight from rlm_sql; a
Cleartext-Password is added only when the tariff enables CHAP and the request uses it.
A subscriber matched by option 82, MAC or address (DHCP/IPoE only) is accepted without a
password.

Every answer sets ``EBS-Reason`` (a :class:`billing.access.Reason` value) and
``EBS-Decision`` (accept / guest / reject) in control, for post-auth's log row. An accept
also names the subaccount (``EBS-Subaccount``, for the Class), what the login gives
(``EBS-Given``: the speed's state or ``guest``, for the Class, so the enforcement knows
what the session has) and, unless the subscriber has a static address, the pool to lease
from (``EBS-Lease-Pool``): post-auth leases through rlm_sql
(freeradius_conf/mods-config/sql/lease.post-auth), not Python.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from billing.access import Decision, Reason, RequestAccess, decide
from billing.credentials import CredentialCipher, CredentialError
from billing.enforcement import given_state
from billing.speeds import Speed, render, speed_for
from billing.traffic_limits import limited_speed
from rlm_ebs.facts import StoredFacts, access_facts, stored_facts
from rlm_ebs.reply import custom_reply
from rlm_ebs.request import AccessRequest, BadRequest, access_request, first, lists
from rlm_ebs.reservations import Reservations

# rlm_python3's return codes (radiusd.RLM_MODULE_*), fixed by the C module.
REJECT, FAIL, OK, HANDLED, INVALID, USERLOCK, NOTFOUND, NOOP, UPDATED = range(9)

Pairs = tuple[tuple[str, str], ...]
Result = tuple[int, dict[str, Pairs]]


@dataclass
class OutageLog:
    """Log lines for rejects while the database is down: the first at once, then one
    count per ``every`` seconds, so an outage at thousands of requests a second says so
    clearly without flooding the log."""

    every: float = 10.0
    rejected: int = 0
    since: float | None = None

    def note(self, user: str | None, log: Callable[[str], None]) -> None:
        now = time.monotonic()
        self.rejected += 1
        if self.since is None:
            log(f"rlm_ebs: database unavailable: rejecting {user!r} and every login "
                f"until it returns (reason {Reason.DB_UNAVAILABLE})")
        elif now - self.since >= self.every:
            log(f"rlm_ebs: database unavailable: {self.rejected} logins rejected in the "
                f"last {now - self.since:.0f} s (reason {Reason.DB_UNAVAILABLE})")
        else:
            return
        self.since, self.rejected = now, 0

    def recovered(self, log: Callable[[str], None]) -> None:
        if self.since is not None:
            log(f"rlm_ebs: database available again ({self.rejected} more logins were "
                f"rejected since the last count)")
            self.since, self.rejected = None, 0


@dataclass
class Settings:
    """The module's ``config { }``, read once in ``instantiate``."""

    tz: ZoneInfo
    cipher: CredentialCipher | None = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    outage: OutageLog = field(default_factory=OutageLog)
    # The node's reserved addresses (RADIUS_AUTH_MODE "spool"); None: every lease
    # through rlm_sql (rlm_ebs/reservations.py).
    reservations: Reservations | None = None


def offset_clock(path: str) -> Callable[[], datetime]:
    """A clock running ``float(file contents)`` seconds ahead of the real one, read on
    every call: system tests move time for the server without sleeping. Never configured
    in production (the setting is empty by default)."""

    def now() -> datetime:
        with open(path, encoding="ascii") as fh:
            return datetime.now(UTC) + timedelta(seconds=float(fh.read().strip() or 0))

    return now


def _control(decision: Decision) -> Pairs:
    verdict = "guest" if decision.guest else "accept" if decision.accepted else "reject"
    return (("EBS-Reason", str(decision.reason)), ("EBS-Decision", verdict))


def rejected(reason: Reason) -> Result:
    return REJECT, {"config": _control(Decision.reject(reason))}


@lru_cache(maxsize=1024)
def _rate_limit(vendor: str, speed: Speed | None) -> tuple[tuple[str, str], ...]:
    """A speed's reply pairs, rendered once per vendor and speed (see _speeds in facts)."""
    return tuple(render(vendor, speed))


def reply_attributes(
    stored: StoredFacts, decision: Decision, speed: Speed | None
) -> list[tuple[str, str]]:
    """The accept's reply; ``speed`` is the speed the login gives (:func:`login_speed`)."""
    reply: list[tuple[str, str]] = []
    if decision.session_timeout is not None:
        reply.append(("Session-Timeout", str(decision.session_timeout)))
    if stored.acct_interim_interval is not None:
        reply.append(("Acct-Interim-Interval", str(stored.acct_interim_interval)))
    if decision.guest:
        return reply  # restricted: a guest-pool address (leased), no tariff speed
    if stored.ip_address:
        reply.append(("Framed-IP-Address", stored.ip_address))
    reply += _rate_limit(stored.nas_vendor, speed)
    return reply


def login_speed(stored: StoredFacts, now: datetime, tz: ZoneInfo) -> Speed | None:
    """The tariff's speed in force, changed by the account's traffic limits in force: the
    speed the enforcement holds due (billing.enforcement.speed_change), so a limited
    subscriber who logs in again is not given the full speed until the next run's CoA."""
    return limited_speed(speed_for(stored.speeds, now, tz), stored.limit_speeds)


def lease_control(stored: StoredFacts, decision: Decision) -> Pairs:
    """The subaccount (for the Class) and the pool post-auth leases from: the guest pool
    for a guest, else the subaccount's or tariff's pool unless the address is static."""
    pairs: list[tuple[str, str]] = [("EBS-Subaccount", str(stored.subaccount_id))]
    pool = stored.guest_pool if decision.guest else None if stored.ip_address else stored.pool
    if pool:
        pairs.append(("EBS-Lease-Pool", pool))
    return tuple(pairs)


def reserved_lease(lease: Pairs, stored: StoredFacts,
                   reservations: Reservations | None) -> Pairs:
    """``lease`` and an address the node holds, when it holds one (``EBS-Lease`` as the
    SQL lease answers it, ``EBS-Lease-Reserved`` its id: post-auth then runs no lease
    statement, the spool carries the offer, a reject gives it back to the pool named in
    ``EBS-Lease-Pool``); a subscriber with a lease row keeps the SQL lease, which gives the same
    address back. Asks for a refill (``EBS-Reserve``) when the pool's queue runs low."""
    pool = next((value for name, value in lease if name == "EBS-Lease-Pool"), None)
    if reservations is None or pool is None or stored.has_lease:
        return lease
    taken = reservations.take(pool)
    refill: Pairs = ()
    if reservations.wants_refill(pool):
        refill = (("EBS-Reserve", pool), ("EBS-Reserve-Node", reservations.node))
    if taken is None:
        return lease + refill
    lease_id, address = taken
    return (*lease, ("EBS-Lease", f"{lease_id} {address}"),
            ("EBS-Lease-Reserved", str(lease_id)), *refill)


def post_auth_reservations(config: dict[str, list[str]],
                           reservations: Reservations | None) -> int:
    """Post-auth's part of the reservations: a refill's answer (``EBS-Reserved``) into
    the queue, or, for a login rejected after it took an address, that address back.
    Returns the addresses added."""
    if reservations is None:
        return 0
    pool = first(config, "EBS-Reserve")
    answer = first(config, "EBS-Reserved")
    added = reservations.absorb(pool, answer or "") if pool is not None else 0
    taken = first(config, "EBS-Lease-Reserved")
    if taken and first(config, "EBS-Decision") == "reject":
        lease_id, _, address = (first(config, "EBS-Lease") or "").partition(" ")
        taken_from = first(config, "EBS-Lease-Pool")
        if lease_id == taken and address and taken_from:
            reservations.give_back(taken_from, int(lease_id), address)
            added += 1
    return added


def _credential(stored: StoredFacts, request: AccessRequest, settings: Settings) -> Pairs:
    if stored.found_by != "login":
        # DHCP/IPoE: the NAS vouches for the MAC / address it saw; there is no password.
        return (("Auth-Type", "Accept"),)
    if not (request.chap and stored.chap_enabled and stored.chap_sealed):
        return ()
    if settings.cipher is None:
        raise CredentialError("CHAP is enabled but no credentials key is configured")
    cleartext = settings.cipher.open(stored.chap_sealed, stored.subaccount_id)
    return (("Cleartext-Password", cleartext),)


def _degraded_lease(stored: StoredFacts) -> Pairs:
    """Degraded: the subaccount (for the Class) and no pool, so post-auth leases nothing
    (the database is away); the address is the one the last login held (the site's
    lease cache put it into the reply) or the static one, and the accounting that
    follows confirms or corrects the lease once the database is back."""
    return (("EBS-Subaccount", str(stored.subaccount_id)),)


def authorize(p: object, settings: Settings, log: Callable[[str], None] = print) -> Result:
    """Decide one Access-Request. Never raises: a fault is a logged ``internal_error``.

    While the database is away the site hands us, for a subscriber its cache has seen
    recently, the facts of the last login (``EBS-Degraded``): a login they allow
    (not as a guest) is accepted with reason ``degraded``; anything else, and anyone
    not in the cache, is rejected ``db_unavailable``."""
    try:
        vps = lists(p, only=("request", "config"))
        config = vps.get("config", {})
        degraded = first(config, "EBS-Degraded") is not None
        if degraded or first(config, "EBS-Reason") == Reason.DB_UNAVAILABLE:
            # The site calls us after rlm_sql failed: say so in the log.
            settings.outage.note(first(vps.get("request", {}), "User-Name"), log)
            if not degraded:
                return rejected(Reason.DB_UNAVAILABLE)
        else:
            settings.outage.recovered(log)  # rlm_sql answered
        request = access_request(vps.get("request", {}))
        stored = stored_facts(config)
        if (stored is not None and stored.found_by != "login"
                and request.access is not RequestAccess.DHCP_IPOE):
            stored = None  # a MAC or an address never stands in for a PPP/HotSpot password
        now = settings.clock()
        decision = decide(access_facts(stored, request, now, settings.tz))
        if degraded:
            if not decision.accepted or decision.guest or stored is None:
                return rejected(Reason.DB_UNAVAILABLE)
            decision = replace(decision, reason=Reason.DEGRADED)
        elif not decision.accepted or stored is None:
            return rejected(decision.reason)
        speed = login_speed(stored, now, settings.tz)
        # What this login gives, for the Class (billing.enforcement compares it later).
        given = (("EBS-Given", given_state(decision.guest, speed)),)
        lease = _degraded_lease(stored) if degraded else reserved_lease(
            lease_control(stored, decision), stored, settings.reservations)
        config = _control(decision) + _credential(stored, request, settings) + lease + given
        reply = tuple(reply_attributes(stored, decision, speed)) + tuple(
            custom_reply(stored.reply_rows, decision.guest, log))
        return UPDATED, {"config": config, "reply": reply}
    except BadRequest as error:
        log(f"rlm_ebs: rejecting a request we cannot read: {error}")
        return rejected(Reason.BAD_REQUEST)
    except Exception:  # a bug or a bad key must not kill the module: reject and say why
        log("rlm_ebs: authorize failed:\n" + traceback.format_exc())
        return rejected(Reason.INTERNAL_ERROR)
