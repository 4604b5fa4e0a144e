"""Re-rating: recompute traffic charges after a price fix, posting only the difference.

The ledger does not remember the price each bin was charged at, only each usage row's
cumulative cost (``traffic_usage``: account x group x assignment x settlement period). So
a usage row is recomputed whole: every bin of its period from ``traffic_group_bins``
(which keep each rated bin's group bytes for ``TRAFFIC_GROUP_BINS_KEEP_DAYS``), priced at
today's prices in force at each bin's time (the rater's price list), its prepaid
allowance consumed in bin order. The range asked for chooses the usage rows: those whose
period overlaps it.

Each row's new cost replaces the old one and the change of its rounded total is posted as
one ``charge_traffic`` entry (a debit for a price raised, a credit for one lowered), keyed
by the usage row and its posting number as the rater keys its own postings. A second
re-rate of the same fix finds nothing changed and posts nothing; a re-rate and a rating
run exclude each other by the rater's lock.

A row is left as it is, and counted, when the kept bins do not add up to its used bytes
(bins older than the kept ones, or rated from another source): a recomputation from part
of the usage would be wrong. A range whose periods begin before the kept bins is refused
as a whole, before anything is written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import psycopg
from psycopg import sql

from billing.errors import Refused
from billing.metered_usage import fill_usage_prices, posted_entries
from billing.traffic_pricing import BYTE_PRICE_FACTOR
from flow import locks
from flow.rater import SOURCE
from flow.rating import TRAFFIC

CHUNK = 1000
_ROWS_TABLE = sql.Identifier(TRAFFIC.rows)
_PRICES_TABLE = sql.Identifier(TRAFFIC.prices_table)
# The rater's entries, at the re-rate's moment, saying what the cost was and is.
_POSTED = posted_entries(
    TRAFFIC, sql.SQL("%(now)s"), ("rerate", sql.SQL("true")),
    ("cost_before", sql.SQL("m.was_cost")), ("cost_after", sql.SQL("m.cost")))

_USAGE_IDS = """
    SELECT id, period_start FROM traffic_usage
     WHERE period_start < %(end)s AND period_end > %(start)s
       AND (%(account)s::bigint IS NULL OR account_id = %(account)s)
     ORDER BY id
"""

_ROWS = """
    CREATE TEMP TABLE rerate_usage ON COMMIT DROP AS
    SELECT u.id, u.account_id, u.group_id, u.assignment_id, a.tariff_id, u.period_start,
           u.period_end, u.prepaid_bytes, u.used_bytes, u.billed_bytes, u.cost, u.charged
      FROM traffic_usage u JOIN account_tariffs a ON a.id = u.assignment_id
     WHERE u.id = ANY(%(ids)s)
"""

# Each kept bin of each usage row: the account's group bytes while the row's assignment
# was in force (the rater's rule, ebs_assignment_in_force at the bin).
_BINS = """
    CREATE TEMP TABLE rerate_bins ON COMMIT DROP AS
    SELECT r.id AS usage_id, r.tariff_id, r.group_id, b.bin,
           (b.bytes_in + b.bytes_out)::numeric AS bytes
      FROM rerate_usage r
      JOIN traffic_group_bins b
        ON b.account_id = r.account_id AND b.group_id = r.group_id
       AND b.bin >= r.period_start AND b.bin < r.period_end
     CROSS JOIN LATERAL ebs_assignment_in_force(r.account_id, b.bin) f
     WHERE f.id = r.assignment_id AND b.bytes_in + b.bytes_out <> 0
"""

# What the rater's price list is filled from: the (tariff, group, bin)s to price.
_PRICED = """
    CREATE TEMP TABLE {rows} ON COMMIT DROP AS
    SELECT DISTINCT tariff_id, group_id, bin FROM rerate_bins
"""

_RECOMPUTE = """
    WITH d AS (
        SELECT b.usage_id, b.bin, b.bytes, coalesce(p.price, 0) AS price,
               r.prepaid_bytes AS prepaid,
               sum(b.bytes) OVER (PARTITION BY b.usage_id ORDER BY b.bin) AS after
          FROM rerate_bins b
          JOIN rerate_usage r ON r.id = b.usage_id
          LEFT JOIN {prices} p
            ON p.tariff_id = b.tariff_id AND p.group_id = b.group_id AND p.bin = b.bin
    ),
    billed AS (
        SELECT usage_id, bytes, price,
               greatest(after - prepaid, 0) - greatest(after - bytes - prepaid, 0) AS billed
          FROM d
    ),
    totals AS (
        SELECT r.id, coalesce(sum(b.bytes), 0) AS used, coalesce(sum(b.billed), 0) AS billed,
               coalesce(sum(b.billed * b.price), 0) * %(factor)s AS cost
          FROM rerate_usage r LEFT JOIN billed b ON b.usage_id = r.id
         GROUP BY r.id
    ),
    moved AS (
        UPDATE traffic_usage u
           SET billed_bytes = t.billed, cost = t.cost, charged = round(t.cost, 2),
               postings = u.postings + (round(t.cost, 2) <> r.charged)::int
          FROM totals t JOIN rerate_usage r ON r.id = t.id
         WHERE u.id = t.id AND t.used = r.used_bytes
           AND (t.cost <> r.cost OR t.billed <> r.billed_bytes)
        RETURNING u.id, u.account_id, u.group_id, u.period_start, u.period_end, u.postings,
                  u.used_bytes, u.billed_bytes, r.cost AS was_cost, u.cost,
                  u.charged - r.charged AS posting
    ),
    posted AS ({posted})
    SELECT (SELECT count(*) FROM moved), (SELECT count(*) FROM posted),
           (SELECT coalesce(-sum(amount), 0) FROM posted),
           (SELECT count(*) FROM totals t JOIN rerate_usage r ON r.id = t.id
             WHERE t.used <> r.used_bytes)
"""


class RerateRefused(Refused):
    """A range the kept bins cannot recompute; nothing was written."""


@dataclass
class RerateResult:
    """Usage rows looked at, recomputed (cost changed), entries posted and their sum (a
    debit positive), and rows left alone because their kept bins were incomplete."""

    rows: int = 0
    recomputed: int = 0
    entries: int = 0
    amount: Decimal = Decimal(0)
    incomplete: int = 0

    def as_dict(self) -> dict:
        return {"rows": self.rows, "recomputed": self.recomputed, "entries": self.entries,
                "amount": str(self.amount), "incomplete": self.incomplete}


def rerate(
    conn: psycopg.Connection,
    start: datetime,
    end: datetime,
    tz: ZoneInfo,
    *,
    account_id: int | None = None,
    now: datetime | None = None,
    chunk: int = CHUNK,
    progress: Callable[[RerateResult, int], None] | None = None,
) -> RerateResult:
    """Recompute the usage rows whose period overlaps [start, end) (of one account when
    given) at today's prices, ``chunk`` rows per transaction; ``progress`` is called after
    each chunk with the result so far and the number of rows in all. ``now`` is the
    entries' effective time (default: the database's clock)."""
    if start >= end:
        raise RerateRefused("empty_range", f"--from {start} is not before --to {end}")
    if not conn.autocommit:
        raise ValueError("rerate() needs a connection in autocommit mode")
    params = {"start": start, "end": end, "account": account_id}
    rows = conn.execute(_USAGE_IDS, params).fetchall()
    kept = conn.execute("SELECT group_bins_from FROM traffic_rating_state WHERE source = %s",
                        (SOURCE,)).fetchone()
    kept_from = kept[0] if kept else None
    if rows and kept_from is not None and min(r[1] for r in rows) < kept_from:
        raise RerateRefused(
            "bins_not_kept",
            f"periods in this range begin at {min(r[1] for r in rows).isoformat()}, but the "
            f"rated bins are kept from {kept_from.isoformat()} only "
            "(TRAFFIC_GROUP_BINS_KEEP_DAYS); nothing was re-rated")
    ids = [r[0] for r in rows]
    result = RerateResult()
    for first in range(0, len(ids), chunk):
        with conn.transaction():
            locks.hold(conn, locks.USAGE)
            moment = now or conn.execute("SELECT now()").fetchone()[0]
            conn.execute(_ROWS, {"ids": ids[first:first + chunk]})
            conn.execute(_BINS)
            conn.execute(sql.SQL(_PRICED).format(rows=_ROWS_TABLE))
            fill_usage_prices(conn, tz, TRAFFIC)
            recomputed, entries, amount, incomplete = conn.execute(
                sql.SQL(_RECOMPUTE).format(prices=_PRICES_TABLE, posted=_POSTED),
                {"factor": BYTE_PRICE_FACTOR, "now": moment}).fetchone()
            conn.execute(sql.SQL("DROP TABLE rerate_usage, rerate_bins, {}, {}").format(
                _ROWS_TABLE, _PRICES_TABLE))
        result.rows += len(ids[first:first + chunk])
        result.recomputed += recomputed
        result.entries += entries
        result.amount += amount
        result.incomplete += incomplete
        if progress is not None:
            progress(result, len(ids))
    return result
