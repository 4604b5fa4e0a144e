"""Test pools: IP pools may not overlap, so tests that need "a pool of this range" share
one per range, made on first use."""

from __future__ import annotations

import psycopg
from psycopg.rows import tuple_row


def shared_pool(conn: psycopg.Connection, name: str, start: str, end: str) -> int:
    """The id of the pool ``name`` (``start``-``end``), inserted if it is not there yet."""
    with conn.cursor(row_factory=tuple_row) as cur:
        found = cur.execute("SELECT id FROM ip_pools WHERE name = %s", (name,)).fetchone()
        if found:
            return found[0]
        return cur.execute(
            "INSERT INTO ip_pools (name, range_start, range_end) VALUES (%s, %s, %s)"
            " RETURNING id", (name, start, end)).fetchone()[0]
