"""IP pools: a pool is a range of addresses, and no address belongs to two pools.

Two pools sharing an address would lease it twice (each pool's leases are kept apart), so
the rule is the data's: the database refuses an overlapping range by a trigger
(sql/functions/ebs_ip_pools_refuse_overlap.sql), and :func:`check_pool_range` says which pool
is in the way before a form saves, in words an operator can act on.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import psycopg

from billing.errors import Refused

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class PoolError(Refused):
    """A pool range that is refused; ``code`` is what the caller acts on."""

    def __init__(self, code: str, message: str, overlaps: OverlappingPool | None = None):
        super().__init__(code, message)
        self.overlaps = overlaps


@dataclass(frozen=True, slots=True)
class OverlappingPool:
    id: int
    name: str
    range_start: str
    range_end: str


# Ranges of one family only: inet orders every IPv4 address before every IPv6 one, and a
# pool's two ends share a family (a CHECK), so the comparison is the overlap test.
_OVERLAPPING = """
    SELECT id, name, host(range_start), host(range_end) FROM ip_pools
     WHERE range_start <= %(end)s::inet AND range_end >= %(start)s::inet
       AND (%(pool)s::integer IS NULL OR id <> %(pool)s::integer)
     ORDER BY range_start LIMIT 1
"""


def check_range(range_start: str, range_end: str) -> tuple[IpAddress, IpAddress]:
    """The range's two ends, refused unless both are addresses of one family and the end
    is not below the start (the table's CHECK, in words)."""
    try:
        start, end = ipaddress.ip_address(range_start), ipaddress.ip_address(range_end)
    except ValueError as exc:
        raise PoolError("not_an_address", str(exc)) from None
    if start.version != end.version:
        raise PoolError("mixed_families", "start and end must both be IPv4 or both IPv6")
    if end < start:
        raise PoolError("ends_before_start", "the range ends before it starts")
    return start, end


def check_pool_range(
    conn: psycopg.Connection, range_start: str, range_end: str, *, pool_id: int | None = None
) -> None:
    """Refuse a range :func:`check_range` refuses, or one that shares an address with
    another pool (``pool_id``: the pool being edited, which may keep its own)."""
    start, end = check_range(range_start, range_end)
    row = conn.execute(
        _OVERLAPPING, {"start": str(start), "end": str(end), "pool": pool_id}).fetchone()
    if row is not None:
        other = OverlappingPool(*row)
        raise PoolError(
            "pool_overlap",
            f"the range overlaps pool {other.name} ({other.range_start} – {other.range_end})",
            other,
        )
