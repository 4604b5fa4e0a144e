"""The real chain: a pcap replayed by softflowd as NetFlow v5 to a private nfacctd that is
configured from the database, its rows in flow_bins, then the rater: the exact bytes per
group and the exact charges, and the pool address nobody held counted, not guessed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from billing.money import round_money
from billing.traffic_pricing import BYTE_PRICE_FACTOR
from flow import collector_maps
from flow.rater import rate
from stack.servers.base import free_port
from stack.servers.nfacctd import NfacctdServer
from tests.harness import role_fields, start_with_retry
from tests.integration.charging_helpers import account, assign, settlement_period, tariff
from tests.integration.traffic_helpers import (
    group_bytes,
    price,
    session,
    subaccount,
    traffic_charges,
    traffic_group,
)
from tests.system.test_nfacctd_harness import TCP, UDP, Flow, replay, write_pcap

NAS_IP = "127.0.0.1"
PRICE = Decimal("1000")  # per MB: a few kilobytes cost roubles, so rounding shows

ALICE_OUT = Flow("10.0.0.1", 40000, "192.0.2.10", 80, TCP, 5, 100)         # local
ALICE_IN = Flow("192.0.2.10", 80, "10.0.0.1", 40000, TCP, 7, 1000)         # local
ALICE_CDN = Flow("198.51.100.7", 443, "10.0.0.1", 50000, TCP, 10, 1400)    # cdn
BOB_OUT = Flow("10.0.0.9", 1234, "198.51.100.8", 123, UDP, 4, 48)          # static, cdn
NOBODY = Flow("10.0.0.3", 1234, "192.0.2.5", 4321, UDP, 1, 1400)           # pool, no session
FLOWS = [ALICE_OUT, ALICE_IN, ALICE_CDN, BOB_OUT, NOBODY]


def _seed(conn) -> dict:
    ids = {}
    for name, network in (("local", "192.0.2.0/24"), ("cdn", "198.51.100.0/24")):
        ids[name] = conn.execute("INSERT INTO traffic_classes (name) VALUES (%s) RETURNING id",
                                 (name,)).fetchone()[0]
        conn.execute("INSERT INTO traffic_class_nodes (class_id, network) VALUES (%s, %s)",
                     (ids[name], network))
    ids["all"] = traffic_group(conn, [ids["local"], ids["cdn"]], "both", "sum")
    ids["local_in"] = traffic_group(conn, [ids["local"]], "in", "sum")
    conn.execute("INSERT INTO ip_pools (name, range_start, range_end)"
                 " VALUES ('main', '10.0.0.0', '10.0.0.127')")
    conn.execute("INSERT INTO nas (name, ip_address, secret)"
                 " VALUES ('nas1', %s, 'a-long-enough-secret-1234')", (NAS_IP,))
    plan = tariff(conn)
    period = settlement_period(conn, "MONTH", datetime(2026, 1, 1, tzinfo=UTC))
    conn.execute("UPDATE tariffs SET settlement_period_id = %s WHERE id = %s", (period, plan))
    price(conn, plan, ids["all"], str(PRICE))
    now = datetime.now(UTC)
    ids["alice"], ids["bob"] = account(conn), account(conn)
    for holder in (ids["alice"], ids["bob"]):
        assign(conn, holder, plan, now - timedelta(days=1))
    session(conn, ids["alice"], "10.0.0.1", now - timedelta(hours=1))
    subaccount(conn, ids["bob"], "10.0.0.9")
    for day in (now.date(), now.date() + timedelta(days=1)):
        conn.execute("SELECT ebs_flow_day_partition('flow_bins', %s)", (day,))
    return ids


@pytest.fixture
def collector(db, conn, tmp_path):
    ids = _seed(conn)

    def make() -> NfacctdServer:
        server = NfacctdServer(directory=tmp_path / "nfacctd",
                               port=free_port(udp=True, tcp=False), **role_fields(db, "flow"))
        server.collector = collector_maps.build(conn, server.maps_dir)
        return server

    server = start_with_retry(make)
    yield server, ids
    server.stop()


def test_replayed_netflow_is_rated_to_the_exact_bytes_and_charges(collector, conn, tmp_path):
    server, ids = collector
    replay(write_pcap(tmp_path / "flows.pcap", FLOWS), server.port, version=5)
    server.stop()  # SIGINT: the plugins purge their caches; stop() waits for the writes

    result = rate(conn, datetime.now(UTC), ZoneInfo("UTC"))
    alice, bob = ids["alice"], ids["bob"]
    assert group_bytes(conn, alice, ids["all"]) == (ALICE_IN.bytes + ALICE_CDN.bytes,
                                                    ALICE_OUT.bytes)
    assert group_bytes(conn, alice, ids["local_in"]) == (ALICE_IN.bytes, 0)
    assert group_bytes(conn, bob, ids["all"]) == (0, BOB_OUT.bytes)
    for holder, flows in ((alice, [ALICE_OUT, ALICE_IN, ALICE_CDN]), (bob, [BOB_OUT])):
        used = sum(f.bytes for f in flows)
        assert traffic_charges(conn, holder) == round_money(used * PRICE * BYTE_PRICE_FACTOR)
    rejected = conn.execute("SELECT reason, sum(row_count), sum(bytes) FROM traffic_rejects"
                            " GROUP BY 1").fetchall()
    assert rejected == [("no_holder", 1, NOBODY.bytes)]
    assert result.entries == 2

    again = rate(conn, datetime.now(UTC), ZoneInfo("UTC"))
    assert (again.entries, again.changed) == (0, 0)
