"""What rlm_sql fetched (``ebs_radius_check()``'s control attributes) as typed facts.

The SQL function (sql/functions/ebs_radius_check.sql) writes, and this module reads:

* ``EBS-Facts``: ``key=value`` pairs joined by ``;`` (free text percent-encoded);
* ``EBS-Access-Node``: one ``epoch,seconds,REPEAT`` per node of the access window;
* ``EBS-Speed``: ``speed`` (the default) or ``speed;epoch,seconds,REPEAT;…`` (an override);
* ``EBS-Limit-Speed``: a traffic limit's speed in force on the account, ``absolute:speed``,
  ``add:speed`` or ``percent:n`` (billing/traffic_limits.py reads that form);
* ``EBS-Chap-Sealed``: the sealed CHAP cleartext, hex;
* ``EBS-Reply-Attr``: a custom reply attribute (``radius_reply_attributes``, rlm_ebs/reply.py).

A value that reached rlm_python3's buffer limit may have been cut: refused, not guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from urllib.parse import unquote
from zoneinfo import ZoneInfo

from billing.access import AccessFacts
from billing.speeds import Speed, SpeedOverride, TariffSpeeds
from billing.time_windows import Repeat, TimeNode
from billing.traffic_limits import LimitSpeed, parse_limit_speed
from rlm_ebs.request import VALUE_LIMIT, AccessRequest, BadRequest, first

FACTS_VERSION = "1"


@dataclass(frozen=True, slots=True)
class StoredFacts:
    """One subscriber's facts as the database holds them (no request, no clock)."""

    subaccount_id: int
    found_by: str  # login / opt82 / mac / ip: what matched the request
    account_status: str
    blocked_by_balance: bool
    blocked_by_limit: bool
    balance: Decimal
    credit: Decimal
    allow_at_zero: bool
    allow_negative: bool
    allow_when_blocked: bool
    bound_nas_id: int | None
    bind_to_mac: bool
    mac_address: str | None
    bind_to_ip: bool
    ip_address: str | None
    simultaneous_use: int
    live_sessions: int
    tariff_active: bool
    tariff_access_type: str | None
    chap_enabled: bool
    pool: str | None
    guest_pool_id: int | None
    guest_pool: str | None
    nas_id: int | None
    nas_vendor: str
    acct_interim_interval: int | None
    access_window: tuple[TimeNode, ...]
    speeds: TariffSpeeds
    chap_sealed: bytes | None
    # The traffic limits' speeds in force (flow/limits.py): the login gives the tariff's
    # speed changed by them, as the enforcement does (billing.traffic_limits).
    limit_speeds: tuple[LimitSpeed, ...] = ()
    # Custom reply attributes, raw ``EBS-Reply-Attr`` values (rlm_ebs/reply.py reads them).
    reply_rows: tuple[str, ...] = ()
    # A lease row names the subaccount (``stk``): its login leases through rlm_sql, which
    # gives its address back, not from the node's reserved addresses.
    has_lease: bool = False


def _checked(name: str, value: str) -> str:
    if len(value.encode()) >= VALUE_LIMIT:
        raise BadRequest(f"{name} is {len(value)} characters: it may have been cut short")
    return value


def parse_pairs(text: str) -> dict[str, str]:
    found = {}
    for item in text.split(";"):
        key, sep, value = item.partition("=")
        if not sep:
            raise BadRequest(f"EBS-Facts: {item!r} is not key=value")
        found[key] = unquote(value) if "%" in value else value
    return found


def parse_node(text: str) -> TimeNode:
    try:
        epoch, seconds, repeat = text.split(",")
        return TimeNode(
            start=datetime.fromtimestamp(int(epoch), UTC),
            length=timedelta(seconds=int(seconds)),
            repeat=Repeat(repeat),
        )
    except ValueError as error:
        raise BadRequest(f"time node {text!r}: {error}") from None


def parse_speeds(values: list[str]) -> TariffSpeeds:
    default: Speed | None = None
    overrides = []
    for value in values:
        speed_text, *nodes = value.split(";")
        try:
            speed = Speed.parse(speed_text)
        except ValueError as error:
            raise BadRequest(f"EBS-Speed {speed_text!r}: {error}") from None
        if nodes:
            overrides.append(SpeedOverride(speed, tuple(parse_node(n) for n in nodes)))
        else:
            default = speed
    return TariffSpeeds(default=default, overrides=tuple(overrides))


@lru_cache(maxsize=1024)
def _speeds(values: tuple[str, ...]) -> TariffSpeeds:
    """Parsed once per distinct set of rows: a few tariffs serve every request, and the
    hook runs under the server's python lock, so its time is everybody's."""
    return parse_speeds(list(values))


@lru_cache(maxsize=1024)
def _limit_speeds(values: tuple[str, ...]) -> tuple[LimitSpeed, ...]:
    """Parsed once per distinct set of rows, as :func:`_speeds`."""
    try:
        return tuple(parse_limit_speed(value) for value in values)
    except ValueError as error:
        raise BadRequest(f"EBS-Limit-Speed: {error}") from None


def _flag(values: Mapping[str, str], key: str) -> bool:
    return values.get(key) == "1"


def _int(values: Mapping[str, str], key: str) -> int | None:
    raw = values.get(key, "")
    if raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise BadRequest(f"EBS-Facts {key}={raw!r} is not a number") from None


def _money(values: Mapping[str, str], key: str) -> Decimal:
    try:
        return Decimal(values.get(key, ""))
    except InvalidOperation:
        raise BadRequest(f"EBS-Facts {key}={values.get(key)!r} is not an amount") from None


def stored_facts(control: Mapping[str, list[str]]) -> StoredFacts | None:
    """The facts in a control list; None when rlm_sql found no subaccount."""
    raw = first(control, "EBS-Facts")
    if raw is None:
        return None
    values = parse_pairs(_checked("EBS-Facts", raw))
    if values.get("v") != FACTS_VERSION:
        raise BadRequest(f"EBS-Facts version {values.get('v')!r}, expected {FACTS_VERSION}")
    sealed = first(control, "EBS-Chap-Sealed")
    try:
        chap_sealed = bytes.fromhex(_checked("EBS-Chap-Sealed", sealed)) if sealed else None
    except ValueError:
        raise BadRequest("EBS-Chap-Sealed is not hex") from None
    subaccount_id = _int(values, "sid")
    if subaccount_id is None:
        raise BadRequest("EBS-Facts has no subaccount id")
    return StoredFacts(
        subaccount_id=subaccount_id,
        found_by=values.get("by", "login"),
        account_status=values.get("st", ""),
        blocked_by_balance=_flag(values, "bb"),
        blocked_by_limit=_flag(values, "bl"),
        balance=_money(values, "bal"),
        credit=_money(values, "cr"),
        allow_at_zero=_flag(values, "az"),
        allow_negative=_flag(values, "an"),
        allow_when_blocked=_flag(values, "aw"),
        bound_nas_id=_int(values, "bnas"),
        bind_to_mac=_flag(values, "bm"),
        mac_address=values.get("mac") or None,
        bind_to_ip=_flag(values, "bi"),
        ip_address=values.get("ip") or None,
        simultaneous_use=_int(values, "su") or 1,
        has_lease=_flag(values, "stk"),
        live_sessions=_int(values, "live") or 0,
        tariff_active=_flag(values, "ta"),
        tariff_access_type=values.get("at") or None,
        chap_enabled=_flag(values, "chap"),
        pool=values.get("pool") or None,
        guest_pool_id=_int(values, "gp"),
        guest_pool=values.get("gpool") or None,
        nas_id=_int(values, "nas"),
        nas_vendor=values.get("vendor") or "other",
        acct_interim_interval=_int(values, "aii"),
        access_window=tuple(
            parse_node(_checked("EBS-Access-Node", n)) for n in control.get("EBS-Access-Node", [])
        ),
        speeds=_speeds(tuple(_checked("EBS-Speed", s) for s in control.get("EBS-Speed", []))),
        chap_sealed=chap_sealed,
        limit_speeds=_limit_speeds(
            tuple(_checked("EBS-Limit-Speed", v) for v in control.get("EBS-Limit-Speed", []))),
        reply_rows=tuple(control.get("EBS-Reply-Attr", [])),
    )


def access_facts(
    stored: StoredFacts | None, request: AccessRequest, now: datetime, tz: ZoneInfo
) -> AccessFacts:
    """The decision's input: the stored facts joined with the request and the clock."""
    if stored is None:
        return AccessFacts(now=now, tz=tz, subaccount_found=False)
    return AccessFacts(
        now=now,
        tz=tz,
        account_status=stored.account_status,
        blocked_by_balance=stored.blocked_by_balance,
        blocked_by_limit=stored.blocked_by_limit,
        balance=stored.balance,
        credit=stored.credit,
        allow_at_zero=stored.allow_at_zero,
        allow_negative=stored.allow_negative,
        allow_when_blocked=stored.allow_when_blocked,
        bound_nas_id=stored.bound_nas_id,
        bind_to_mac=stored.bind_to_mac,
        mac_address=stored.mac_address,
        bind_to_ip=stored.bind_to_ip,
        ip_address=stored.ip_address,
        simultaneous_use=stored.simultaneous_use,
        tariff_active=stored.tariff_active,
        tariff_access_type=stored.tariff_access_type,
        access_window=stored.access_window,
        guest_pool_id=stored.guest_pool_id,
        request_access=request.access,
        chap_requested=request.chap,
        chap_available=stored.chap_enabled and stored.chap_sealed is not None,
        request_nas_id=stored.nas_id,
        calling_station_id=request.calling_station_id,
        framed_ip=request.framed_ip,
        live_sessions=stored.live_sessions,
    )
