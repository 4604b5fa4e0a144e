"""The calendar of usage rating, shared by every source (the collector's bins, RADIUS
counters, time online): the settlement periods a run's usage falls in and the price in
force at each of its minutes, computed in Python once per period and per price list and
minute, and copied into temporary tables the set-based statements join.

The caller's rows table (a temporary table of the run) carries ``bin`` (the minute of the
usage), ``period_key`` ('a<assignment>' for an autostart period, 's<settlement period>'
for a fixed one every account shares, 's0' for the calendar month of a tariff without
one), ``settlement_period_id`` and ``assigned_at``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable
from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import psycopg
from psycopg import sql

from billing.periods import SettlementPeriod
from billing.time_windows import TimeNode
from billing.traffic_pricing import TrafficPrice, price_at, usage_periods

MINUTE = timedelta(minutes=1)

__all__ = ["MINUTE", "fill_periods", "fill_prices", "price_lists"]


def fill_periods(conn: psycopg.Connection, tz: ZoneInfo, rows: str, periods: str) -> None:
    """Create the temporary table ``periods`` (period_key, period_start, period_end) with
    the settlement periods the minutes of ``rows`` fall in: once per fixed-anchor period,
    once per assignment for autostart periods."""
    conn.execute(sql.SQL(
        "CREATE TEMP TABLE {} (period_key text, period_start timestamptz,"
        " period_end timestamptz) ON COMMIT DROP").format(sql.Identifier(periods)))
    spans = conn.execute(sql.SQL(
        """
        SELECT u.period_key, sp.unit, sp.length_seconds, sp.anchor, sp.autostart,
               min(u.assigned_at), min(u.bin), max(u.bin)
          FROM {} u
          LEFT JOIN settlement_periods sp ON sp.id = u.settlement_period_id
         GROUP BY 1, 2, 3, 4, 5
        """).format(sql.Identifier(rows))).fetchall()
    with conn.cursor().copy(sql.SQL(
            "COPY {} (period_key, period_start, period_end) FROM STDIN").format(
            sql.Identifier(periods))) as copy:
        for key, unit, length, anchor, autostart, assigned_at, lo, hi in spans:
            period = None if unit is None else SettlementPeriod(unit, length, anchor, autostart)
            for start, end in usage_periods(period, lo, hi + MINUTE, tz, assigned_at):
                copy.write_row((key, start, end))
    conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(periods)))


def price_lists(
    rows: Iterable[tuple],
) -> dict[Hashable, list[TrafficPrice]]:
    """Price lists by key from rows of (key, price id, price, time period id, node
    starts_at, length, repeat, name), one row per node (node fields NULL for a price
    without a time period). A time period without nodes is never in force."""
    nodes: dict[tuple, list[TimeNode]] = defaultdict(list)
    lists: dict[Hashable, dict[int, tuple[Decimal, int | None]]] = defaultdict(dict)
    for key, price_id, price, period_id, starts, length, repeat, name in rows:
        lists[key][price_id] = (price, period_id)
        if starts is not None:
            nodes[key, price_id].append(TimeNode(starts, length, repeat, name))
    return {
        key: [TrafficPrice(price, None if period_id is None else tuple(nodes[key, price_id]))
              for price_id, (price, period_id) in by_id.items()]
        for key, by_id in lists.items()
    }


def fill_prices(
    conn: psycopg.Connection,
    tz: ZoneInfo,
    lists: dict[Hashable, list[TrafficPrice]],
    bins: Iterable,
    table: str,
    key_columns: tuple[str, ...],
) -> None:
    """Create the temporary table ``table`` (key columns as integers, bin, price) with the
    price in force of each list at each of ``bins``; a key is a tuple of the key
    columns' values."""
    columns = [sql.SQL("{} integer").format(sql.Identifier(c)) for c in key_columns]
    conn.execute(sql.SQL(
        "CREATE TEMP TABLE {} ({}, bin timestamptz, price numeric) ON COMMIT DROP").format(
        sql.Identifier(table), sql.SQL(", ").join(columns)))
    bins = list(bins)
    names = sql.SQL(", ").join(sql.Identifier(c) for c in (*key_columns, "bin", "price"))
    with conn.cursor().copy(sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(table), names)) as copy:
        for key, prices in lists.items():
            for at in bins:
                copy.write_row((*key, at, price_at(prices, at, tz)))
    conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table)))
