"""Builders for the traffic rater's tests: classes, groups, prices, holders of addresses,
the collector's rows (inserted into flow_bins as nfacctd's COPY writes them) and runs;
what every metered usage test reads back (charges, balances, a run's writes)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import count
from zoneinfo import ZoneInfo

import psycopg

from flow.rater import RateResult, rate
from tests.integration.charging_helpers import account, assign, settlement_period, tariff

_seq = count(1)
MB = 1024 * 1024
T0 = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
YEAR_START = datetime(2026, 1, 1, tzinfo=UTC)
EXPORTER = "192.0.2.1"
DIRECTIONS = {"in": 1, "out": 2}


def traffic_class(conn, name=None) -> int:
    return conn.execute("INSERT INTO traffic_classes (name) VALUES (%s) RETURNING id",
                        (name or f"class{next(_seq)}",)).fetchone()[0]


def traffic_group(conn, class_ids, direction="both", rule="sum", name=None) -> int:
    group_id = conn.execute(
        "INSERT INTO traffic_groups (name, direction, rule) VALUES (%s, %s, %s) RETURNING id",
        (name or f"group{next(_seq)}", direction, rule)).fetchone()[0]
    for class_id in class_ids:
        conn.execute("INSERT INTO traffic_group_classes (group_id, class_id) VALUES (%s, %s)",
                     (group_id, class_id))
    return group_id


def price(conn, tariff_id, group_id, per_mb, time_period_id=None) -> None:
    conn.execute("INSERT INTO tariff_traffic_prices (tariff_id, group_id, time_period_id,"
                 " price_per_mb) VALUES (%s, %s, %s, %s)",
                 (tariff_id, group_id, time_period_id, Decimal(per_mb)))


def prepaid(conn, tariff_id, group_id, megabytes, rollover=False, prorate=False) -> None:
    conn.execute("INSERT INTO tariff_traffic_prepaid (tariff_id, group_id, megabytes, rollover,"
                 " prorate_first_period) VALUES (%s, %s, %s, %s, %s)",
                 (tariff_id, group_id, Decimal(megabytes), rollover, prorate))


def traffic_limit(conn, tariff_id, group_id, megabytes, *, window=None, action="block",
                  mode=None, speed=None, percent=None) -> int:
    """A traffic limit of the tariff's group: per settlement period, or over a sliding
    ``window`` of seconds."""
    return conn.execute(
        "INSERT INTO tariff_traffic_limits (tariff_id, group_id, megabytes, window_seconds,"
        " action, speed_mode, speed, percent) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
        " RETURNING id",
        (tariff_id, group_id, Decimal(megabytes), window, action, mode, speed,
         None if percent is None else Decimal(percent))).fetchone()[0]


def time_period(conn, nodes) -> int:
    """A time period of (starts_at, length, repeat) nodes."""
    period_id = conn.execute("INSERT INTO time_periods (name) VALUES (%s) RETURNING id",
                             (f"tp{next(_seq)}",)).fetchone()[0]
    for starts_at, length, repeat in nodes:
        conn.execute("INSERT INTO time_period_nodes (time_period_id, starts_at, length, repeat)"
                     " VALUES (%s, %s, %s, %s)", (period_id, starts_at, length, repeat))
    return period_id


def subaccount(conn, account_id, ip=None) -> int:
    return conn.execute("INSERT INTO subaccounts (account_id, username, ip_address)"
                        " VALUES (%s, %s, %s) RETURNING id",
                        (account_id, f"sub{next(_seq)}", ip)).fetchone()[0]


def session(conn, account_id, ip, started_at, stopped_at=None) -> None:
    """A session that held ``ip`` from ``started_at``: open, or in history once stopped."""
    key = f"s{next(_seq)}"
    if stopped_at is None:
        conn.execute(
            "INSERT INTO sessions_open (acct_unique_id, acct_session_id, account_id, nas_ip,"
            " framed_ip, started_at, updated_at) VALUES (%s, %s, %s, '127.0.0.1', %s, %s, %s)",
            (key, key, account_id, ip, started_at, started_at))
    else:
        conn.execute(
            "INSERT INTO sessions_history (acct_unique_id, acct_session_id, account_id, nas_ip,"
            " framed_ip, started_at, stopped_at) VALUES (%s, %s, %s, '127.0.0.1', %s, %s, %s)",
            (key, key, account_id, ip, started_at, stopped_at))


def _direction_column(conn) -> str:
    """pmacct writes the direction (tag2) into a column named tag2; flow_bins called it
    agent_id2 before the collector's migration 202612081000 renamed it."""
    return conn.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = 'flow_bins'::regclass"
        " AND attname IN ('tag2', 'agent_id2') AND NOT attisdropped").fetchone()[0]


def flow(conn, address, class_id, direction, nbytes, bin_at, packets=1) -> None:
    """One row as the collector writes it: "in" rows name the subscriber as destination."""
    code = DIRECTIONS.get(direction, 0)
    src, dst = ("198.51.100.7", address) if code == 1 else (address, "198.51.100.7")
    conn.execute(
        f"INSERT INTO flow_bins (ip_src, ip_dst, agent_id, {_direction_column(conn)},"
        " peer_ip_src, packets, bytes, stamp_inserted)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        (src, dst, class_id, code, EXPORTER, packets, nbytes, bin_at))


def minute(k: int) -> datetime:
    return T0 + timedelta(minutes=k)


def holder(conn, ip, *, period_unit="MONTH", anchor=YEAR_START, assigned_at=YEAR_START,
           tariff_id=None, group=None, web=None) -> tuple[int, int, int, int]:
    """(class, group, tariff, account): an account on the tariff from ``assigned_at``,
    holding ``ip`` since the year's start. The class, its group and a tariff with a
    settlement period of ``period_unit`` (None: none) are new unless ``web`` is given."""
    if web is None:
        web = traffic_class(conn)
        group = traffic_group(conn, [web])
        tariff_id = tariff(conn)
        if period_unit is not None:
            period = settlement_period(conn, period_unit, anchor)
            conn.execute("UPDATE tariffs SET settlement_period_id = %s WHERE id = %s",
                         (period, tariff_id))
    account_id = account(conn)
    assign(conn, account_id, tariff_id, assigned_at)
    session(conn, account_id, ip, YEAR_START)
    return web, group, tariff_id, account_id


def repeated(conn, rate_once, times, nothing_done, snapshot_of=None) -> object:
    """Rate ``times`` times: the repeats must do nothing (``nothing_done`` of their
    result) and change nothing at all (``snapshot_of``, by default ``snapshot``)."""
    snapshot_of = snapshot_of or snapshot
    first = rate_once()
    state = snapshot_of(conn)
    for _ in range(times - 1):
        assert nothing_done(rate_once())
        assert snapshot_of(conn) == state
    return first


def run(conn, at, tz="UTC", times=2, **options) -> RateResult:
    """Rate at ``at`` ``times`` times: the repeats must change nothing at all."""
    zone = ZoneInfo(tz)
    return repeated(conn, lambda: rate(conn, at, zone, **options), times,
                    lambda again: again.entries == 0 and again.changed == 0)


def snapshot(conn, *more: str) -> tuple:
    """Everything a run writes but its watermark's update time, and the rows of ``more``
    queries."""
    return tuple(conn.execute(query).fetchall() for query in (
        "SELECT account_id, amount, idempotency_key FROM ledger_entries ORDER BY id",
        "SELECT id, balance FROM accounts ORDER BY id",
        "SELECT * FROM traffic_stats_hourly ORDER BY 1, 2, 3",
        "SELECT * FROM traffic_usage ORDER BY id",
        "SELECT * FROM traffic_rejects ORDER BY 1, 2",
        *more))


def group_bytes(conn, account_id, group_id) -> tuple[int, int]:
    row = conn.execute("SELECT coalesce(sum(bytes_in), 0), coalesce(sum(bytes_out), 0)"
                       " FROM traffic_stats_hourly WHERE account_id = %s AND group_id = %s",
                       (account_id, group_id)).fetchone()
    return int(row[0]), int(row[1])


def charges(conn, account_id, kind) -> Decimal:
    return -conn.execute("SELECT coalesce(sum(amount), 0) FROM ledger_entries"
                         " WHERE account_id = %s AND kind = %s",
                         (account_id, kind)).fetchone()[0]


def traffic_charges(conn, account_id) -> Decimal:
    return charges(conn, account_id, "charge_traffic")


def balance(conn, account_id) -> Decimal:
    return conn.execute("SELECT balance FROM accounts WHERE id = %s", (account_id,)).fetchone()[0]


def rate_at_once(db: str, at: datetime, tz: ZoneInfo, runs: int = 2, **options):
    """``runs`` rating runs, each on its own connection, released together; returns their
    results and the exceptions any of them raised."""
    barrier = threading.Barrier(runs)
    results, errors = [], []

    def worker():
        try:
            with psycopg.connect(db, autocommit=True) as own:
                barrier.wait()
                results.append(rate(own, at, tz, **options))
        except Exception as exc:  # reported to the caller with the other runs' outcome
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(runs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, errors
