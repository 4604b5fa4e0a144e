"""Staff logins limited to source networks: a staff member's own networks, else those of
their roles, else anywhere (``ebs_staff_login_allowed`` in SQL decides, one query).

The rule holds on every request, not only at login (``webapp.session_guard``), so a
session or token carried to another network stops working there. The client's address is
the connection's, unless the connection comes from a configured trusted proxy
(``WEB_TRUSTED_PROXIES``): only then is ``X-Forwarded-For`` believed, read from the right
and skipping the trusted proxies themselves, since anything to the left of the last
untrusted hop may have been written by the client."""

from __future__ import annotations

import ipaddress

from flask import current_app, request
from sqlalchemy import text

_ALLOWED = text("SELECT ebs_staff_login_allowed(:user_id, CAST(:address AS inet))")
_UNKNOWN = str(ipaddress.IPv4Address(0))  # inside no network a list names


def trusted_proxies(value) -> tuple:
    """The setting as networks: a list, or a comma-separated string from ``EBS_*``."""
    if isinstance(value, str):
        value = [part for part in value.split(",") if part.strip()]
    return tuple(ipaddress.ip_network(str(item).strip(), strict=False) for item in value or ())


def _parse(address: str):
    try:
        return ipaddress.ip_address(address.strip())
    except ValueError:
        return None


def _trusted(address, proxies) -> bool:
    return address is not None and any(address in net for net in proxies)


def client_address() -> str:
    """The address the request came from, as text."""
    proxies = current_app.config.get("EBS_TRUSTED_PROXIES", ())
    peer = _parse(request.remote_addr or "")
    if not _trusted(peer, proxies):
        return str(peer) if peer is not None else _UNKNOWN
    hops = [hop for hop in request.headers.get("X-Forwarded-For", "").split(",") if hop.strip()]
    for hop in reversed(hops):
        address = _parse(hop)
        if address is None:
            return _UNKNOWN
        if not _trusted(address, proxies):
            return str(address)
    return str(peer)


def login_allowed(session, user_id: int, address: str) -> bool:
    return session.execute(_ALLOWED, {"user_id": user_id, "address": address}).scalar() \
        is not False
