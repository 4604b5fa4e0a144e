"""Charging metered usage (traffic per MB, time per minute): one rule for every kind.

A run's usage is staged per usage key (account, assignment and, for traffic, the group)
and settlement period; each period has one usage row (``traffic_usage``,
``time_usage``). The row grants the tariff's prepaid allowance for the period (the local
days' share of an assignment's first period when prorated, as
``billing.periods.local_days`` counts them, plus the unused rest of the period before
with rollover), and the allowance is consumed first, in minute order, even inside one
minute: a minute bills only what its running total takes past the allowance. The billed
part is priced at the price in force at its minute (``billing.usage_calendar``).

Cost accumulates in the row at full precision (NUMERIC, exact), and each posting is the
change of the rounded cumulative total (DESIGN.md): thousands of tiny minutes lose
nothing and create no phantom kopecks. A posting's idempotency key is
``<prefix>:<usage row>:<posting number>``, both moved by the same statement that inserts
the entry; a key met twice would mean the usage and the ledger parted, so it fails the
run (no ON CONFLICT) rather than skip a posting.

What differs between kinds (tables, key columns, quantity, how cost becomes money, the
entry's kind, description and details) is a ``MeteredUsage``; its names and SQL
fragments are fixed in code, never taken from input. The caller creates the run's rows
table (``MeteredUsage.rows``: bin, the usage key columns, the quantity, tariff_id,
assigned_at, settlement_period_id, period_key as ``billing.usage_calendar`` reads them)
and calls ``charge``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

import psycopg
from psycopg import sql

from billing.usage_calendar import fill_periods, fill_prices, price_lists

__all__ = ["MeteredUsage", "Posted", "charge", "fill_usage_prices", "posted_entries"]


@dataclass(frozen=True)
class MeteredUsage:
    """One kind of metered usage: the names and SQL fragments the shared statements are
    rendered with, so a rule changed there holds for traffic and time alike."""

    temp: str
    """Prefix of the run's temporary tables: ``<temp>_rows`` (the caller's),
    ``_periods``, ``_prices``, ``_staged``."""
    usage: str
    """The usage table: one row per usage key and settlement period."""
    by: tuple[str, ...]
    """Columns that split an account's usage besides its assignment (the traffic group);
    prices and allowances are per tariff and these."""
    quantity: str
    """The rows' quantity column (bytes, seconds); the usage table keeps
    prepaid_<quantity>, used_<quantity> and billed_<quantity>."""
    prices: str
    """The price table (per tariff and ``by``, with an optional time period)."""
    price: str
    """Its price column."""
    allowances: str
    """The table of prepaid allowances (with prorate_first_period and rollover)."""
    allowance: sql.SQL
    """A period's whole allowance in the quantity's unit, from ``q`` (the allowance)."""
    cost_column: str
    """The usage table's full-precision cost."""
    cost: sql.SQL
    """The cost of ``{}`` (the sum of billed quantity x price) in cost_column's unit."""
    money: sql.SQL
    """``{}`` (a cost) in money, before rounding to the kopeck."""
    kind: str
    """The ledger entry's kind."""
    key_prefix: str
    """The idempotency key's first part."""
    names: sql.SQL
    """Joins the posted usage ``m`` to what names the entry."""
    description: sql.SQL
    """The entry's description, from those joins."""
    params: Mapping[str, object] = field(default_factory=dict)
    """The constants the fragments name as %(name)s."""

    @property
    def rows(self) -> str:
        return f"{self.temp}_rows"

    @property
    def periods_table(self) -> str:
        return f"{self.temp}_periods"

    @property
    def prices_table(self) -> str:
        return f"{self.temp}_prices"

    @property
    def staged(self) -> str:
        return f"{self.temp}_staged"

    @property
    def keys(self) -> tuple[str, ...]:
        return ("account_id", *self.by, "assignment_id")

    @property
    def price_keys(self) -> tuple[str, ...]:
        return ("tariff_id", *self.by)


@dataclass(frozen=True, slots=True)
class Posted:
    """A run's entries, the money they charged (positive) and the quantity rated."""

    entries: int = 0
    amount: Decimal = Decimal(0)
    used: Decimal = Decimal(0)


def _names(columns: Iterable[str], alias: str | None = None) -> sql.Composed:
    return sql.SQL(", ").join(
        sql.Identifier(c) if alias is None else sql.Identifier(alias, c) for c in columns)


def _match(left: str, right: str, columns: Iterable[str]) -> sql.Composed:
    return sql.SQL(" AND ").join(
        sql.SQL("{} = {}").format(sql.Identifier(left, c), sql.Identifier(right, c))
        for c in columns)


def _slots(usage: MeteredUsage) -> dict[str, sql.Composable]:
    """The identifiers every statement's template names."""
    q = usage.quantity
    return {
        "usage": sql.Identifier(usage.usage), "rows": sql.Identifier(usage.rows),
        "periods": sql.Identifier(usage.periods_table),
        "prices": sql.Identifier(usage.prices_table),
        "staged": sql.Identifier(usage.staged), "quantity": sql.Identifier(q),
        "prepaid": sql.Identifier(f"prepaid_{q}"), "used": sql.Identifier(f"used_{q}"),
        "billed": sql.Identifier(f"billed_{q}"), "cost": sql.Identifier(usage.cost_column),
        "keys": _names(usage.keys),
    }


# Each row with its period; stage numbers a key's periods in this run, so a period's
# usage is complete before the next one's row reads it for rollover.
_STAGED = """
    CREATE TEMP TABLE {staged} ON COMMIT DROP AS
    SELECT r.*, p.period_start, p.period_end,
           dense_rank() OVER (PARTITION BY {r_keys} ORDER BY p.period_start) AS stage
      FROM {rows} r
      JOIN {periods} p
        ON p.period_key = r.period_key
       AND r.bin >= p.period_start AND r.bin < p.period_end
"""

# A period's row: the allowance in whole units, the first period's share when prorated,
# plus the unused rest of the period just before, with rollover.
_OPEN_USAGE = """
    INSERT INTO {usage} ({keys}, period_start, period_end, {prepaid})
    SELECT {k_keys}, k.period_start, k.period_end,
           coalesce(round({allowance}
                    * CASE WHEN q.prorate_first_period AND k.assigned_at > k.period_start
                           THEN (k.period_end AT TIME ZONE %(tz)s)::date
                                - (k.assigned_at AT TIME ZONE %(tz)s)::date
                           ELSE 1 END
                    / CASE WHEN q.prorate_first_period AND k.assigned_at > k.period_start
                           THEN greatest((k.period_end AT TIME ZONE %(tz)s)::date
                                         - (k.period_start AT TIME ZONE %(tz)s)::date, 1)
                           ELSE 1 END), 0)
           + coalesce(rest.quantity, 0)
      FROM (SELECT DISTINCT {keys}, tariff_id, assigned_at, period_start, period_end
              FROM {staged} WHERE stage = %(stage)s) k
      LEFT JOIN {allowances} q ON {q_match}
      LEFT JOIN LATERAL (
            SELECT greatest(prev.{prepaid} - prev.{used}, 0) AS quantity
              FROM {usage} prev
             WHERE {prev_match} AND prev.period_end = k.period_start
      ) rest ON q.rollover
    ON CONFLICT ({keys}, period_start) DO NOTHING
"""

# The stage's rows in minute order: the allowance first, the rest priced; the row's cost
# and rounded total move, and the change of the total is posted in the same statement.
_CHARGE = """
    WITH d AS (
        SELECT u.id AS usage_id, s.bin, s.{quantity}, coalesce(p.price, 0) AS price,
               u.{prepaid} AS prepaid,
               u.{used} + sum(s.{quantity}) OVER (PARTITION BY u.id ORDER BY s.bin)
                   AS after
          FROM {staged} s
          JOIN {usage} u ON {u_match} AND u.period_start = s.period_start
          LEFT JOIN {prices} p ON {p_match} AND p.bin = s.bin
         WHERE s.stage = %(stage)s
    ),
    billed AS (
        SELECT usage_id, bin, {quantity}, price,
               greatest(after - prepaid, 0) - greatest(after - {quantity} - prepaid, 0)
                   AS billed
          FROM d
    ),
    totals AS (
        SELECT b.usage_id, sum(b.{quantity}) AS used, sum(b.billed) AS billed,
               {accrued} AS {cost},
               round({accrued_money}, 2) AS charged,
               u.charged AS was_charged, max(b.bin) + interval '1 minute' AS usage_end
          FROM billed b JOIN {usage} u ON u.id = b.usage_id
         GROUP BY b.usage_id, u.{cost}, u.charged
    ),
    moved AS (
        UPDATE {usage} u
           SET {used} = u.{used} + t.used,
               {billed} = u.{billed} + t.billed,
               {cost} = t.{cost},
               charged = t.charged,
               postings = u.postings + (t.charged <> t.was_charged)::int
          FROM totals t
         WHERE u.id = t.usage_id
        RETURNING u.id, {u_keys}, u.period_start, u.period_end, u.postings,
                  u.{used}, u.{billed}, t.charged - t.was_charged AS posting,
                  t.used, t.usage_end
    ),
    posted AS ({posted})
    SELECT (SELECT count(*) FROM posted), (SELECT coalesce(-sum(amount), 0) FROM posted),
           (SELECT coalesce(sum(used), 0) FROM moved)
"""

# One entry per moved usage row ``m`` whose rounded total changed by ``m.posting``.
_POSTED = """
        INSERT INTO ledger_entries
            (account_id, kind, amount, idempotency_key, effective_at, description, details)
        SELECT m.account_id, {kind}, -m.posting,
               {key_prefix} || m.id || ':' || m.postings, {effective_at}, {description},
               jsonb_build_object({details})
          FROM moved m {names}
         WHERE m.posting <> 0
         ORDER BY m.account_id, m.id
        RETURNING amount
"""

_PRICE_LISTS = """
    SELECT {p_keys}, p.id, p.{price}, p.time_period_id,
           n.starts_at, n.length, n.repeat, n.name
      FROM {prices} p
      LEFT JOIN time_period_nodes n ON n.time_period_id = p.time_period_id
     WHERE ({p_keys}) IN (SELECT DISTINCT {price_keys} FROM {rows})
     ORDER BY {p_keys}, p.id, n.id
"""


def _staged(usage: MeteredUsage) -> sql.Composed:
    return sql.SQL(_STAGED).format(**_slots(usage), r_keys=_names(usage.keys, "r"))


def _open_usage(usage: MeteredUsage) -> sql.Composed:
    return sql.SQL(_OPEN_USAGE).format(
        **_slots(usage), k_keys=_names(usage.keys, "k"), allowance=usage.allowance,
        allowances=sql.Identifier(usage.allowances),
        q_match=_match("q", "k", usage.price_keys), prev_match=_match("prev", "k", usage.keys))


def posted_entries(
    usage: MeteredUsage, effective_at: sql.Composable, *more: tuple[str, sql.Composable],
) -> sql.Composed:
    """The statement posting the usage rows a CTE ``moved`` returned as ``m`` (id, account
    id, assignment id or ``by``, period_start, period_end, postings, used and billed
    quantity, the change of the rounded total as ``posting``), at ``effective_at``, with
    ``more`` (name, value) pairs in the details; it returns each entry's amount."""
    q = usage.quantity
    details = [("usage_id", sql.SQL("m.id")),
               *((c, sql.Identifier("m", c)) for c in usage.by),
               ("period_start", sql.SQL("m.period_start")),
               ("period_end", sql.SQL("m.period_end")),
               (f"used_{q}", sql.Identifier("m", f"used_{q}")),
               (f"billed_{q}", sql.Identifier("m", f"billed_{q}")), *more]
    return sql.SQL(_POSTED).format(
        kind=sql.Literal(usage.kind), key_prefix=sql.Literal(f"{usage.key_prefix}:"),
        effective_at=effective_at, description=usage.description, names=usage.names,
        details=sql.SQL(", ").join(sql.SQL("{}, {}").format(sql.Literal(k), v)
                                   for k, v in details))


def _charge(usage: MeteredUsage) -> sql.Composed:
    slots = _slots(usage)
    accrued = sql.SQL("u.{} + {}").format(
        slots["cost"], usage.cost.format(sql.SQL("sum(b.billed * b.price)")))
    return sql.SQL(_CHARGE).format(
        **slots, u_match=_match("u", "s", usage.keys), p_match=_match("p", "s", usage.price_keys),
        accrued=accrued, accrued_money=usage.money.format(accrued),
        u_keys=_names(("account_id", "assignment_id", *usage.by), "u"),
        posted=posted_entries(usage, sql.SQL("m.usage_end")))


def fill_usage_prices(conn: psycopg.Connection, tz: ZoneInfo, usage: MeteredUsage) -> None:
    """The price of each (tariff, ``by``) of ``usage.rows`` at each of its minutes, in
    ``usage.prices_table``."""
    width = len(usage.price_keys)
    rows = conn.execute(sql.SQL(_PRICE_LISTS).format(
        p_keys=_names(usage.price_keys, "p"), price_keys=_names(usage.price_keys),
        price=sql.Identifier(usage.price), prices=sql.Identifier(usage.prices),
        rows=sql.Identifier(usage.rows))).fetchall()
    lists = price_lists((tuple(row[:width]), *row[width:]) for row in rows)
    bins = [r[0] for r in conn.execute(sql.SQL("SELECT DISTINCT bin FROM {} ORDER BY 1").format(
        sql.Identifier(usage.rows)))]
    fill_prices(conn, tz, lists, bins, usage.prices_table, usage.price_keys)


def charge(conn: psycopg.Connection, tz: ZoneInfo, usage: MeteredUsage) -> Posted:
    """Charge the run's ``usage.rows`` (created by the caller, inside its transaction):
    the periods and prices of its minutes, then each stage of periods in turn."""
    rows = sql.Identifier(usage.rows)
    if not conn.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(rows)).fetchone()[0]:
        return Posted()
    conn.execute(sql.SQL("ANALYZE {}").format(rows))
    fill_periods(conn, tz, usage.rows, usage.periods_table)
    fill_usage_prices(conn, tz, usage)
    conn.execute(_staged(usage))
    stages = conn.execute(sql.SQL("SELECT coalesce(max(stage), 0) FROM {}").format(
        sql.Identifier(usage.staged))).fetchone()[0]
    open_usage, charge_stage = _open_usage(usage), _charge(usage)
    entries, amount, used = 0, Decimal(0), Decimal(0)
    for stage in range(1, stages + 1):
        params = {**usage.params, "stage": stage, "tz": str(tz)}
        conn.execute(open_usage, params)
        count, total, rated = conn.execute(charge_stage, params).fetchone()
        entries, amount, used = entries + count, amount + total, used + rated
    return Posted(entries, amount, used)
