"""The ledger: every change of a balance is an append-only entry with an idempotency key.

The database enforces the rules (``ledger_entries`` in ``sql/migrations/202612060900_baseline.sql``
and its trigger functions in ``sql/functions/``): entries cannot
be updated or deleted, a key posts once, and ``accounts.balance`` follows the entries in the
same statement. This module is the one way the code posts, reverses and verifies.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from billing.money import to_money


class LedgerError(ValueError):
    """A posting that cannot be made; the message says why."""


@dataclass(frozen=True)
class Entry:
    account_id: int
    kind: str
    amount: Decimal
    idempotency_key: str
    effective_at: datetime
    staff_user_id: int | None = None
    description: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        amount = to_money(self.amount)
        if amount == 0:
            raise LedgerError("a ledger entry moves money: amount 0 is not an entry")
        if not self.idempotency_key:
            raise LedgerError("every ledger entry needs an idempotency key")
        if self.effective_at.tzinfo is None:
            raise LedgerError("effective_at must be timezone-aware")
        object.__setattr__(self, "amount", amount)


@dataclass(frozen=True)
class Posted:
    """The entry stored under a key, whether this call wrote it or an earlier one did."""

    id: int
    account_id: int
    amount: Decimal
    created: bool


_INSERT = """
    INSERT INTO ledger_entries
        (account_id, kind, amount, idempotency_key, effective_at, staff_user_id,
         description, details, reverses_id)
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id
"""


def post(conn: psycopg.Connection, entry: Entry, *, reverses_id: int | None = None) -> Posted:
    """Post one entry; posting the same key again returns the first entry, unchanged.

    Runs inside the caller's transaction when there is one, so a payment and whatever it
    unlocks commit together.
    """
    with conn.transaction():
        row = conn.execute(
            _INSERT,
            (
                entry.account_id, entry.kind, entry.amount, entry.idempotency_key,
                entry.effective_at, entry.staff_user_id, entry.description,
                Jsonb(entry.details), reverses_id,
            ),
        ).fetchone()
        if row:
            return Posted(row[0], entry.account_id, entry.amount, created=True)
        existing = conn.execute(
            "SELECT id, account_id, amount FROM ledger_entries WHERE idempotency_key = %s",
            (entry.idempotency_key,),
        ).fetchone()
    if existing[1] != entry.account_id or existing[2] != entry.amount:
        raise LedgerError(
            f"idempotency key {entry.idempotency_key!r} was already used for another posting "
            f"(account {existing[1]}, amount {existing[2]})"
        )
    return Posted(existing[0], existing[1], existing[2], created=False)


def post_many(conn: psycopg.Connection, entries: Iterable[Entry]) -> int:
    """Post a batch in one statement; returns how many were new (duplicates are skipped).

    The balance trigger runs once per statement, so a batch costs one UPDATE of the
    accounts it touches, not one per entry.
    """
    rows = [
        (e.account_id, e.kind, e.amount, e.idempotency_key, e.effective_at, e.staff_user_id,
         e.description, Jsonb(e.details))
        for e in entries
    ]
    if not rows:
        return 0
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(
            """
            CREATE TEMP TABLE IF NOT EXISTS ledger_batch (
                account_id bigint, kind text, amount numeric(14,2), idempotency_key text,
                effective_at timestamptz, staff_user_id integer, description text,
                details jsonb
            ) ON COMMIT DELETE ROWS
            """
        )
        cur.execute("TRUNCATE ledger_batch")
        with cur.copy(
            "COPY ledger_batch (account_id, kind, amount, idempotency_key, effective_at, "
            "staff_user_id, description, details) FROM STDIN"
        ) as copy:
            for row in rows:
                copy.write_row(row)
        cur.execute(
            """
            INSERT INTO ledger_entries
                (account_id, kind, amount, idempotency_key, effective_at, staff_user_id,
                 description, details)
            SELECT DISTINCT ON (idempotency_key) * FROM ledger_batch
            ON CONFLICT (idempotency_key) DO NOTHING
            """
        )
        return cur.rowcount


def reverse(
    conn: psycopg.Connection,
    entry_id: int,
    *,
    effective_at: datetime,
    staff_user_id: int | None = None,
    reason: str = "",
) -> Posted:
    """Cancel an entry with a new, opposite one. Reversing twice returns the first reversal;
    a reversal itself cannot be reversed (post a new entry instead)."""
    with conn.transaction():
        original = conn.execute(
            "SELECT account_id, kind, amount FROM ledger_entries WHERE id = %s",
            (entry_id,),
        ).fetchone()
        if original is None:
            raise LedgerError(f"ledger entry {entry_id} does not exist")
        account_id, kind, amount = original
        if kind == "reversal":
            raise LedgerError(f"entry {entry_id} is a reversal; post a new entry instead")
        entry = Entry(
            account_id=account_id,
            kind="reversal",
            amount=-amount,
            idempotency_key=f"reversal:{entry_id}",
            effective_at=effective_at,
            staff_user_id=staff_user_id,
            description=reason,
            details={"reverses": entry_id},
        )
        return post(conn, entry, reverses_id=entry_id)


@dataclass(frozen=True)
class Mismatch:
    account_id: int
    contract: str
    balance: Decimal
    ledger_sum: Decimal


def verify(conn: psycopg.Connection) -> list[Mismatch]:
    """Every account whose balance differs from the sum of its entries (empty = all good).

    One pass over the ledger with a hash aggregate; at 5 million entries it takes seconds.
    """
    rows = conn.execute(
        """
        SELECT a.id, a.contract, a.balance, coalesce(s.total, 0)
          FROM accounts a
          LEFT JOIN (SELECT account_id, sum(amount) AS total
                       FROM ledger_entries GROUP BY account_id) s ON s.account_id = a.id
         WHERE a.balance <> coalesce(s.total, 0)
         ORDER BY a.id
        """
    ).fetchall()
    return [Mismatch(*row) for row in rows]
