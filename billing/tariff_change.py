"""Tariff change: the rule matrix, a change now, scheduled changes and admins' bulk changes.

A change never rewrites history. It opens a new ``account_tariffs`` row at the moment it
takes effect, and the charge tick ends the previous assignment there (an assignment's span
runs to the next one's ``assigned_at``). So the periodic charges around the switch follow
from the two assignments' boundaries by the tick's one rule (``charging.schedule``):
GRADUAL steps starting before the switch belong to the old tariff and those after it to
the new one, AT_END charges the old tariff's piece at the switch, and the new tariff's
AT_START charges its piece from the switch. What the tick cannot do is take back money
charged in advance: the old assignment's AT_START charge was posted at the period start for
the span known then. ``charging.refunds.return_unused`` (the same return a suspension
makes) prices that charge again by the same rule over the span as it now ends and returns
the difference, so the old tariff keeps exactly its piece of the period by the cumulative
rule, as if the switch had been known when it was charged.

Every change is a ``tariff_changes`` row and is applied by one set-based statement
(``_APPLY``), whether it is a change now (one row), scheduled changes reached by the tick
(every due row) or a bulk change (a chunk of accounts). A row leaves 'pending' once (row
lock, then the status is re-checked), an account has one assignment per moment, and the
cost posts under ``tariff_change:{change id}``: a tick run three times applies a change once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo

import psycopg

from billing.assignments import in_force
from billing.charging import refunds, runs
from billing.errors import Refused
from billing.periods import SettlementPeriod, period_bounds

BULK_CHUNK = 10_000


class Effective(StrEnum):
    """When a change allowed by the matrix takes effect."""

    NOW = "NOW"
    NEXT_PERIOD = "NEXT_PERIOD"


class TariffChangeError(Refused):
    """A change that cannot be made; ``code`` is what a caller (cabinet, cashier) acts on."""


@dataclass(frozen=True, slots=True)
class Rule:
    """One cell of the matrix (``tariff_change_rules``)."""

    allowed: bool
    cost: Decimal
    min_balance: Decimal
    min_time_on_tariff: timedelta
    effective: Effective


@dataclass(frozen=True, slots=True)
class ChangeResult:
    change_id: int
    account_id: int
    from_tariff_id: int
    to_tariff_id: int
    effective_at: datetime
    cost: Decimal
    applied: bool  # False: scheduled, the tick applies it at effective_at


@dataclass(frozen=True, slots=True)
class BulkResult:
    changed: int
    unchanged: int  # already on the tariff, or no such account


def check_rule(
    rule: Rule | None,
    *,
    balance: Decimal,
    on_tariff_since: datetime,
    leaving_at: datetime,
) -> None:
    """Refuse a change the matrix does not allow; the first broken rule is reported.

    The time on the old tariff is counted up to the moment the change takes effect: a
    subscriber may ask early for a change at the next period start.
    """
    if rule is None or not rule.allowed:
        raise TariffChangeError("not_allowed", "this tariff change is not allowed")
    if balance < rule.min_balance:
        raise TariffChangeError(
            "balance_below_minimum",
            f"the change needs a balance of at least {rule.min_balance} (now {balance})",
        )
    if leaving_at - on_tariff_since < rule.min_time_on_tariff:
        raise TariffChangeError(
            "too_early",
            f"the change is allowed after {rule.min_time_on_tariff} on the current tariff,"
            f" from {on_tariff_since + rule.min_time_on_tariff:%Y-%m-%d %H:%M %Z}",
        )


# The assignment in force just before a moment (a change at t ends the one before t).
_CURRENT = f"""
    SELECT t.id, t.tariff_id, t.assigned_at, p.unit, p.length_seconds, p.anchor, p.autostart
      FROM ({in_force("%s", "%s", before=True)}) t
      JOIN tariffs tf ON tf.id = t.tariff_id
      LEFT JOIN settlement_periods p ON p.id = tf.settlement_period_id
"""


def _load_rule(conn: psycopg.Connection, from_tariff: int, to_tariff: int) -> Rule | None:
    row = conn.execute(
        "SELECT allowed, cost, min_balance, min_time_on_tariff, effective"
        " FROM tariff_change_rules WHERE from_tariff_id = %s AND to_tariff_id = %s",
        (from_tariff, to_tariff),
    ).fetchone()
    return Rule(row[0], row[1], row[2], row[3], Effective(row[4])) if row else None


def _require_tariff(conn: psycopg.Connection, tariff_id: int) -> None:
    row = conn.execute("SELECT active FROM tariffs WHERE id = %s", (tariff_id,)).fetchone()
    if row is None:
        raise TariffChangeError("unknown_tariff", f"tariff {tariff_id} does not exist")
    if not row[0]:
        raise TariffChangeError("tariff_inactive", f"tariff {tariff_id} is not active")


def _require_after_last_tick(conn: psycopg.Connection, at: datetime) -> None:
    """A change takes effect after the last finished tick: the tick never reopens time it
    has charged, so an earlier switch would charge the old tariff for the new one's time."""
    charged_to = runs.settled_at(conn, at)
    if charged_to is not None:
        raise TariffChangeError(
            "before_last_tick",
            f"charges are already settled up to {charged_to.isoformat()}; a change must"
            " take effect after that",
        )


@dataclass(frozen=True, slots=True)
class ChangePlan:
    """What a change would do, read before it is made: the cabinet's confirmation."""

    from_tariff_id: int
    to_tariff_id: int
    on_tariff_since: datetime
    effective_at: datetime
    cost: Decimal


def _plan(conn: psycopg.Connection, account_id: int, to_tariff_id: int, *, tz: ZoneInfo,
          at: datetime) -> ChangePlan:
    """Every rule of a change, checked with the account row locked; nothing written."""
    account = conn.execute(
        "SELECT balance FROM accounts WHERE id = %s FOR UPDATE", (account_id,)
    ).fetchone()
    if account is None:
        raise TariffChangeError("unknown_account", f"account {account_id} does not exist")
    _require_tariff(conn, to_tariff_id)
    current = conn.execute(_CURRENT, (account_id, at)).fetchone()
    if current is None:
        raise TariffChangeError("no_tariff", "the account has no tariff to change from")
    _, from_tariff, since, *period = current
    if from_tariff == to_tariff_id:
        raise TariffChangeError("same_tariff", "the account is already on this tariff")
    if conn.execute(
        "SELECT 1 FROM tariff_changes WHERE account_id = %s AND status = 'pending'",
        (account_id,),
    ).fetchone():
        raise TariffChangeError("change_pending", "a tariff change is already scheduled")
    rule = _load_rule(conn, from_tariff, to_tariff_id)
    effective_at = at
    if rule is not None and rule.effective is Effective.NEXT_PERIOD:
        if period[0] is None:
            raise TariffChangeError(
                "no_settlement_period",
                "the current tariff has no settlement period to wait for",
            )
        sp = SettlementPeriod(*period)
        effective_at = period_bounds(sp, at, tz, since if sp.autostart else None)[1]
    _require_after_last_tick(conn, effective_at)
    check_rule(rule, balance=account[0], on_tariff_since=since, leaving_at=effective_at)
    return ChangePlan(from_tariff, to_tariff_id, since, effective_at, rule.cost)


def plan_change(
    conn: psycopg.Connection,
    account_id: int,
    to_tariff_id: int,
    *,
    tz: ZoneInfo,
    at: datetime | None = None,
) -> ChangePlan:
    """The change :func:`change_tariff` would make at ``at`` (its cost and the moment it
    takes effect), or the refusal it would raise; nothing is written. A subscriber sees
    this before confirming, so the figures shown are the rule's own."""
    with conn.transaction():
        return _plan(conn, account_id, to_tariff_id, tz=tz, at=at or datetime.now(UTC))


def change_tariff(
    conn: psycopg.Connection,
    account_id: int,
    to_tariff_id: int,
    *,
    tz: ZoneInfo,
    at: datetime | None = None,
    staff_user_id: int | None = None,
) -> ChangeResult:
    """Move an account to another tariff by the matrix: now, or at the next period start.

    The subscriber's (or cashier's, recorded as ``staff_user_id``) one entry point. Either
    every row is written (the change, the new assignment, the cost, returned unused
    advance charges) or, on a :class:`TariffChangeError`, nothing is.
    """
    at = at or datetime.now(UTC)
    with conn.transaction():
        plan = _plan(conn, account_id, to_tariff_id, tz=tz, at=at)
        change_id = conn.execute(
            """
            INSERT INTO tariff_changes (account_id, from_tariff_id, to_tariff_id, effective_at,
                                        requested_at, cost, source, staff_user_id)
            VALUES (%s, %s, %s, %s, %s, %s, 'matrix', %s) RETURNING id
            """,
            (account_id, plan.from_tariff_id, to_tariff_id, plan.effective_at, at, plan.cost,
             staff_user_id),
        ).fetchone()[0]
        applied = False
        if plan.effective_at <= at:
            outcome = _apply(conn, at, tz, [change_id])
            if outcome.get(change_id) != "applied":
                raise TariffChangeError(
                    "assignment_exists", "the account already has an assignment at this moment"
                )
            applied = True
    return ChangeResult(change_id, account_id, plan.from_tariff_id, to_tariff_id,
                        plan.effective_at, plan.cost, applied)


def cancel_scheduled_change(
    conn: psycopg.Connection, account_id: int, *, at: datetime | None = None
) -> bool:
    """Cancel the account's pending change; False when there is none."""
    row = conn.execute(
        "UPDATE tariff_changes SET status = 'cancelled', settled_at = %s,"
        " reason = 'cancelled before it took effect'"
        " WHERE account_id = %s AND status = 'pending' RETURNING id",
        (at or datetime.now(UTC), account_id),
    ).fetchone()
    return row is not None


def apply_scheduled_changes(conn: psycopg.Connection, at: datetime, tz: ZoneInfo) -> int:
    """The tick's step: apply every pending change due by ``at``; returns how many applied.

    Runs before the tick builds its spans, so the charges of the same tick already see the
    new assignments. Two ticks at once wait on the rows' locks; the second finds them no
    longer pending.
    """
    with conn.transaction():
        return sum(1 for s in _apply(conn, at, tz, None).values() if s == "applied")


def bulk_change_tariff(
    conn: psycopg.Connection,
    account_ids: Iterable[int],
    to_tariff_id: int,
    *,
    staff_user_id: int,
    tz: ZoneInfo,
    at: datetime | None = None,
    chunk_accounts: int = BULK_CHUNK,
) -> BulkResult:
    """An admin moves a set of accounts to one tariff now, bypassing the matrix and its
    cost; each change is recorded with the operator. A pending scheduled change of those
    accounts is superseded. One transaction per chunk of accounts."""
    at = at or datetime.now(UTC)
    _require_tariff(conn, to_tariff_id)
    _require_after_last_tick(conn, at)
    changed = unchanged = 0
    everyone = sorted(set(account_ids))
    for start in range(0, len(everyone), chunk_accounts):
        ids = everyone[start:start + chunk_accounts]
        with conn.transaction():
            conn.execute(
                "UPDATE tariff_changes SET status = 'cancelled', settled_at = %s,"
                " reason = 'superseded by a bulk change'"
                " WHERE status = 'pending' AND account_id = ANY(%s)",
                (at, ids),
            )
            change_ids = [r[0] for r in conn.execute(_BULK_RECORD, {
                "ids": ids, "to": to_tariff_id, "at": at, "staff": staff_user_id,
            })]
            outcome = _apply(conn, at, tz, change_ids)
        done = sum(1 for s in outcome.values() if s == "applied")
        changed += done
        unchanged += len(ids) - done
    return BulkResult(changed, unchanged)


_BULK_RECORD = f"""
    INSERT INTO tariff_changes (account_id, from_tariff_id, to_tariff_id, effective_at,
                                requested_at, cost, source, staff_user_id)
    SELECT a.id, cur.tariff_id, %(to)s, %(at)s, %(at)s, 0, 'bulk', %(staff)s
      FROM accounts a
      LEFT JOIN LATERAL ({in_force("a.id", "%(at)s", before=True)}) cur ON true
     WHERE a.id = ANY(%(ids)s) AND cur.tariff_id IS DISTINCT FROM %(to)s
     ORDER BY a.id
    RETURNING id
"""

# Applies pending changes due by %(at)s (all, or those in %(ids)s) in one statement: lock
# the rows, open the new assignments, settle the rows, post the costs. A change made from
# a tariff the account has since left, or onto a moment already taken by another
# assignment, is cancelled, not forced.
_APPLY = f"""
    WITH due AS (
        SELECT c.id, c.account_id, c.from_tariff_id, c.to_tariff_id, c.effective_at,
               cur.id AS old_assignment_id, cur.tariff_id AS current_tariff_id
          FROM tariff_changes c
          LEFT JOIN LATERAL ({in_force("c.account_id", "c.effective_at", before=True)}) cur
                 ON true
         WHERE c.status = 'pending' AND c.effective_at <= %(at)s
           AND (%(ids)s::bigint[] IS NULL OR c.id = ANY(%(ids)s::bigint[]))
         ORDER BY c.account_id
           FOR UPDATE OF c
    ),
    -- The new assignment's id is drawn up front, so the settled row names it without
    -- joining back to the INSERT (a join of two statistics-less CTEs plans badly).
    plan AS MATERIALIZED (
        SELECT d.*,
               CASE WHEN d.current_tariff_id IS DISTINCT FROM d.from_tariff_id
                        THEN 'the account left the tariff the change was made from'
                    WHEN EXISTS (SELECT 1 FROM account_tariffs t
                                  WHERE t.account_id = d.account_id
                                    AND t.assigned_at = d.effective_at)
                        THEN 'the account already has an assignment at that moment'
               END AS refused
          FROM due d
    ),
    planned AS MATERIALIZED (
        SELECT p.*, CASE WHEN p.refused IS NULL
                         THEN nextval(pg_get_serial_sequence('account_tariffs', 'id')) END
                    AS assignment_id
          FROM plan p
    ),
    opened AS (
        INSERT INTO account_tariffs (id, account_id, tariff_id, assigned_at)
        SELECT assignment_id, account_id, to_tariff_id, effective_at FROM planned
         WHERE assignment_id IS NOT NULL
         ORDER BY account_id
    ),
    settled AS (
        UPDATE tariff_changes c
           SET status = CASE WHEN p.assignment_id IS NULL THEN 'cancelled' ELSE 'applied' END,
               assignment_id = p.assignment_id,
               settled_at = %(at)s,
               reason = coalesce(p.refused, c.reason)
          FROM planned p
         WHERE c.id = p.id
        RETURNING c.id, c.account_id, c.status, c.cost, c.effective_at, c.staff_user_id,
                  c.to_tariff_id, p.old_assignment_id
    ),
    costs AS (
        INSERT INTO ledger_entries (account_id, kind, amount, idempotency_key, effective_at,
                                    staff_user_id, description, details)
        SELECT account_id, 'charge_tariff_change', -cost, 'tariff_change:' || id,
               effective_at, staff_user_id, 'Tariff change',
               jsonb_build_object('change_id', id, 'to_tariff_id', to_tariff_id)
          FROM settled
         WHERE status = 'applied' AND cost > 0
         ORDER BY account_id
        ON CONFLICT (idempotency_key) DO NOTHING
    )
    SELECT id, status, old_assignment_id, effective_at FROM settled
"""


def _apply(
    conn: psycopg.Connection, at: datetime, tz: ZoneInfo, ids: list[int] | None
) -> dict[int, str]:
    """Apply due pending changes (inside the caller's transaction); {change id: status}."""
    rows = conn.execute(_APPLY, {"at": at, "ids": ids}).fetchall()
    cuts = [(r[2], r[3]) for r in rows if r[1] == "applied" and r[2] is not None]
    refunds.return_unused(conn, cuts, tz)
    return {r[0]: r[1] for r in rows}
