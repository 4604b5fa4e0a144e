"""Builders for the charging tests: tariffs with services, accounts, payments, ticks."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from itertools import count
from zoneinfo import ZoneInfo

from billing import ledger
from billing.charging.tick import charge

_seq = count(1)


def settlement_period(conn, unit="MONTH", anchor=datetime(2026, 1, 1, tzinfo=UTC),
                      autostart=False, length_seconds=None) -> int:
    return conn.execute(
        "INSERT INTO settlement_periods (name, unit, length_seconds, autostart, anchor)"
        " VALUES (%s, %s, %s, %s, %s) RETURNING id",
        (f"sp{next(_seq)}", unit, length_seconds, autostart, anchor),
    ).fetchone()[0]


def tariff(conn) -> int:
    return conn.execute(
        "INSERT INTO tariffs (name) VALUES (%s) RETURNING id", (f"tariff{next(_seq)}",)
    ).fetchone()[0]


def periodic_service(conn, tariff_id, period_id, cost, method, *, per_day=1,
                     condition="ALWAYS", condition_sum="0", active_from=None,
                     active_until=None, name=None) -> int:
    return conn.execute(
        "INSERT INTO periodic_services (tariff_id, name, settlement_period_id, cost,"
        " charge_method, charges_per_day, condition, condition_sum, active_from, active_until)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (tariff_id, name or f"{method} {cost}", period_id, Decimal(cost), method, per_day,
         condition, Decimal(condition_sum), active_from, active_until),
    ).fetchone()[0]


def onetime_service(conn, tariff_id, cost, name="connection") -> int:
    return conn.execute(
        "INSERT INTO onetime_services (tariff_id, name, cost) VALUES (%s, %s, %s) RETURNING id",
        (tariff_id, name, Decimal(cost)),
    ).fetchone()[0]


def account(conn, *, status="active", credit="0") -> int:
    n = next(_seq)
    return conn.execute(
        "INSERT INTO accounts (contract, login, status, credit) VALUES (%s, %s, %s, %s)"
        " RETURNING id",
        (f"c{n}", f"u{n}", status, Decimal(credit)),
    ).fetchone()[0]


def assign(conn, account_id, tariff_id, at) -> int:
    return conn.execute(
        "INSERT INTO account_tariffs (account_id, tariff_id, assigned_at) VALUES (%s, %s, %s)"
        " RETURNING id",
        (account_id, tariff_id, at),
    ).fetchone()[0]


def pay(conn, account_id, amount, at=datetime(2026, 1, 1, tzinfo=UTC)) -> None:
    ledger.post(conn, ledger.Entry(account_id, "payment", Decimal(amount),
                                   f"pay:{next(_seq)}", at))


def tick(conn, at, tz="UTC", times=3, **options):
    """Run the tick ``times`` times and prove the ledger did not change after the first;
    ``options`` go to ``charge`` (chunk size, workers)."""
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    first = charge(conn, at, zone, **options)
    snapshot = ledger_state(conn)
    for _ in range(times - 1):
        again = charge(conn, at, zone, **options)
        assert again.entries == 0
        assert ledger_state(conn) == snapshot
    return first


def ledger_state(conn, account_id=None, kind=None) -> tuple[int, Decimal]:
    """(count, sum) of charge entries, optionally of one account / kind."""
    row = conn.execute(
        "SELECT count(*), coalesce(sum(amount), 0) FROM ledger_entries"
        " WHERE kind LIKE 'charge%%' AND (%(acc)s::bigint IS NULL OR account_id = %(acc)s)"
        " AND (%(kind)s::text IS NULL OR kind = %(kind)s)",
        {"acc": account_id, "kind": kind},
    ).fetchone()
    return row[0], row[1]


def charges(conn, account_id):
    return conn.execute(
        "SELECT effective_at, amount, idempotency_key FROM ledger_entries"
        " WHERE account_id = %s AND kind LIKE 'charge%%' ORDER BY effective_at, id",
        (account_id,),
    ).fetchall()


def forget_ticks(conn) -> None:
    """Drop the tick record, so the next tick looks back to every assignment's start and
    only the idempotency keys stand between it and double charges."""
    conn.execute("DELETE FROM charge_runs")


def walked_in_every_zone(results: dict, zones: list[str], walk, fresh_conn) -> list:
    """Each zone's result of ``walk(conn, zone)``, in the order of ``zones``: the ones this
    module's tests have walked already (``zone_results``; a walk is deterministic), the
    missing ones walked here, each in a database of its own as if it ran alone. So a
    "same money in every zone" test passes alone and in any order."""
    for zone in zones:
        if zone not in results:
            with fresh_conn() as conn:
                results[zone] = walk(conn, zone)
    return [results[zone] for zone in zones]
