"""Builders for the traffic rater's tests: classes, groups, prices, holders of addresses,
the collector's rows (inserted into flow_bins as nfacctd's COPY writes them) and runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import count
from zoneinfo import ZoneInfo

from flow.rater import RateResult, rate

_seq = count(1)
MB = 1024 * 1024
T0 = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
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


def run(conn, at, tz="UTC", times=2, **options) -> RateResult:
    """Rate at ``at`` ``times`` times: the repeats must change nothing at all."""
    zone = ZoneInfo(tz)
    first = rate(conn, at, zone, **options)
    state = snapshot(conn)
    for _ in range(times - 1):
        again = rate(conn, at, zone, **options)
        assert again.entries == 0 and again.changed == 0
        assert snapshot(conn) == state
    return first


def snapshot(conn) -> tuple:
    """Everything a run writes but its watermark's update time."""
    return (
        conn.execute("SELECT account_id, amount, idempotency_key FROM ledger_entries"
                     " ORDER BY id").fetchall(),
        conn.execute("SELECT id, balance FROM accounts ORDER BY id").fetchall(),
        conn.execute("SELECT * FROM traffic_stats_hourly ORDER BY 1, 2, 3").fetchall(),
        conn.execute("SELECT * FROM traffic_usage ORDER BY id").fetchall(),
        conn.execute("SELECT * FROM traffic_rejects ORDER BY 1, 2").fetchall(),
    )


def group_bytes(conn, account_id, group_id) -> tuple[int, int]:
    row = conn.execute("SELECT coalesce(sum(bytes_in), 0), coalesce(sum(bytes_out), 0)"
                       " FROM traffic_stats_hourly WHERE account_id = %s AND group_id = %s",
                       (account_id, group_id)).fetchone()
    return int(row[0]), int(row[1])


def traffic_charges(conn, account_id) -> Decimal:
    return -conn.execute("SELECT coalesce(sum(amount), 0) FROM ledger_entries"
                         " WHERE account_id = %s AND kind = 'charge_traffic'",
                         (account_id,)).fetchone()[0]
