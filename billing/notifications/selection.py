"""Whom a mailing goes to: one subscriber, a group chosen on the accounts list, or a
filtered selection (the tariff in force, the status, a balance range, a NAS its
subaccounts use), kept in the batch's ``selection`` column as JSON so the batch can be
walked again after an interruption and read back on its page.

The selection is walked by account id (a keyset, never OFFSET), a chunk at a time, so a
mailing to half a million accounts holds no list of them in memory and each chunk is one
indexed range scan.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from decimal import Decimal

import psycopg

from billing.assignments import in_force

STATUSES = ("active", "inactive_charged", "inactive_uncharged", "suspended")


@dataclass(frozen=True)
class Selection:
    account_ids: tuple[int, ...] = field(default=())
    tariff_id: int | None = None
    status: str | None = None
    balance_from: Decimal | None = None
    balance_to: Decimal | None = None
    nas_id: int | None = None

    def as_json(self) -> dict:
        """The non-empty conditions, money as text (JSON has no exact decimal)."""
        out = {}
        for key, value in asdict(self).items():
            if value in (None, (), []):
                continue
            out[key] = str(value) if isinstance(value, Decimal) else (
                list(value) if isinstance(value, tuple) else value)
        return out

    @classmethod
    def from_json(cls, data: dict) -> Selection:
        money = {k: Decimal(data[k]) for k in ("balance_from", "balance_to") if k in data}
        return cls(account_ids=tuple(int(i) for i in data.get("account_ids", ())),
                   tariff_id=data.get("tariff_id"), status=data.get("status"),
                   nas_id=data.get("nas_id"), **money)


def _where(selection: Selection) -> tuple[str, dict]:
    """The conditions on ``accounts a`` and their parameters (each one only when set)."""
    clauses, params = ["TRUE"], {}
    if selection.account_ids:
        clauses.append("a.id = ANY(%(ids)s)")
        params["ids"] = list(selection.account_ids)
    if selection.status is not None:
        clauses.append("a.status = %(status)s")
        params["status"] = selection.status
    if selection.balance_from is not None:
        clauses.append("a.balance >= %(balance_from)s")
        params["balance_from"] = selection.balance_from
    if selection.balance_to is not None:
        clauses.append("a.balance <= %(balance_to)s")
        params["balance_to"] = selection.balance_to
    if selection.tariff_id is not None:
        clauses.append(f"({in_force('a.id', 'now()', columns='t.tariff_id')})"
                       " = %(tariff_id)s")
        params["tariff_id"] = selection.tariff_id
    if selection.nas_id is not None:
        clauses.append("EXISTS (SELECT 1 FROM subaccounts s"
                       " WHERE s.account_id = a.id AND s.nas_id = %(nas_id)s)")
        params["nas_id"] = selection.nas_id
    return " AND ".join(clauses), params


def count(conn: psycopg.Connection, selection: Selection) -> int:
    where, params = _where(selection)
    return conn.execute(f"SELECT count(*) FROM accounts a WHERE {where}", params).fetchone()[0]


def chunk(conn: psycopg.Connection, selection: Selection, after_id: int,
          limit: int) -> list[int]:
    """The next ``limit`` account ids of the selection above ``after_id``, in order."""
    where, params = _where(selection)
    rows = conn.execute(
        f"SELECT a.id FROM accounts a WHERE a.id > %(after)s AND {where}"
        " ORDER BY a.id LIMIT %(limit)s", {**params, "after": after_id, "limit": limit})
    return [r[0] for r in rows]
