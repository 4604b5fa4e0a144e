"""The tariff assignment in force: one rule for every service that asks "which tariff".

An account's ``account_tariffs`` rows form a timeline: each assignment runs from its
``assigned_at`` to the next one's (the charge tick ends it there). So the assignment in
force at a moment is the latest one assigned at or before it. A change that takes effect
at a moment ends the assignment in force *just before* it (assigned strictly before): one
assigned at that very moment is the change itself.

Services ask inside their own statements (a lateral join over many accounts, a subquery
beside a row lock), so the rule is kept here as the SQL they embed (``in_force`` for one
account, ``all_in_force`` for every account at once), and as one call for a single
account (``current_assignment``, ``current_tariff`` with the tariff's name for a page).
SQL functions ask ``ebs_assignment_in_force`` (sql/functions/ebs_assignment_in_force.sql),
the same rule, tested equal to this one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg

COLUMNS = "t.id, t.tariff_id, t.assigned_at"


def in_force(account: str, at: str, *, before: bool = False, columns: str = COLUMNS) -> str:
    """A subquery of the assignment of ``account`` in force at ``at`` (both SQL
    expressions, e.g. ``"a.id"`` or ``"%(at)s"``), its ``columns`` from
    ``account_tariffs t``; with ``before``, the one in force just before ``at``."""
    op = "<" if before else "<="
    return (f"SELECT {columns} FROM account_tariffs t"
            f" WHERE t.account_id = {account} AND t.assigned_at {op} {at}"
            f" ORDER BY t.assigned_at DESC LIMIT 1")


def all_in_force(at: str, *, before: bool = False, columns: str = "t.*") -> str:
    """A query of every account's assignment in force at ``at`` (an SQL expression), its
    ``columns`` from ``account_tariffs t``; with ``before``, the one in force just before.
    One sort of the table: cheaper than ``in_force`` per account when most accounts are
    asked (a report, a join with every open session)."""
    op = "<" if before else "<="
    return (f"SELECT DISTINCT ON (t.account_id) {columns} FROM account_tariffs t"
            f" WHERE t.assigned_at {op} {at}"
            f" ORDER BY t.account_id, t.assigned_at DESC")


@dataclass(frozen=True, slots=True)
class Assignment:
    id: int
    tariff_id: int
    assigned_at: datetime


def current_assignment(
    conn: psycopg.Connection, account_id: int, at: datetime, *, before: bool = False
) -> Assignment | None:
    """The account's assignment in force at ``at`` (just before it, with ``before``);
    None when it has none then."""
    row = conn.execute(in_force("%s", "%s", before=before), (account_id, at)).fetchone()
    return Assignment(*row) if row else None


@dataclass(frozen=True, slots=True)
class TariffInForce:
    id: int
    tariff_id: int
    tariff_name: str
    assigned_at: datetime


def current_tariff(
    conn: psycopg.Connection, account_id: int, at: datetime | None = None
) -> TariffInForce | None:
    """The account's assignment in force at ``at`` (the transaction's ``now()`` when
    None) with its tariff's name, as an account's page shows it; None when it has none."""
    found = in_force("%s", "%s" if at is not None else "now()")
    row = conn.execute(
        f"SELECT x.id, x.tariff_id, tf.name, x.assigned_at"
        f"  FROM ({found}) x JOIN tariffs tf ON tf.id = x.tariff_id",
        (account_id, at) if at is not None else (account_id,)).fetchone()
    return TariffInForce(*row) if row else None
