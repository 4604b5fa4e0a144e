"""The one refund of an unused advance charge.

An AT_START charge is posted at the start of the span it pays for, priced for the span as
known then. When the span is cut short later (a tariff change ends the assignment, a
self-suspension stops the service), the part after the cut is returned: the charge is
priced again over the span as it now ends, by the tick's own rule (the cumulative rule
over the period's local day units, ``charging.schedule``), and the difference is posted
back (kind ``refund_periodic``, key ``periodic_cut:{charge entry id}``). So the account
keeps exactly its piece of the period, as if the cut had been known when it was charged,
and the kept piece plus what is charged after a resume add up as a split period does.

The key names the charge, not the cause: whichever cut comes first returns a charge,
once. The return is never more than was charged and never negative, and it carries the
charge's assignment and period, so package fill-up and coverage see the net.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from billing.charging.schedule import day_bounds_of_period

# AT_START charges of the given assignments that paid beyond their cut (``to`` is the end
# of the span the charge was priced for). The range on effective_at keeps the ledger
# lookup on its (account_id, effective_at) index.
_ADVANCE_CHARGES = """
    FROM unnest(%(assignments)s::bigint[], %(cuts)s::timestamptz[]) AS x(assignment_id, cut_at)
    JOIN account_tariffs t ON t.id = x.assignment_id
    JOIN ledger_entries e
      ON e.account_id = t.account_id
     AND e.effective_at >= t.assigned_at AND e.effective_at <= x.cut_at
     AND e.kind = 'charge_periodic'
     AND e.details->>'method' = 'AT_START'
     AND (e.details->>'assignment_id')::bigint = x.assignment_id
     AND (e.details->>'to')::timestamptz > x.cut_at
"""

_RETURN = """
    WITH periods AS MATERIALIZED (
        SELECT period_start, period_end, bounds::timestamptz[] AS bounds
          FROM unnest(%(starts)s::timestamptz[], %(ends)s::timestamptz[], %(bounds)s::text[])
               AS p(period_start, period_end, bounds)
    ),
    charged AS MATERIALIZED (
        SELECT e.id, e.account_id, -e.amount AS charged, s.cost, s.id AS service_id,
               s.name, x.assignment_id, x.cut_at, e.details->>'period_start' AS period_start,
               e.details->>'period_end' AS period_end,
               (e.details->>'from')::timestamptz AS piece_from, p.bounds
          {advance}
          JOIN periodic_services s ON s.id = (e.details->>'service_id')::integer
          JOIN periods p ON p.period_start = (e.details->>'period_start')::timestamptz
                        AND p.period_end = (e.details->>'period_end')::timestamptz
    ),
    priced AS MATERIALIZED (
        SELECT c.*, greatest(0, least(c.charged, c.charged - ebs_period_piece(
                   c.cost, c.piece_from, c.cut_at, c.bounds))) AS unused
          FROM charged c
    ),
    returned AS (
        INSERT INTO ledger_entries (account_id, kind, amount, idempotency_key, effective_at,
                                    description, details)
        SELECT account_id, 'refund_periodic', unused, 'periodic_cut:' || id, cut_at,
               name || %(note)s,
               jsonb_build_object('refunds', id, 'service_id', service_id,
                                  'assignment_id', assignment_id, 'period_start', period_start,
                                  'period_end', period_end, 'from', piece_from, 'to', cut_at)
                   || %(details)s::jsonb
          FROM priced
         WHERE unused > 0
         ORDER BY account_id
        ON CONFLICT (idempotency_key) DO NOTHING
        RETURNING amount
    )
    SELECT count(*), coalesce(sum(amount), 0) FROM returned
"""


def return_unused(
    conn: psycopg.Connection,
    cuts: Sequence[tuple[int, datetime]],
    tz: ZoneInfo,
    *,
    note: str = "",
    details: Mapping[str, Any] | None = None,
) -> Decimal:
    """Return the part after each cut of the AT_START charges of assignments cut short.

    ``cuts`` are (assignment id, cut moment) pairs; ``note`` is added to each entry's
    description and ``details`` to its details (say why it was cut). The service's current
    cost prices the kept piece. Day bounds of each period come from the same pure function
    the tick uses; the pricing itself is one statement for every cut. Runs in the caller's
    transaction; returns the sum returned.
    """
    if not cuts:
        return Decimal("0.00")
    params: dict[str, Any] = {"assignments": [c[0] for c in cuts], "cuts": [c[1] for c in cuts]}
    periods = conn.execute(
        "SELECT DISTINCT (e.details->>'period_start')::timestamptz,"
        " (e.details->>'period_end')::timestamptz " + _ADVANCE_CHARGES, params
    ).fetchall()
    if not periods:
        return Decimal("0.00")
    bounds = [day_bounds_of_period(ps, pe, tz) for ps, pe in periods]
    params |= {
        "starts": [p[0] for p in periods],
        "ends": [p[1] for p in periods],
        "bounds": ["{" + ",".join(f'"{b.isoformat()}"' for b in bs) + "}" for bs in bounds],
        "note": f": {note}" if note else "",
        "details": json.dumps(dict(details or {}), default=str),
    }
    _, amount = conn.execute(_RETURN.format(advance=_ADVANCE_CHARGES), params).fetchone()
    return Decimal(amount)
