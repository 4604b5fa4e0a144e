"""Self-suspension: the subscriber (or staff for them) freezes the service for a while.

The tariff decides (``allow_self_suspension``, ``suspension_cost``,
``suspension_min_balance``, ``suspension_max_days``). A suspension runs from ``starts_at``
until it is resumed on request or reaches its maximum, where the charge tick ends it by
itself (:func:`expire_suspensions`, set-based). While it runs the account is
``suspended`` (no access) and no periodic charge covers its time, exactly at both ends:

* the tick cuts every assignment span by the account's suspensions (:func:`cut_spans`),
  so GRADUAL steps starting inside one are not charged, an AT_END period is charged for
  its parts before and after, and a part after a resume is charged at the resume;
* an AT_START charge already taken for time after the start gets that part back
  (``charging.refunds``, the return a tariff change makes too: the kept part plus the
  part charged after the resume add up as a split period does).

Charges after a resume carry the resume moment in their key (``:r{microseconds}``), so
they never collide with the charges of the same period made before the suspension.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import psycopg

from billing import ledger
from billing.accounts import AccountStateError, record_actor
from billing.assignments import in_force
from billing.charging import refunds, runs


@dataclass(frozen=True, slots=True)
class Suspension:
    id: int
    account_id: int
    starts_at: datetime
    planned_until: datetime | None
    ended_at: datetime | None
    cost: Decimal
    refunded: Decimal = Decimal("0.00")


def _refuse_charged_time(conn: psycopg.Connection, at: datetime) -> None:
    """Time a finished tick has charged is closed: a suspension cannot start or end in it,
    nor at its very end (what is due at that moment was decided by that tick), or the
    ledger would depend on when ticks happened to run."""
    last = runs.settled_at(conn, at)
    if last is not None:
        raise AccountStateError(
            "in_the_past", f"{at.isoformat()} is before the last charge tick ({last.isoformat()})")


def add_local_days(at: datetime, days: int, tz: ZoneInfo) -> datetime:
    """``at`` plus ``days`` calendar days on the ISP's wall clock (a DST day is one day)."""
    wall = at.astimezone(tz).replace(tzinfo=None) + timedelta(days=days)
    return wall.replace(tzinfo=tz).astimezone(UTC)


_TARIFF = f"""
    SELECT x.id, t.id, t.allow_self_suspension, t.suspension_cost, t.suspension_min_balance,
           t.suspension_max_days
      FROM ({in_force("%s", "%s")}) x JOIN tariffs t ON t.id = x.tariff_id
"""


@dataclass(frozen=True, slots=True)
class SuspensionTerms:
    """The tariff's self-suspension rules for an account, shown before it suspends."""

    tariff_id: int
    allowed: bool
    cost: Decimal
    min_balance: Decimal
    max_days: int | None


def suspension_terms(
    conn: psycopg.Connection, account_id: int, at: datetime
) -> SuspensionTerms | None:
    """The rules of the tariff in force at ``at`` (None: the account has no tariff), as
    :func:`suspend_account` reads them."""
    row = conn.execute(_TARIFF, (account_id, at)).fetchone()
    return SuspensionTerms(*row[1:]) if row else None


def suspend_account(
    conn: psycopg.Connection,
    account_id: int,
    *,
    at: datetime,
    tz: ZoneInfo,
    days: int | None = None,
    staff_user_id: int | None = None,
    reason: str = "",
) -> Suspension:
    """Suspend an active account from ``at`` for ``days`` (default and maximum: the
    tariff's ``suspension_max_days``; none there and none given: until resumed).

    Refused (``AccountStateError.code``): ``no_account``, ``already_suspended``,
    ``not_active``, ``in_the_past``, ``no_tariff``, ``not_allowed``, ``balance_too_low``,
    ``too_short``, ``too_long``. The tariff's cost is charged at ``at``.
    """
    if at.tzinfo is None:
        raise ValueError("at must be timezone-aware")
    with conn.transaction():
        row = conn.execute(
            "SELECT status, balance FROM accounts WHERE id = %s FOR UPDATE", (account_id,)
        ).fetchone()
        if row is None:
            raise AccountStateError("no_account", f"account {account_id} does not exist")
        status, balance = row
        if status == "suspended":
            raise AccountStateError("already_suspended", f"account {account_id} is suspended")
        if status != "active":
            raise AccountStateError("not_active", f"account {account_id} is {status}")
        _refuse_charged_time(conn, at)
        tariff = conn.execute(_TARIFF, (account_id, at)).fetchone()
        if tariff is None:
            raise AccountStateError("no_tariff", f"account {account_id} has no tariff")
        assignment_id, tariff_id, allowed, cost, min_balance, max_days = tariff
        if not allowed:
            raise AccountStateError("not_allowed", "the tariff does not allow self-suspension")
        if balance < min_balance:
            raise AccountStateError(
                "balance_too_low", f"a suspension needs a balance of at least {min_balance}")
        days = max_days if days is None else days
        if days is not None and days < 1:
            raise AccountStateError("too_short", "a suspension lasts at least one day")
        if days is not None and max_days is not None and days > max_days:
            raise AccountStateError("too_long", f"the tariff allows at most {max_days} days")
        planned = add_local_days(at, days, tz) if days is not None else None
        suspension_id = conn.execute(
            "INSERT INTO account_suspensions (account_id, tariff_id, starts_at, planned_until,"
            " cost, requested_by, staff_user_id, reason) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
            " RETURNING id",
            (account_id, tariff_id, at, planned, cost,
             "staff" if staff_user_id else "subscriber", staff_user_id, reason),
        ).fetchone()[0]
        record_actor(conn, at=at, actor="staff" if staff_user_id else "subscriber",
                     staff_user_id=staff_user_id, reason=reason or "self-suspension")
        conn.execute("UPDATE accounts SET status = 'suspended' WHERE id = %s", (account_id,))
        if cost > 0:
            ledger.post(conn, ledger.Entry(
                account_id, "charge_suspension", -cost, f"suspension:{suspension_id}", at,
                staff_user_id, "Suspension", {"suspension_id": suspension_id}))
        # AT_START charges already taken for time after the start give that part back.
        refunded = refunds.return_unused(
            conn, [(assignment_id, at)], tz, note="suspended part returned",
            details={"suspension_id": suspension_id})
    return Suspension(suspension_id, account_id, at, planned, None, cost, refunded)


def resume_account(
    conn: psycopg.Connection,
    account_id: int,
    *,
    at: datetime,
    staff_user_id: int | None = None,
    reason: str = "",
) -> Suspension:
    """End the running suspension at ``at`` (early, on request) and make the account
    active. Past its planned end it ends there, as the tick would have ended it."""
    if at.tzinfo is None:
        raise ValueError("at must be timezone-aware")
    with conn.transaction():
        row = conn.execute(
            "SELECT id, starts_at, planned_until, cost FROM account_suspensions"
            " WHERE account_id = %s AND ended_at IS NULL FOR UPDATE", (account_id,)
        ).fetchone()
        if row is None:
            raise AccountStateError("not_suspended", f"account {account_id} is not suspended")
        suspension_id, starts_at, planned, cost = row
        ended, why = at, "requested"
        if planned is not None and planned <= at:
            ended, why = planned, "max_days"
        if ended < starts_at:
            raise AccountStateError("in_the_past", "a suspension cannot end before it starts")
        _refuse_charged_time(conn, ended)
        conn.execute(
            "UPDATE account_suspensions SET ended_at = %s, end_reason = %s,"
            " ended_by_staff_id = %s WHERE id = %s",
            (ended, why, staff_user_id, suspension_id),
        )
        record_actor(conn, at=ended, actor="staff" if staff_user_id else "subscriber",
                     staff_user_id=staff_user_id, reason=reason or "suspension ended on request")
        conn.execute(
            "UPDATE accounts SET status = 'active' WHERE id = %s AND status = 'suspended'",
            (account_id,))
    return Suspension(suspension_id, account_id, starts_at, planned, ended, cost)


_EXPIRE = """
    WITH ended AS (
        UPDATE account_suspensions SET ended_at = planned_until, end_reason = 'max_days'
         WHERE ended_at IS NULL AND planned_until <= %(at)s
        RETURNING account_id
    )
    UPDATE accounts a SET status = 'active'
      FROM ended e
     WHERE a.id = e.account_id AND a.status = 'suspended'
"""


def expire_suspensions(conn: psycopg.Connection, at: datetime) -> int:
    """End, at their planned moment, all suspensions that reached it by ``at``; one
    statement for all accounts. A step of the charge tick, run before charging so the
    time after each end is charged by the same tick."""
    with conn.transaction():
        record_actor(conn, at=at, actor="system", reason="suspension reached its maximum days")
        return conn.execute(_EXPIRE, {"at": at}).rowcount


# Replace each span that a suspension overlaps by its parts outside all of the account's
# suspensions (multirange difference). A part that starts at a resume gets a key tag.
_CUT = """
    WITH cut AS (
        DELETE FROM charge_spans s
         WHERE EXISTS (SELECT 1 FROM account_suspensions p
                        WHERE p.account_id = s.account_id
                          AND p.starts_at < s.ended_at
                          AND coalesce(p.ended_at, 'infinity') > s.started_at)
        RETURNING s.*
    )
    INSERT INTO charge_spans (assignment_id, account_id, tariff_id, started_at, ended_at,
                              condition_balance, assigned_at, assignment_ended_at, key_tag)
    SELECT c.assignment_id, c.account_id, c.tariff_id, lower(part), upper(part),
           c.condition_balance, c.assigned_at, c.assignment_ended_at,
           CASE WHEN lower(part) = c.started_at THEN c.key_tag
                ELSE ':r' || (extract(epoch FROM lower(part)) * 1000000)::bigint END
      FROM cut c
      CROSS JOIN LATERAL unnest(
          tstzmultirange(tstzrange(c.started_at, c.ended_at))
          - (SELECT range_agg(tstzrange(p.starts_at, coalesce(p.ended_at, 'infinity')))
               FROM account_suspensions p WHERE p.account_id = c.account_id)) AS part
"""


def cut_spans(conn: psycopg.Connection) -> int:
    """Cut the tick's ``charge_spans`` by every suspension of their accounts; returns the
    parts inserted. Only accounts that have suspensions are touched; none at all (a
    large ISP's usual day before anyone suspends) costs one lookup."""
    if not conn.execute("SELECT EXISTS (SELECT 1 FROM account_suspensions)").fetchone()[0]:
        return 0
    return conn.execute(_CUT).rowcount
