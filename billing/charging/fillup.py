"""Fill-up to package cost: at the end of each settlement period of a tariff with
``fill_up_to_package_cost``, an assignment whose periodic charges for that period came
to less than the package cost is charged the difference, once (key
``fillup:{assignment}:{period start epoch}``).

The package cost is prorated to the part of the period the assignment covered outside
suspensions (the parts of ``charge_spans`` after ``suspension.cut_spans``), so a first
partial period, a tariff change or a suspension owe their share, not the whole. The
charge is due at the period end, or at the assignment's end if it ends earlier. What
the period's charges "came to" is the net of its ``charge_periodic`` entries of that
assignment and the ``refund_periodic`` returns of their unused parts (a suspension, a
tariff change), whatever a balance condition let through: that is the
point of the rule ("despite the rules", as operators know it).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import psycopg

_INSERT = """
    WITH parts AS (
        SELECT s.account_id, s.assignment_id, c.period_start, c.period_end,
               least(s.assignment_ended_at, c.period_end) AS due,
               ebs_period_piece(t.package_cost, greatest(s.started_at, c.period_start),
                                least(s.ended_at, c.period_end), c.bounds) AS part
          FROM charge_spans s
          JOIN tariffs t ON t.id = s.tariff_id
                        AND t.fill_up_to_package_cost AND t.package_cost > 0
          JOIN package_calendar c ON c.tariff_id = s.tariff_id
               AND (c.assignment_id IS NULL OR c.assignment_id = s.assignment_id)
         WHERE s.account_id BETWEEN %(first)s AND %(last)s
           AND s.started_at < c.period_end AND s.ended_at > c.period_start
           AND least(s.assignment_ended_at, c.period_end) > %(after)s
           AND least(s.assignment_ended_at, c.period_end) <= %(at)s
    ),
    owed AS (
        SELECT account_id, assignment_id, period_start, period_end, due,
               sum(part) AS required
          FROM parts
         GROUP BY 1, 2, 3, 4, 5
    ),
    short AS (
        SELECT o.*, o.required + coalesce((
                   SELECT sum(e.amount) FROM ledger_entries e
                    WHERE e.account_id = o.account_id
                      AND e.kind IN ('charge_periodic', 'refund_periodic')
                      AND e.effective_at >= o.period_start AND e.effective_at <= o.due
                      AND (e.details->>'assignment_id')::bigint = o.assignment_id
                      AND (e.details->>'period_start')::timestamptz >= o.period_start
                      AND (e.details->>'period_start')::timestamptz < o.period_end), 0)
               AS missing
          FROM owed o
    ),
    inserted AS (
        INSERT INTO ledger_entries
            (account_id, kind, amount, idempotency_key, effective_at, description, details)
        SELECT account_id, 'charge_fill_up', -missing,
               'fillup:' || assignment_id || ':'
                   || (extract(epoch FROM period_start) * 1000000)::bigint,
               due, 'Fill-up to package cost',
               jsonb_build_object('assignment_id', assignment_id,
                                  'period_start', period_start, 'period_end', period_end,
                                  'package_share', required)
          FROM short
         WHERE missing > 0
         ORDER BY account_id
        ON CONFLICT (idempotency_key) DO NOTHING
        RETURNING amount
    )
    SELECT count(*), coalesce(sum(amount), 0) FROM inserted
"""


def charge_chunk(
    conn: psycopg.Connection,
    *,
    first_account: int,
    last_account: int,
    after: datetime | None,
    at: datetime,
) -> tuple[int, Decimal]:
    """Fill-ups due in (after, at] for accounts [first, last], after the chunk's periodic
    charges (same transaction); returns (entries, sum) new."""
    floor = after if after is not None else datetime.min.replace(tzinfo=at.tzinfo)
    count, total = conn.execute(
        _INSERT, {"first": first_account, "last": last_account, "after": floor, "at": at}
    ).fetchone()
    return count, -total
