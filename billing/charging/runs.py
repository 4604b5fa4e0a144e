"""Charge runs: what the tick has settled, and the rule that settled time stays closed.

Every tick records itself in ``charge_runs`` (the window it charged, then its totals once
it finishes). The latest finished run's ``charged_to`` is the moment up to which the
ledger is settled: the next tick starts its window there, and an action that would
change what was due before it (a tariff change, a suspension starting or ending) is
refused, or the ledger would depend on when ticks happened to run. This module is that
bookkeeping for the tick and for the services that must respect it, so none of them
needs to import another.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import psycopg

_LAST_CHARGED_TO = "SELECT max(charged_to) FROM charge_runs WHERE finished_at IS NOT NULL"


def last_charged_to(conn: psycopg.Connection) -> datetime | None:
    """The moment up to which the latest finished tick charged (None: no tick yet)."""
    return conn.execute(_LAST_CHARGED_TO).fetchone()[0]


def settled_at(conn: psycopg.Connection, at: datetime) -> datetime | None:
    """The last tick's ``charged_to`` when ``at`` lies in time it settled, else None.

    A moment at the very end of the settled time counts as settled too: what is due at
    that moment was decided by that tick.
    """
    charged_to = last_charged_to(conn)
    return charged_to if charged_to is not None and at <= charged_to else None


def start_run(conn: psycopg.Connection, at: datetime, after: datetime | None) -> int:
    """Record a tick charging (after, at]; returns the run's id."""
    return conn.execute(
        "INSERT INTO charge_runs (charged_to, charged_from) VALUES (%s, %s) RETURNING id",
        (at, after),
    ).fetchone()[0]


def finish_run(conn: psycopg.Connection, run_id: int, entries: int, amount: Decimal) -> None:
    """Mark the run finished with its totals: from now on its window counts as settled."""
    conn.execute(
        "UPDATE charge_runs SET finished_at = now(), entries = %s, amount = %s WHERE id = %s",
        (entries, amount, run_id),
    )
