"""rlm_python3's attribute lists as typed values. Plain Python: no ``radiusd`` here.

With ``pass_all_vps_dict = yes`` a hook gets a dict of lists ("request", "reply",
"config", …), each a tuple of ``(name, value)`` string pairs: integers as decimal
strings, enumerations by name, ``User-Password`` decrypted, octets as ``0x…``. Names may
repeat (several ``EBS-Speed`` rows), so a list becomes a dict of name → values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from billing.access import RequestAccess, request_access

# rlm_python3 copies each value through a 1024-byte buffer: a value this long may have
# been cut short, and a cut value must never be read as if whole.
VALUE_LIMIT = 1023

Pairs = Iterable[tuple[str, str] | tuple[str, str, str]]


class BadRequest(ValueError):
    """The request (or what rlm_sql put in control) cannot be read; the message says why."""


def attributes(pairs: Pairs | None) -> dict[str, list[str]]:
    """``(name, value)`` pairs (or ``(name, op, value)``) → name → values in order."""
    found: dict[str, list[str]] = {}
    for pair in pairs or ():
        if len(pair) not in (2, 3):
            raise BadRequest(f"not an attribute pair: {pair!r}")
        name, value = pair[0], pair[-1]
        found.setdefault(str(name), []).append(str(value))
    return found


def lists(p: object, only: tuple[str, ...] = ()) -> dict[str, dict[str, list[str]]]:
    """The hook argument: the dict form, the 6-tuple form or a bare request tuple.
    ``only`` names the lists wanted from the dict form (all when empty): the hook runs
    under the server's python lock, so lists nobody reads are not converted."""
    if isinstance(p, Mapping):
        return {str(k): attributes(v) for k, v in p.items() if not only or k in only}
    if isinstance(p, tuple) and len(p) == 6 and all(
        v is None or (isinstance(v, tuple) and all(isinstance(x, tuple) for x in v)) for v in p
    ):
        names = ("request", "reply", "config", "session-state", "proxy-request", "proxy-reply")
        return {name: attributes(v) for name, v in zip(names, p, strict=True)}
    return {"request": attributes(p)}  # type: ignore[arg-type]


def first(attrs: Mapping[str, list[str]], name: str) -> str | None:
    values = attrs.get(name)
    return values[0] if values else None


@dataclass(frozen=True, slots=True)
class AccessRequest:
    """The parts of an Access-Request the decision and the reply look at."""

    user_name: str
    nas_ip: str | None
    access: RequestAccess
    calling_station_id: str | None
    framed_ip: str | None
    chap: bool
    mschap: bool


def access_request(attrs: Mapping[str, list[str]]) -> AccessRequest:
    user_name = first(attrs, "User-Name")
    if not user_name:
        raise BadRequest("no User-Name")
    return AccessRequest(
        user_name=user_name,
        nas_ip=first(attrs, "NAS-IP-Address") or first(attrs, "NAS-IPv6-Address"),
        access=request_access(
            service_type=first(attrs, "Service-Type"),
            framed_protocol=first(attrs, "Framed-Protocol"),
            nas_port_type=first(attrs, "NAS-Port-Type"),
        ),
        calling_station_id=first(attrs, "Calling-Station-Id"),
        framed_ip=first(attrs, "Framed-IP-Address"),
        chap="CHAP-Password" in attrs,
        mschap="MS-CHAP2-Response" in attrs or "MS-CHAP-Response" in attrs,
    )
