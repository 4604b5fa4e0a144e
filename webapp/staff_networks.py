"""Staff logins limited to source networks: a staff member's own networks, else those of
their roles, else anywhere (``ebs_staff_login_allowed`` in SQL decides, one query)."""

from __future__ import annotations

import ipaddress

from flask import request
from sqlalchemy import text

_ALLOWED = text("SELECT ebs_staff_login_allowed(:user_id, CAST(:address AS inet))")


def client_address() -> str:
    """The address the login came from (a proxy in front sets it via ProxyFix)."""
    address = request.remote_addr or ""
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return str(ipaddress.IPv4Address(0))  # unknown: inside no network a list names


def login_allowed(session, user_id: int, address: str) -> bool:
    return session.execute(_ALLOWED, {"user_id": user_id, "address": address}).scalar() \
        is not False
