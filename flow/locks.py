"""The transaction-scoped advisory locks that keep runs of one kind apart. Every source
of usage (the collector's rows, the sessions' counters, a re-rate) writes the same
``traffic_usage`` rows, so they share one lock, ``USAGE``."""

from __future__ import annotations

import psycopg

USAGE = "ebs.rate_traffic"
RECONCILE = "ebs.reconcile_traffic"
LIMITS = "ebs.traffic_limits"
STATS_ROLLUP = "ebs.traffic_stats_rollup"


def hold(conn: psycopg.Connection, name: str, *, wait: bool = True) -> bool:
    """Take lock ``name`` until the end of the current transaction: wait for it, or
    (``wait=False``) return False at once when another run holds it."""
    function = "pg_advisory_xact_lock" if wait else "pg_try_advisory_xact_lock"
    got = conn.execute(f"SELECT {function}(hashtext(%s)::bigint)", (name,)).fetchone()[0]
    return got is not False
