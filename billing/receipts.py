"""A receipt: one ledger entry as the subscriber was handed it, the same on every reprint.

The balance a receipt shows is the balance right after its entry, counted from the
ledger: the account's entries up to and including this one in posting order (by id, the
order the balance trigger applied them), not by effective time. A payment posted later,
a reversal of this very entry or a charge backdated to an earlier moment all come after
it in that order, so they change today's balance but never the receipt. A reversal
posted since is reported beside the receipt, which itself stays as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import psycopg
from psycopg.rows import class_row

_RECEIPT = """
    SELECT e.id, e.account_id, e.effective_at, e.kind, e.amount, e.description,
           a.contract, a.full_name, a.street, a.house, a.flat,
           u.username, u.first_name, u.last_name,
           (SELECT coalesce(sum(p.amount), 0) FROM ledger_entries p
             WHERE p.account_id = e.account_id AND p.id <= e.id) AS balance_after,
           r.id AS reversed_by, r.effective_at AS reversed_at
      FROM ledger_entries e
      JOIN accounts a ON a.id = e.account_id
      LEFT JOIN ab_user u ON u.id = e.staff_user_id
      LEFT JOIN ledger_entries r ON r.reverses_id = e.id
     WHERE e.id = %s
"""


@dataclass(frozen=True)
class Receipt:
    id: int
    account_id: int
    effective_at: datetime
    kind: str
    amount: Decimal
    description: str
    contract: str
    full_name: str | None
    street: str | None
    house: str | None
    flat: str | None
    username: str | None
    first_name: str | None
    last_name: str | None
    balance_after: Decimal
    reversed_by: int | None
    reversed_at: datetime | None


def receipt(conn: psycopg.Connection, entry_id: int) -> Receipt | None:
    """The receipt of ledger entry ``entry_id``; None when there is no such entry."""
    with conn.cursor(row_factory=class_row(Receipt)) as cur:
        return cur.execute(_RECEIPT, (entry_id,)).fetchone()
