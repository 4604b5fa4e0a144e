"""An account's row with its tariff in force beside it, as the cashier's and the account
actions' pages show it. Which assignment is in force is billing's rule
(``billing.assignments.current_tariff``); a view only asks it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import TextClause

from billing.assignments import current_tariff
from webapp.views.ledger import raw_connection


def account_with_tariff(db, query: TextClause, account_id: int) -> dict[str, Any] | None:
    """``query``'s row for ``account_id`` (None when there is none) with ``tariff_id``,
    ``tariff_name`` and ``assigned_at`` of the assignment in force now (None when the
    account has no tariff yet)."""
    row = db.execute(query, {"id": account_id}).mappings().first()
    if row is None:
        return None
    cur = current_tariff(raw_connection(db), account_id)
    return {**row,
            "tariff_id": cur.tariff_id if cur else None,
            "tariff_name": cur.tariff_name if cur else None,
            "assigned_at": cur.assigned_at if cur else None}
