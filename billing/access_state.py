"""Why an account's access is limited right now, and the one thing that fixes it.

The verdict is :func:`billing.access.decide`'s, over the same facts ``ebs_radius_check``
gives a login (the account's status, blocks and money, each subaccount's overrides, the
tariff in force with its access window and guest pool), gathered here from the tables
for every subaccount at once. There is no request, so the facts that only a request has
are those of a request that passes every connection check: the access kind the tariff
wants, no CHAP, the bound NAS (if any) as the request's NAS, no MAC or IP binding to
compare, no live session, a free address. What is left is what the subscriber can
see and fix: status, tariff, access window, traffic limit, money.

Access is limited when a subaccount (the first by id; the account itself when it has
none) is rejected or admitted only into the guest pool. The fix, by reason:

* ``blocked_by_balance``: ``pay`` what the pending package check still lacks
  (``ebs_package_shortfall``, the rule that lifts the block), rounded up to kopecks;
* ``balance_negative`` / ``balance_zero``: ``pay`` the least sum that brings
  balance + credit above zero: the debt and 0.01;
* ``account_suspended``: ``resume``; ``until`` is the suspension's planned end, if any;
* ``outside_access_window``: ``wait_window``; ``opens_at`` is the window's next start;
* ``blocked_by_limit``: ``wait_limit``; ``until`` is when the block limits lift without
  more traffic (``billing.allowances``);
* ``account_disabled`` / ``tariff_inactive`` (and ``blocked_by_balance`` with nothing
  to pay): ``support``.

Status, blocks and money are the account's as they stand, as RADIUS reads them; ``at``
picks the tariff in force, the access window's state and the limits' ends. Times are in
the operator's zone ``tz``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import ROUND_CEILING, Decimal
from zoneinfo import ZoneInfo

import psycopg

from billing.access import AccessFacts, Reason, RequestAccess, decide, tariff_access
from billing.allowances import active_limits, limit_lifts_at
from billing.assignments import in_force
from billing.money import CENT
from billing.time_windows import Repeat, TimeNode, next_boundary

__all__ = ["Limitation", "limitation"]

PAY = "pay"
RESUME = "resume"
WAIT_WINDOW = "wait_window"
WAIT_LIMIT = "wait_limit"
SUPPORT = "support"


@dataclass(frozen=True, slots=True)
class Limitation:
    """The reason access is limited and its fix: ``action`` is a short code the page
    words (pay, resume, wait_window, wait_limit, support) with ``pay``, ``until`` or
    ``opens_at`` as the reason has one. ``guest``: admitted into the guest pool."""

    reason: Reason
    action: str
    pay: Decimal | None = None
    until: datetime | None = None
    opens_at: datetime | None = None
    guest: bool = False


# The account with each subaccount (none: one row of NULLs), the tariff in force and
# the pending package check: index reads of accounts, subaccounts (account_id),
# account_tariffs (account_id, assigned_at) and package_blocks.
_FACTS = f"""
    SELECT a.status, a.blocked_by_balance, a.blocked_by_limit, a.balance, a.credit,
           coalesce(sa.allow_at_zero, false), coalesce(sa.allow_negative, false),
           coalesce(sa.allow_when_blocked, false), sa.nas_id,
           t.id, t.active, t.access_type, t.access_time_period_id, t.guest_pool_id,
           t.package_cost,
           ebs_package_shortfall(b.account_id, b.assignment_id, b.period_start,
                                 b.blocked_at, b.required)
      FROM accounts a
      LEFT JOIN subaccounts sa ON sa.account_id = a.id
      LEFT JOIN LATERAL (
            SELECT tr.* FROM ({in_force("a.id", "%(at)s", columns="t.tariff_id")}) x
              JOIN tariffs tr ON tr.id = x.tariff_id) t ON true
      LEFT JOIN package_blocks b ON b.account_id = a.id
     WHERE a.id = %(account)s
     ORDER BY sa.id
"""

_WINDOW = """
    SELECT starts_at, length, repeat FROM time_period_nodes
     WHERE time_period_id = %s ORDER BY id
"""

_SUSPENSION = """
    SELECT planned_until FROM account_suspensions WHERE account_id = %s AND ended_at IS NULL
"""


def _facts(row: tuple, window: tuple[TimeNode, ...], at: datetime,
           tz: ZoneInfo) -> AccessFacts:
    (status, blocked_by_balance, blocked_by_limit, balance, credit, allow_at_zero,
     allow_negative, allow_when_blocked, nas_id, tariff_id, tariff_active, access_type,
     _, guest_pool_id, _, _) = row
    return AccessFacts(
        now=at, tz=tz, account_status=status,
        blocked_by_balance=blocked_by_balance, blocked_by_limit=blocked_by_limit,
        balance=balance, credit=credit, allow_at_zero=allow_at_zero,
        allow_negative=allow_negative, allow_when_blocked=allow_when_blocked,
        bound_nas_id=nas_id, request_nas_id=nas_id,
        tariff_active=bool(tariff_active),
        tariff_access_type=access_type if tariff_id is not None else None,
        request_access=(tariff_access(access_type) if tariff_id is not None
                        else RequestAccess.PPP),
        access_window=window, guest_pool_id=guest_pool_id,
    )


def _money_to_pay(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_CEILING)


def _fix(conn: psycopg.Connection, account_id: int, reason: Reason, row: tuple,
         window: tuple[TimeNode, ...], at: datetime, tz: ZoneInfo) -> Limitation:
    balance, credit, package_cost, shortfall = row[3], row[4], row[14], row[15]
    if reason is Reason.BLOCKED_BY_BALANCE:
        lacking = shortfall if shortfall is not None else (
            (package_cost or Decimal(0)) - (balance + credit))
        if lacking > 0:
            return Limitation(reason, PAY, pay=_money_to_pay(lacking))
        return Limitation(reason, SUPPORT)
    if reason in (Reason.BALANCE_NEGATIVE, Reason.BALANCE_ZERO):
        return Limitation(reason, PAY, pay=_money_to_pay(CENT - (balance + credit)))
    if reason is Reason.ACCOUNT_SUSPENDED:
        found = conn.execute(_SUSPENSION, (account_id,)).fetchone()
        until = found[0].astimezone(tz) if found and found[0] else None
        return Limitation(reason, RESUME, until=until)
    if reason is Reason.OUTSIDE_ACCESS_WINDOW:
        opens = next_boundary(window, at, tz)
        return Limitation(reason, WAIT_WINDOW, opens_at=opens.astimezone(tz) if opens else None)
    if reason is Reason.BLOCKED_BY_LIMIT:
        lifts = limit_lifts_at(active_limits(conn, account_id, at), "block")
        return Limitation(reason, WAIT_LIMIT, until=lifts.astimezone(tz) if lifts else None)
    return Limitation(reason, SUPPORT)


def limitation(conn: psycopg.Connection, account_id: int, at: datetime,
               tz: ZoneInfo) -> Limitation | None:
    """Why the account's access is limited at ``at`` and what fixes it (module
    docstring); None when it is not limited. LookupError when there is no account."""
    if at.tzinfo is None:
        raise ValueError("at must be timezone-aware")
    rows = conn.execute(_FACTS, {"account": account_id, "at": at}).fetchall()
    if not rows:
        raise LookupError(f"account {account_id} does not exist")
    period_id = rows[0][12]
    window = tuple(TimeNode(start, length, Repeat(repeat)) for start, length, repeat
                   in conn.execute(_WINDOW, (period_id,))) if period_id else ()
    for row in rows:
        decision = decide(_facts(row, window, at, tz))
        if decision.reason is not Reason.OK:
            found = _fix(conn, account_id, decision.reason, row, window, at, tz)
            return replace(found, guest=decision.guest)
    return None
