"""The data of ``ebs bench flow``: subscribers holding addresses, five traffic classes
each priced in its own group, the NetFlow stream over them, and rows for the rater alone.

Every flow record carries the same byte count, so the bytes that land (in flow_bins, or
in the print plugin's file) divided by it are the flows that landed: a check to the flow,
not a guess from datagram counters. Each subscriber address gets one record per class and
direction, the remote side in the class's network.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg

from bench.netflow_v9 import FlowRecord

CLASSES = 5
# A 1.5 MB flow of a thousand packets: at the classes' prices a subscriber's minute
# costs kopecks, so the rater posts real ledger entries, not roundings to zero.
FLOW_BYTES = 1_500_000
FLOW_PACKETS = 1000
NAS_IP = "127.0.0.1"  # the exporter: the datagrams' source address
FIRST_ADDRESS = ipaddress.ip_address("10.64.0.1")
TCP = 6
PRICES = ("0.010000", "0.020000", "0.030000", "0.040000", "0.050000")  # per MB, by class


def class_network(k: int) -> str:
    return f"198.18.{k}.0/24"


def address(i: int) -> str:
    return str(FIRST_ADDRESS + i)


def seed(conn: psycopg.Connection, addresses: int, now: datetime) -> list[int]:
    """The classes, groups, tariff, NAS, pool, accounts and their open sessions, in
    set-based statements; returns the classes' ids in stream order."""
    class_ids = []
    plan_period = conn.execute(
        "INSERT INTO settlement_periods (name, unit, anchor) VALUES ('month', 'MONTH', %s)"
        " RETURNING id", (datetime(2026, 1, 1, tzinfo=UTC),)).fetchone()[0]
    plan = conn.execute(
        "INSERT INTO tariffs (name, settlement_period_id) VALUES ('metered', %s)"
        " RETURNING id", (plan_period,)).fetchone()[0]
    for k in range(CLASSES):
        class_id = conn.execute(
            "INSERT INTO traffic_classes (name, weight) VALUES (%s, %s) RETURNING id",
            (f"class{k}", 10 * (k + 1))).fetchone()[0]
        conn.execute("INSERT INTO traffic_class_nodes (class_id, network) VALUES (%s, %s)",
                     (class_id, class_network(k)))
        group = conn.execute("INSERT INTO traffic_groups (name) VALUES (%s) RETURNING id",
                             (f"group{k}",)).fetchone()[0]
        conn.execute("INSERT INTO traffic_group_classes (group_id, class_id) VALUES (%s, %s)",
                     (group, class_id))
        conn.execute("INSERT INTO tariff_traffic_prices (tariff_id, group_id, price_per_mb)"
                     " VALUES (%s, %s, %s)", (plan, group, PRICES[k]))
        class_ids.append(class_id)
    conn.execute("INSERT INTO nas (name, ip_address, secret)"
                 " VALUES ('bench', %s, 'bench-secret-1-for-the-bench')", (NAS_IP,))
    conn.execute("INSERT INTO ip_pools (name, range_start, range_end) VALUES ('bench', %s, %s)",
                 (address(0), address(addresses - 1)))
    conn.execute("INSERT INTO accounts (contract, login)"
                 " SELECT 'f' || g, 'f' || g FROM generate_series(1, %s) g", (addresses,))
    conn.execute("INSERT INTO account_tariffs (account_id, tariff_id, assigned_at)"
                 " SELECT id, %s, %s FROM accounts", (plan, now - timedelta(days=2)))
    conn.execute(
        "INSERT INTO sessions_open (acct_unique_id, acct_session_id, account_id, nas_ip,"
        " framed_ip, started_at, updated_at)"
        " SELECT 'bench' || id, 'bench' || id, id, %s, %s::inet + (row_number() OVER"
        " (ORDER BY id) - 1), %s, %s FROM accounts",
        (NAS_IP, address(0), now - timedelta(days=1), now))
    today = now.date()
    for day in (today - timedelta(days=1), today, today + timedelta(days=1)):
        conn.execute("SELECT ebs_flow_day_partition('flow_bins', %s)", (day,))
    conn.execute("VACUUM ANALYZE")
    return class_ids


def stream(addresses: int) -> Iterator[FlowRecord]:
    """One record per address, class and direction: "in" from the class's network to the
    subscriber, "out" back."""
    for i in range(addresses):
        local, port = address(i), 1024 + i % 60000
        for k in range(CLASSES):
            remote = f"198.18.{k}.{i % 250 + 1}"
            yield FlowRecord(remote, local, 443, port, TCP, FLOW_PACKETS, FLOW_BYTES)
            yield FlowRecord(local, remote, port, 443, TCP, FLOW_PACKETS, FLOW_BYTES)


# Rows as nfacctd's "in" and "out" plugins write them (flow/collector_maps.py): "in" keeps
# the destination, "out" the source; tag is the class, tag2 the direction.
_RATER_ROWS = """
    INSERT INTO flow_bins (ip_src, ip_dst, agent_id, tag2, peer_ip_src, packets, bytes,
                           stamp_inserted)
    SELECT CASE d WHEN 2 THEN %(first)s::inet + i ELSE '0.0.0.0' END,
           CASE d WHEN 1 THEN %(first)s::inet + i ELSE '0.0.0.0' END,
           (%(classes)s::int[])[k], d, %(nas)s, %(packets)s, %(bytes)s,
           %(t0)s::timestamptz + b * interval '1 minute'
      FROM generate_series(0, %(bins)s - 1) b, generate_series(0, %(addresses)s - 1) i,
           generate_series(1, %(n_classes)s) k, generate_series(1, 2) d
     ORDER BY b, i, k, d
     LIMIT %(rows)s
"""


def rater_rows(conn: psycopg.Connection, class_ids: list[int], addresses: int, rows: int,
               now: datetime) -> tuple[datetime, datetime]:
    """``rows`` aggregated rows in the minutes just before ``now`` (a full set of
    addresses x classes x directions per minute), and the watermark at the first of
    them, as if the collector had written them while the rater was away. Returns the
    first and the last bin."""
    per_bin = addresses * len(class_ids) * 2
    bins = -(-rows // per_bin)
    t0 = now.replace(second=0, microsecond=0) - timedelta(minutes=bins + 1)
    conn.execute(_RATER_ROWS, {"first": address(0), "classes": class_ids, "nas": NAS_IP,
                               "bytes": FLOW_BYTES, "packets": FLOW_PACKETS, "t0": t0, "bins": bins,
                               "addresses": addresses, "n_classes": len(class_ids),
                               "rows": rows})
    conn.execute("INSERT INTO traffic_rating_state (source, rated_to) VALUES ('netflow', %s)",
                 (t0,))
    conn.execute("ANALYZE flow_bins")
    return t0, t0 + timedelta(minutes=bins - 1)
