"""``ebs bench charge``: one charge tick over N accounts on a GRADUAL daily fee, against a
naive ``UPDATE accounts SET balance = balance - fee`` over the same rows in the same run.

The tick writes a ledger entry per account (idempotency key, details, effective time) and
moves the balances through the ledger trigger, on ``workers`` connections as the worker
runs it; the naive update only moves balances, in one statement (and is rolled back, so
the ledger stays true). Runs on a private PostgreSQL of its own.
"""

from __future__ import annotations

import json
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from billing import schema
from billing.charging.tick import WORKERS, charge
from stack.servers.base import free_port
from stack.servers.postgres import PostgresServer

FEE = "25.00"
DAY = datetime(2026, 11, 23, tzinfo=UTC)


def _load(conn: psycopg.Connection, accounts: int) -> int:
    sp = conn.execute(
        "INSERT INTO settlement_periods (name, unit, anchor) VALUES ('day', 'DAY', %s)"
        " RETURNING id", (DAY,)).fetchone()[0]
    tariff = conn.execute(
        "INSERT INTO tariffs (name, settlement_period_id) VALUES ('daily', %s) RETURNING id",
        (sp,)).fetchone()[0]
    conn.execute(
        "INSERT INTO periodic_services (tariff_id, name, settlement_period_id, cost,"
        " charge_method, charges_per_day) VALUES (%s, 'daily fee', %s, %s, 'GRADUAL', 1)",
        (tariff, sp, FEE))
    conn.execute(
        "INSERT INTO accounts (contract, login) SELECT 'b' || g, 'b' || g"
        " FROM generate_series(1, %s) g", (accounts,))
    conn.execute(
        "INSERT INTO account_tariffs (account_id, tariff_id, assigned_at)"
        " SELECT id, %s, %s FROM accounts", (tariff, DAY))
    conn.execute("VACUUM ANALYZE")
    return tariff


def _wal(conn: psycopg.Connection) -> str:
    return conn.execute("SELECT pg_current_wal_insert_lsn()::text").fetchone()[0]


def _wal_mb(conn: psycopg.Connection, since: str) -> float:
    """WAL written since ``since``, in MB: what a run costs the disk and the replicas."""
    return round(float(conn.execute(
        "SELECT pg_current_wal_insert_lsn() - %s::pg_lsn", (since,)).fetchone()[0]) / 1e6, 1)


def _naive(conn: psycopg.Connection, tariff: int) -> tuple[float, int, float]:
    """The baseline: one UPDATE of the same balances, rolled back after timing; returns
    (seconds, rows, WAL MB)."""
    with conn.transaction(force_rollback=True):
        conn.execute("ALTER TABLE accounts DISABLE TRIGGER accounts_guard_balance_update")
        wal = _wal(conn)
        started = time.perf_counter()
        rows = conn.execute(
            "UPDATE accounts SET balance = balance - %s WHERE id IN"
            " (SELECT account_id FROM account_tariffs WHERE tariff_id = %s)",
            (FEE, tariff)).rowcount
        took = time.perf_counter() - started
        wal_mb = _wal_mb(conn, wal)
    conn.execute("VACUUM accounts")
    return took, rows, wal_mb


def _sizes(conn: psycopg.Connection) -> dict[str, float]:
    """What the accounts and the day's ledger take on disk (tables with their indexes and
    TOAST), in MB: the sizing page grows them from two runs."""
    mb = {name: round(float(size) / 1e6, 1) for name, size in conn.execute(
        "SELECT 'database_mb', pg_database_size(current_database())"
        " UNION ALL SELECT 'ledger_mb', pg_total_relation_size('ledger_entries')"
        " UNION ALL SELECT 'accounts_mb', pg_total_relation_size('accounts')"
        "   + pg_total_relation_size('subaccounts') + pg_total_relation_size('account_tariffs')")}
    return mb


def _load_average() -> float | None:
    """The 1-minute load average: the machine may be shared, so a figure comes with it."""
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def run(accounts: int = 500_000, workdir: Path | None = None, workers: int = WORKERS) -> dict:
    with tempfile.TemporaryDirectory(prefix="ebs-bench-charge-", dir=workdir) as tmp:
        base = Path(tmp)
        server = PostgresServer(datadir=base / "pgdata", port=free_port(),
                                socket_dir=base / "sock")
        server.start()
        try:
            server.create_database("bench")
            with psycopg.connect(server.conninfo("bench"), autocommit=True) as conn:
                schema.upgrade(conn)
                tariff = _load(conn, accounts)
                load_before = _load_average()
                naive_before, rows, naive_wal = _naive(conn, tariff)
                at = DAY + timedelta(minutes=30)
                wal = _wal(conn)
                started = time.perf_counter()
                first = charge(conn, at, UTC, workers=workers)
                ours = time.perf_counter() - started
                tick_wal = _wal_mb(conn, wal)
                started = time.perf_counter()
                second = charge(conn, at, UTC, workers=workers)
                second_took = time.perf_counter() - started
                conn.execute("DELETE FROM charge_runs")  # only the keys guard this rerun
                started = time.perf_counter()
                rerun = charge(conn, at, UTC, workers=workers)
                rerun_took = time.perf_counter() - started
                conn.execute("VACUUM accounts")
                naive_after, _, _ = _naive(conn, tariff)
                load_after = _load_average()
                entries = conn.execute(
                    "SELECT count(*), sum(amount) FROM ledger_entries").fetchone()
                sizes = _sizes(conn)
        finally:
            server.stop()
    baseline = (naive_before + naive_after) / 2
    return {
        "bench": "charge",
        "ours": round(ours, 3),
        "baseline": round(baseline, 3),
        "ratio": round(ours / baseline, 3),
        "unit": "s",
        "better": "lower",
        "accounts": accounts,
        "workers": workers,
        "rows_naive": rows,
        "entries_first_tick": first.entries,
        "ledger_entries": entries[0],
        "ledger_sum": str(entries[1]),
        "naive_before_s": round(naive_before, 3),
        "naive_after_s": round(naive_after, 3),
        "second_tick_s": round(second_took, 3),
        "second_tick_entries": second.entries,
        "second_tick_vs_naive": round(second_took / baseline, 3),
        "rerun_without_tick_record_s": round(rerun_took, 3),
        "rerun_without_tick_record_entries": rerun.entries,
        "tick_wal_mb": tick_wal,
        **sizes,
        "naive_wal_mb": naive_wal,
        "load_average_before": load_before,
        "load_average_after": load_after,
    }


def main(accounts: int = 500_000) -> None:
    print(json.dumps(run(accounts)))


if __name__ == "__main__":
    import sys

    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500_000)
