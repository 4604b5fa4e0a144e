"""What an account has left in its settlement period in force: prepaid traffic per
group, prepaid minutes, and the traffic limits in force with when each lifts. Read-only.

The allowance of a period is granted by its usage row (``traffic_usage``, ``time_usage``:
``billing.metered_usage`` fixes it at the period's first rated usage, prorated or with
a rollover as the tariff says). A period with no usage rated yet has no row: its
allowance is the tariff's whole one (``granted`` False), which the first usage may still
prorate or add a rollover to.

A limit counts a group over the settlement period in force or over a sliding window
(flow/limits.py). Without more traffic, a period limit lifts at the period's end; a
window limit when its window has moved past enough of the usage to fall below the
limit, which the rated bins tell (``traffic_group_bins``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import psycopg

from billing.assignments import in_force
from billing.traffic_pricing import MEGABYTE

__all__ = ["ActiveLimit", "Allowances", "PrepaidMinutes", "PrepaidTraffic",
           "active_limits", "allowances", "limit_lifts_at"]


@dataclass(frozen=True, slots=True)
class PrepaidTraffic:
    group_id: int
    group: str
    prepaid_bytes: Decimal
    left_bytes: Decimal
    granted: bool


@dataclass(frozen=True, slots=True)
class PrepaidMinutes:
    prepaid_minutes: Decimal
    left_minutes: Decimal
    granted: bool


@dataclass(frozen=True, slots=True)
class ActiveLimit:
    """A traffic limit in force: its group and size, what it does (``block`` or
    ``speed``, with the speed as ``absolute:1M/1M``, ``add:…`` or ``percent:50``), since
    when, and until when without more traffic (None: not known)."""

    limit_id: int
    group: str
    megabytes: Decimal
    action: str
    speed: str | None
    since: datetime
    until: datetime | None


@dataclass(frozen=True, slots=True)
class Allowances:
    traffic: tuple[PrepaidTraffic, ...]
    minutes: PrepaidMinutes | None
    limits: tuple[ActiveLimit, ...]


# The usage rows of the assignment in force whose period holds ``at``, and the tariff's
# allowances that have no row yet; by the usage tables' (account_id, …) unique keys.
_TRAFFIC = f"""
    WITH cur AS ({in_force("%(account)s", "%(at)s")})
    SELECT g.id, g.name, u.prepaid_bytes, greatest(u.prepaid_bytes - u.used_bytes, 0), true
      FROM cur
      JOIN traffic_usage u ON u.account_id = %(account)s AND u.assignment_id = cur.id
                          AND u.period_start <= %(at)s AND u.period_end > %(at)s
      JOIN traffic_groups g ON g.id = u.group_id
     WHERE u.prepaid_bytes > 0
    UNION ALL
    SELECT g.id, g.name, p.megabytes * %(megabyte)s, p.megabytes * %(megabyte)s, false
      FROM cur
      JOIN tariff_traffic_prepaid p ON p.tariff_id = cur.tariff_id AND p.megabytes > 0
      JOIN traffic_groups g ON g.id = p.group_id
     WHERE NOT EXISTS (SELECT 1 FROM traffic_usage u
                        WHERE u.account_id = %(account)s AND u.group_id = p.group_id
                          AND u.assignment_id = cur.id
                          AND u.period_start <= %(at)s AND u.period_end > %(at)s)
     ORDER BY 2, 1
"""

_MINUTES = f"""
    WITH cur AS ({in_force("%(account)s", "%(at)s")})
    SELECT coalesce(u.prepaid_seconds, s.prepaid_minutes * 60) / 60,
           CASE WHEN u.id IS NULL THEN s.prepaid_minutes * 60
                ELSE greatest(u.prepaid_seconds - u.used_seconds, 0) END / 60,
           u.id IS NOT NULL
      FROM cur
      LEFT JOIN tariff_time_service s ON s.tariff_id = cur.tariff_id
      LEFT JOIN time_usage u ON u.account_id = %(account)s AND u.assignment_id = cur.id
                            AND u.period_start <= %(at)s AND u.period_end > %(at)s
     WHERE coalesce(u.prepaid_seconds, s.prepaid_minutes * 60, 0) > 0
"""

# Limits in force (account_traffic_limits' primary key) with their groups. A period
# limit lifts at the end of the usage period holding ``at``; a window limit at the
# earliest bin whose leaving the window leaves less than the limit, plus the window.
# The bins are read by their primary key (bin, account_id, group_id): a range of the
# window's bins, of every account, filtered; only for a window limit in force.
_LIMITS = """
    SELECT l.id, g.name, l.megabytes, l.action,
           CASE WHEN l.action = 'speed'
                THEN l.speed_mode || ':' || coalesce(l.speed, l.percent::text) END,
           s.since,
           CASE WHEN l.window_seconds IS NULL THEN (
               SELECT max(u.period_end) FROM traffic_usage u
                WHERE u.account_id = s.account_id AND u.group_id = l.group_id
                  AND u.period_start <= %(at)s AND u.period_end > %(at)s)
           ELSE (
               SELECT min(w.bin) + make_interval(secs => l.window_seconds)
                 FROM (SELECT b.bin,
                              coalesce(sum(b.bytes_in + b.bytes_out) OVER (
                                  ORDER BY b.bin DESC
                                  ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)
                                  AS newer
                         FROM traffic_group_bins b
                        WHERE b.account_id = s.account_id AND b.group_id = l.group_id
                          AND b.bin > %(at)s - make_interval(secs => l.window_seconds)
                          AND b.bin <= %(at)s) w
                WHERE w.newer < l.megabytes * %(megabyte)s) END
      FROM account_traffic_limits s
      JOIN tariff_traffic_limits l ON l.id = s.limit_id
      JOIN traffic_groups g ON g.id = l.group_id
     WHERE s.account_id = %(account)s
     ORDER BY l.id
"""


def active_limits(conn: psycopg.Connection, account_id: int,
                  at: datetime) -> tuple[ActiveLimit, ...]:
    """The account's traffic limits in force, each with when it lifts (module docstring)."""
    rows = conn.execute(_LIMITS, {"account": account_id, "at": at, "megabyte": MEGABYTE})
    return tuple(ActiveLimit(*row) for row in rows)


def allowances(conn: psycopg.Connection, account_id: int, at: datetime) -> Allowances:
    """Prepaid traffic and minutes left in the period in force at ``at``, and the traffic
    limits in force (module docstring)."""
    if at.tzinfo is None:
        raise ValueError("at must be timezone-aware")
    params = {"account": account_id, "at": at, "megabyte": MEGABYTE}
    traffic = tuple(PrepaidTraffic(*row) for row in conn.execute(_TRAFFIC, params))
    minutes = conn.execute(_MINUTES, params).fetchone()
    return Allowances(traffic=traffic,
                      minutes=PrepaidMinutes(*minutes) if minutes else None,
                      limits=active_limits(conn, account_id, at))


def limit_lifts_at(limits: tuple[ActiveLimit, ...], action: str) -> datetime | None:
    """When every limit of ``action`` in force has lifted (the latest of their ends);
    None when one of them has no known end."""
    ends = [limit.until for limit in limits if limit.action == action]
    if not ends or any(end is None for end in ends):
        return None
    return max(ends)  # type: ignore[type-var]

