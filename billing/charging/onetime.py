"""One-time services: charged once per tariff assignment, postponed while the account has
no money (balance + credit <= 0) and charged by the first tick after it has some."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import psycopg

_INSERT = """
    WITH inserted AS (
        INSERT INTO ledger_entries
            (account_id, kind, amount, idempotency_key, effective_at, description, details)
        SELECT s.account_id, 'charge_onetime', -o.cost,
               format('onetime:%%s:%%s', o.id, s.assignment_id), %(at)s, o.name,
               jsonb_build_object('service_id', o.id, 'service', o.name,
                                  'assignment_id', s.assignment_id)
          FROM charge_spans s
          JOIN onetime_services o ON o.tariff_id = s.tariff_id
          JOIN accounts a ON a.id = s.account_id
         WHERE s.account_id BETWEEN %(first)s AND %(last)s
           AND s.ended_at > %(at)s
           AND o.cost > 0
           AND a.balance + a.credit > 0
         ORDER BY s.account_id, o.id
        ON CONFLICT (idempotency_key) DO NOTHING
        RETURNING amount
    )
    SELECT count(*), coalesce(sum(amount), 0) FROM inserted
"""


def charge_chunk(
    conn: psycopg.Connection, *, first_account: int, last_account: int, at: datetime
) -> tuple[int, Decimal]:
    """Charge the due one-time services of the current assignments of accounts
    [first, last] (spans from ``charge_spans``); returns (entries, sum) new."""
    count, total = conn.execute(
        _INSERT, {"first": first_account, "last": last_account, "at": at}
    ).fetchone()
    return count, -total
