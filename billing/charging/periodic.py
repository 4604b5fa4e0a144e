"""Periodic charges as set-based SQL: one INSERT per (service, chunk of accounts).

The calendar of a service (periods, GRADUAL steps, day bounds) is computed once in Python
by ``schedule.calendar`` and copied to a temporary table; one statement joins it with the
tick's assignment spans (``charge_spans``, built by ``tick``) and inserts every due charge.
The ledger trigger then moves all the touched balances in one UPDATE.

A tick's window holds only charges not yet due at the last finished tick, so a chunk
normally conflicts with nothing: it is first inserted plainly (``guarded=False``), which
skips the speculative insertion ``ON CONFLICT`` costs per row. The unique key still
guards every row; if a killed or concurrent tick already wrote some of them, the insert
fails as a whole and the tick redoes the chunk with ``ON CONFLICT (idempotency_key) DO
NOTHING`` (``guarded=True``).

Fixed-anchor periods share one calendar for all accounts of a service. Autostart periods
start at each assignment, so their calendar rows carry the assignment id: computed per
assignment in Python (periods.py owns the calendar rules; a SQL re-implementation would
be a second copy of them) but still inserted by the same single statement per chunk.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import psycopg

from billing.charging.schedule import CalendarRow, ChargeMethod, calendar
from billing.periods import SettlementPeriod

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# The condition compares balance + credit with condition_sum; operators from a whitelist.
CONDITIONS = {"ALWAYS": None, "LT": "<", "LE": "<=", "EQ": "=", "GE": ">=", "GT": ">"}


@dataclass(frozen=True, slots=True)
class PeriodicService:
    id: int
    tariff_id: int
    name: str
    period: SettlementPeriod
    cost: Decimal
    method: ChargeMethod
    charges_per_day: int
    condition: str
    condition_sum: Decimal
    active_from: datetime | None
    active_until: datetime | None


def load_services(
    conn: psycopg.Connection, tariff_id: int | None = None
) -> list[PeriodicService]:
    """The services that charge (cost > 0): every tariff's, or one tariff's (the
    forecast of one account asks for its tariff's only)."""
    rows = conn.execute(
        """
        SELECT s.id, s.tariff_id, s.name, p.unit, p.length_seconds, p.anchor, p.autostart,
               s.cost, s.charge_method, s.charges_per_day, s.condition, s.condition_sum,
               s.active_from, s.active_until
          FROM periodic_services s JOIN settlement_periods p ON p.id = s.settlement_period_id
         WHERE s.cost > 0 AND (%(tariff)s::integer IS NULL OR s.tariff_id = %(tariff)s)
         ORDER BY s.id
        """,
        {"tariff": tariff_id},
    ).fetchall()
    return [
        PeriodicService(
            id=r[0], tariff_id=r[1], name=r[2],
            period=SettlementPeriod(r[3], r[4], r[5], r[6]),
            cost=r[7], method=ChargeMethod(r[8]), charges_per_day=r[9], condition=r[10],
            condition_sum=r[11], active_from=r[12], active_until=r[13],
        )
        for r in rows
    ]


_CALENDAR_TABLE = """
    CREATE TEMP TABLE IF NOT EXISTS charge_calendar (
        service_id integer, assignment_id bigint, period_start timestamptz, period_end timestamptz,
        bounds timestamptz[], step integer, steps integer, step_start timestamptz,
        step_amount numeric(14, 2), key_suffix text, period_label jsonb
    )
"""


def fill_calendar(
    conn: psycopg.Connection,
    rows: Iterable[tuple[int, int | None, CalendarRow]],
    analyze: bool = True,
) -> int:
    """Replace the temporary calendar with ``rows``: (service id, assignment id or None for
    a calendar shared by all accounts, row)."""
    conn.execute(_CALENDAR_TABLE)
    conn.execute("DELETE FROM charge_calendar")
    count = 0
    with conn.cursor().copy(
        "COPY charge_calendar (service_id, assignment_id, period_start, period_end, bounds,"
        " step, steps, step_start, step_amount, key_suffix, period_label) FROM STDIN"
    ) as copy:
        for service_id, assignment_id, r in rows:
            # The per-row text of the key and details is made here once per calendar row,
            # not by SQL once per account.
            label = json.dumps({"period_start": r.period_start.isoformat(),
                                "period_end": r.period_end.isoformat(),
                                "step": r.step, "steps": r.steps})
            epoch = (r.period_start - _EPOCH) // timedelta(seconds=1)
            copy.write_row((service_id, assignment_id, r.period_start, r.period_end,
                            list(r.bounds), r.step, r.steps, r.step_start, r.step_amount,
                            f":{epoch}:{r.step}", label))
            count += 1
    conn.execute("CREATE INDEX IF NOT EXISTS charge_calendar_idx"
                 " ON charge_calendar (service_id, assignment_id)")
    if analyze:
        conn.execute("ANALYZE charge_calendar")
    return count


def shared_calendar(
    service: PeriodicService, start: datetime, at: datetime, tz: ZoneInfo
) -> list[tuple[int, None, CalendarRow]]:
    """The fixed-anchor calendar of a service over [start, at], for every account."""
    return [
        (service.id, None, row)
        for row in calendar(service.period, service.method, service.cost,
                            service.charges_per_day, start, at, tz)
    ]


def autostart_calendar(
    conn: psycopg.Connection,
    service: PeriodicService,
    after: datetime | None,
    at: datetime,
    tz: ZoneInfo,
) -> list[tuple[int, int, CalendarRow]]:
    """Calendars of every span of the service's tariff, each from its own assignment."""
    # A suspension cuts an assignment into parts; its series still runs from assigned_at.
    spans = conn.execute(
        "SELECT assignment_id, assigned_at, min(started_at) FROM charge_spans"
        " WHERE tariff_id = %s GROUP BY 1, 2",
        (service.tariff_id,),
    ).fetchall()
    rows: list[tuple[int, int, CalendarRow]] = []
    for assignment_id, assigned_at, started_at in spans:
        start = started_at if after is None else max(started_at, after)
        if service.active_from is not None:
            start = max(start, service.active_from)
        if start > at:
            continue
        rows.extend(
            (service.id, assignment_id, row)
            for row in calendar(service.period, service.method, service.cost,
                                service.charges_per_day, start, at, tz, assigned_at)
        )
    return rows


# Every candidate (span × calendar row) with a = start and b = end of the covered part.
_CANDIDATES = """
    SELECT s.account_id, s.assignment_id, s.key_tag, c.period_start, c.period_end, c.bounds, c.step,
           c.steps, c.step_start, c.step_amount, c.key_suffix, c.period_label,
           greatest(s.started_at, c.period_start, %(active_from)s) AS a,
           least(s.ended_at, c.period_end, %(active_until)s) AS b
      FROM charge_spans s
      JOIN charge_calendar c ON c.service_id = %(service_id)s AND {join}
     WHERE s.tariff_id = %(tariff_id)s
       AND s.account_id BETWEEN %(first)s AND %(last)s
       AND {condition}
"""

_DUE = {
    ChargeMethod.GRADUAL: ("x.step_start", "x.step_amount",
                           "x.step_start >= x.a AND x.step_start < x.b"),
    ChargeMethod.AT_START: ("x.a", _PIECE := "ebs_period_piece(%(cost)s, x.a, x.b, x.bounds)",
                            "x.a < x.b"),
    ChargeMethod.AT_END: ("x.b", _PIECE, "x.a < x.b"),
}

_INSERT = """
    WITH x AS ({candidates}),
    due AS (
        SELECT x.*, {due} AS due, {amount} AS amount FROM x WHERE {covered}
    ),
    inserted AS (
        INSERT INTO ledger_entries
            (account_id, kind, amount, idempotency_key, effective_at, description, details)
        SELECT account_id, 'charge_periodic', -amount,
               %(key_prefix)s || assignment_id || key_tag || key_suffix,
               due, %(name)s,
               %(service_details)s::jsonb || period_label
                   || jsonb_build_object('assignment_id', assignment_id){piece_details}
          FROM due
         WHERE due > %(after)s AND due <= %(at)s AND amount <> 0
         ORDER BY account_id, due, step
        {on_conflict}
        RETURNING amount
    )
    SELECT count(*), coalesce(sum(amount), 0) FROM inserted
"""


def charge_chunk(
    conn: psycopg.Connection,
    service: PeriodicService,
    *,
    autostart: bool,
    first_account: int,
    last_account: int,
    after: datetime | None,
    at: datetime,
    guarded: bool = True,
) -> tuple[int, Decimal]:
    """Insert the service's due charges for accounts [first, last]; (entries, sum) new.

    Unguarded, a charge already in the ledger raises ``psycopg.errors.UniqueViolation``
    (and aborts the caller's transaction) instead of being skipped."""
    op = CONDITIONS[service.condition]
    condition = "true" if op is None else f"s.condition_balance {op} %(condition_sum)s"
    join = "c.assignment_id = s.assignment_id" if autostart else "c.assignment_id IS NULL"
    due, amount, covered = _DUE[service.method]
    piece_details = (
        "" if service.method is ChargeMethod.GRADUAL
        else " || jsonb_build_object('from', a, 'to', b)"
    )
    sql = _INSERT.format(
        candidates=_CANDIDATES.format(join=join, condition=condition),
        due=due, amount=amount, covered=covered, piece_details=piece_details,
        on_conflict="ON CONFLICT (idempotency_key) DO NOTHING" if guarded else "",
    )
    params = {
        "active_from": service.active_from or datetime.min.replace(tzinfo=at.tzinfo),
        "active_until": service.active_until or datetime.max.replace(tzinfo=at.tzinfo),
        "tariff_id": service.tariff_id,
        "first": first_account,
        "last": last_account,
        "condition_sum": service.condition_sum,
        "cost": service.cost,
        "service_id": service.id,
        "name": service.name,
        "key_prefix": f"periodic:{service.id}:",
        "service_details": json.dumps({"service_id": service.id, "service": service.name,
                                       "method": str(service.method)}),
        "after": after if after is not None else datetime.min.replace(tzinfo=at.tzinfo),
        "at": at,
    }
    count, total = conn.execute(sql, params).fetchone()
    return count, -total
