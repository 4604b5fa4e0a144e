"""Charges for the group deltas of a rating run (``rate_deltas``), per tariff's traffic
service: prepaid first, then per MB at the price in force at the usage time, by the
metered usage rule (``billing.metered_usage``).

Usage accumulates per account, group, tariff assignment and settlement period in
``traffic_usage``; its cost is bytes x price x 2**-20 in NUMERIC, which is exact, so the
cost is money already and rounds to the kopeck as it stands.

The calendar (settlement periods, time-of-day prices) is computed in Python by
``billing.usage_calendar`` once per settlement period (per assignment for autostart
periods) and per price list and bin, copied to temporary tables, and joined by
set-based statements: never a statement per account.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

import psycopg
from psycopg import sql

from billing.metered_usage import MeteredUsage, charge
from billing.traffic_pricing import BYTE_PRICE_FACTOR, MEGABYTE
from billing.usage_calendar import MINUTE

BIN = MINUTE

TRAFFIC = MeteredUsage(
    temp="rate_traffic",
    usage="traffic_usage",
    by=("group_id",),
    quantity="bytes",
    prices="tariff_traffic_prices",
    price="price_per_mb",
    allowances="tariff_traffic_prepaid",
    allowance=sql.SQL("q.megabytes * %(megabyte)s"),  # prepaid megabytes in bytes
    # The cost is money: billed bytes x price per MB x 2**-20, exact in NUMERIC.
    cost_column="cost",
    cost=sql.SQL("{} * %(factor)s"),
    money=sql.SQL("{}"),
    kind="charge_traffic",
    key_prefix="traffic",
    names=sql.SQL("JOIN traffic_groups g ON g.id = m.group_id"),
    description=sql.SQL("g.name"),
    params={"megabyte": MEGABYTE, "factor": BYTE_PRICE_FACTOR},
)


@dataclass(frozen=True, slots=True)
class Charged:
    entries: int = 0
    amount: Decimal = Decimal(0)
    rated_bytes: int = 0


# The deltas a tariff of the account prices, grants prepaid for or limits per period,
# with the assignment in force at the bin (billing/assignments.py's rule, in SQL as
# ebs_assignment_in_force).
_USAGE_ROWS = """
    CREATE TEMP TABLE {} ON COMMIT DROP AS
    SELECT d.bin, d.account_id, d.group_id, (d.bytes_in + d.bytes_out)::numeric AS bytes,
           a.id AS assignment_id, a.tariff_id, a.assigned_at, t.settlement_period_id,
           CASE WHEN sp.autostart THEN 'a' || a.id
                ELSE 's' || coalesce(t.settlement_period_id, 0) END AS period_key
      FROM rate_deltas d
      CROSS JOIN LATERAL ebs_assignment_in_force(d.account_id, d.bin) a
      JOIN tariffs t ON t.id = a.tariff_id
      LEFT JOIN settlement_periods sp ON sp.id = t.settlement_period_id
     WHERE d.bytes_in + d.bytes_out <> 0
       AND (EXISTS (SELECT 1 FROM tariff_traffic_prices p
                     WHERE p.tariff_id = a.tariff_id AND p.group_id = d.group_id)
            OR EXISTS (SELECT 1 FROM tariff_traffic_prepaid q
                        WHERE q.tariff_id = a.tariff_id AND q.group_id = d.group_id)
            -- a limit per settlement period counts this usage (flow/limits.py)
            OR EXISTS (SELECT 1 FROM tariff_traffic_limits l
                        WHERE l.tariff_id = a.tariff_id AND l.group_id = d.group_id
                          AND l.window_seconds IS NULL))
"""


def charge_deltas(conn: psycopg.Connection, tz: ZoneInfo) -> Charged:
    """Price the run's ``rate_deltas`` and post the changes of the rounded totals."""
    conn.execute(sql.SQL(_USAGE_ROWS).format(sql.Identifier(TRAFFIC.rows)))
    posted = charge(conn, tz, TRAFFIC)
    return Charged(posted.entries, posted.amount, int(posted.used))
