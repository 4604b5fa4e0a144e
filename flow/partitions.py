"""Day partitions of the collector's tables: made ahead, dropped after their retention.

nfacctd writes into ``flow_bins`` (the aggregated rows every class gets) and ``flow_raw``
(raw 5-tuples, only for classes marked "store"), both partitioned by UTC day on the bin.
A day that has no partition lands in the table's default partition, where it can only
be removed by DELETE; so the beat makes today's and the next days' partitions every
hour, and a row in a default partition is reported, never expected.

Retention: ``flow_bins`` keeps FLOW_RETENTION_DAYS days (the rater and re-rating read
them; statistics outlive them). ``flow_raw`` is kept for operators bound by a
data-retention law: its rows do not say their class, so it keeps the longest of
FLOW_STORE_RETENTION_DAYS and every stored class's own store_days: no setting's days
are dropped. Unknown exporters' counts (flow_rejects) go with the bins.
"""

from __future__ import annotations

from datetime import date, timedelta

import psycopg
from psycopg import sql

DAY_TABLES = ("flow_bins", "flow_raw")
DAYS_AHEAD = 2  # today, tomorrow and the day after: a stopped beat has a day's grace


def raw_retention_days(conn: psycopg.Connection, store_retention_days: int) -> int:
    longest = conn.execute(
        "SELECT max(store_days) FROM traffic_classes WHERE store").fetchone()[0]
    return max(store_retention_days, longest or 0)


def maintain(conn: psycopg.Connection, today: date, retention_days: int,
             store_retention_days: int) -> dict:
    """Create the coming days' partitions and drop those past their retention; returns
    what was made and dropped, and the tables whose default partition holds rows (it
    should not: a day came before its partition). Idempotent."""
    if retention_days < 1 or store_retention_days < 1:
        raise ValueError("flow retention must be at least one day")
    keep = {"flow_bins": retention_days,
            "flow_raw": raw_retention_days(conn, store_retention_days)}
    result: dict = {"ensured": [], "dropped": [], "default_rows": []}
    for table in DAY_TABLES:
        for ahead in range(DAYS_AHEAD + 1):
            day = today + timedelta(days=ahead)
            result["ensured"].append(conn.execute(
                "SELECT ebs_flow_day_partition(%s, %s)::text", (table, day)).fetchone()[0])
        keep_from = today - timedelta(days=keep[table] - 1)
        result["dropped"] += [r[0] for r in conn.execute(
            "SELECT ebs_flow_drop_days(%s, %s)", (table, keep_from))]
        stray = conn.execute(sql.SQL("SELECT EXISTS (SELECT FROM {})").format(
            sql.Identifier(f"{table}_default"))).fetchone()[0]
        if stray:
            result["default_rows"].append(table)
    rejects_from = today - timedelta(days=retention_days - 1)
    result["rejects_deleted"] = conn.execute(
        "DELETE FROM flow_rejects WHERE stamp_inserted < %s", (rejects_from,)).rowcount
    return result
