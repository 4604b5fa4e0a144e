"""Month partitions of the history tables, ``sessions_history`` and ``auth_log``: made
ahead, dropped after their retention.

Both are partitioned by UTC month (``ebs_ensure_month_partitions``). A month that has no
partition yet lands in the table's default partition, which then blocks creating that
month's partition; so the beat makes last month's to three months ahead every hour (the
sweep of stale sessions also makes ``sessions_history``'s), and a row in a default
partition is reported, never expected.

Retention drops whole months (``ebs_drop_month_partitions``): ``sessions_history`` keeps
``SESSIONS_HISTORY_KEEP_MONTHS`` and ``auth_log`` ``AUTH_LOG_KEEP_MONTHS`` months back
from now (0: for ever). A month is dropped only when all of it is older than that, so
no row a setting says to keep is ever dropped — operators bound by a data-retention law
set the months the law names.
"""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace

import psycopg
from psycopg import sql

# table -> its retention setting
TABLES = {"sessions_history": "SESSIONS_HISTORY_KEEP_MONTHS",
          "auth_log": "AUTH_LOG_KEEP_MONTHS"}


def keep_months(settings: SimpleNamespace) -> dict[str, int]:
    months = {table: int(getattr(settings, name)) for table, name in TABLES.items()}
    bad = [TABLES[t] for t, n in months.items() if n < 0]
    if bad:
        raise ValueError(f"{', '.join(bad)}: months to keep, 0 for ever")
    return months


def maintain(conn: psycopg.Connection, now: datetime, keep: dict[str, int]) -> dict:
    """Make the months around ``now`` and drop those past their retention; returns the
    partitions made (a count) and dropped (names), and the tables whose default partition
    holds rows. Idempotent; each statement its own transaction when ``conn`` is in
    autocommit (a CREATE or DROP locks the parent only for its statement)."""
    result: dict = {"created": 0, "dropped": [], "default_rows": []}
    for table, months in keep.items():
        result["created"] += conn.execute(
            "SELECT ebs_ensure_month_partitions(%(t)s, %(now)s::timestamptz"
            " - interval '1 month', %(now)s::timestamptz + interval '3 months')",
            {"t": table, "now": now}).fetchone()[0]
        if months:
            result["dropped"] += [r[0] for r in conn.execute(
                "SELECT ebs_drop_month_partitions(%s, %s::timestamptz - make_interval("
                "months => %s))", (table, now, months))]
        if conn.execute(sql.SQL("SELECT EXISTS (SELECT FROM {})").format(
                sql.Identifier(f"{table}_default"))).fetchone()[0]:
            result["default_rows"].append(table)
    return result
