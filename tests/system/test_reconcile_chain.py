"""RADIUS against NetFlow over the real chain: a pcap replayed by softflowd as NetFlow v5 to
a private nfacctd configured from the database, its rows in flow_bins, then the
reconciliation: the session whose accounting matches its flows is not flagged, the one
whose accounting is twice its flows is, with both figures; a second NAS that exports
nothing while its session's counters grow is silent; a second run writes nothing new."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from flow.reconcile import mismatches, reconcile
from tests.integration.charging_helpers import account, assign, tariff
from tests.system.test_nfacctd_harness import TCP, UDP, Flow
from tests.system.traffic_chain_helpers import collect, flow_bin_partitions

NAS_IP = "127.0.0.1"        # softflowd sends from here
QUIET_NAS_IP = "127.0.0.2"  # exports nothing

ALICE_OUT = Flow("10.0.0.1", 40000, "192.0.2.10", 80, TCP, 50, 100)
ALICE_IN = Flow("192.0.2.10", 80, "10.0.0.1", 40000, TCP, 70, 1000)
BOB_IN = Flow("198.51.100.7", 443, "10.0.0.2", 50000, TCP, 40, 1400)
BOB_OUT = Flow("10.0.0.2", 1234, "198.51.100.8", 123, UDP, 4, 48)
FLOWS = [ALICE_OUT, ALICE_IN, BOB_IN, BOB_OUT]


def _session(conn, key, account_id, nas_id, ip, started_at, updated_at, received, sent):
    conn.execute(
        "INSERT INTO sessions_open (acct_unique_id, acct_session_id, account_id, nas_id,"
        " nas_ip, framed_ip, started_at, updated_at, input_octets, output_octets)"
        " SELECT %s, %s, %s, id, ip_address, %s, %s, %s, %s, %s FROM nas WHERE id = %s",
        (key, key, account_id, ip, started_at, updated_at, sent, received, nas_id))


def _seed(conn) -> dict:
    conn.execute("INSERT INTO ip_pools (name, range_start, range_end)"
                 " VALUES ('main', '10.0.0.0', '10.0.0.127')")
    ids = {}
    for name, ip in (("nas", NAS_IP), ("quiet", QUIET_NAS_IP)):
        ids[name] = conn.execute(
            "INSERT INTO nas (name, ip_address, secret) VALUES (%s, %s,"
            " 'a-long-enough-secret-1234') RETURNING id", (name, ip)).fetchone()[0]
    plan = tariff(conn)
    now = datetime.now(UTC)
    for holder in ("alice", "bob", "carol"):
        ids[holder] = account(conn)
        assign(conn, ids[holder], plan, now - timedelta(days=1))
    flow_bin_partitions(conn)
    return ids


@pytest.fixture
def collector(conn, chain_collector):
    ids = _seed(conn)
    return chain_collector(), ids


def test_replayed_netflow_against_accounting(collector, conn, tmp_path):
    server, ids = collector
    collect(server, FLOWS, tmp_path / "flows.pcap", version=5)
    landed = conn.execute("SELECT sum(bytes) FROM flow_bin_rows").fetchone()[0]
    assert landed == sum(f.bytes for f in FLOWS)

    now = datetime.now(UTC)
    start, interim = now - timedelta(minutes=30), now + timedelta(seconds=1)
    # Alice's NAS counted exactly what the collector saw; Bob's twice as much.
    _session(conn, "alice", ids["alice"], ids["nas"], "10.0.0.1", start, interim,
             received=ALICE_IN.bytes, sent=ALICE_OUT.bytes)
    _session(conn, "bob", ids["bob"], ids["nas"], "10.0.0.2", start, interim,
             received=2 * BOB_IN.bytes, sent=2 * BOB_OUT.bytes)
    # Carol's NAS exports no flows, and her counters grew a minute ago.
    _session(conn, "carol", ids["carol"], ids["quiet"], "10.0.0.3", start,
             now - timedelta(minutes=1), received=5_000_000, sent=100_000)

    result = reconcile(conn, now, min_bytes=0)
    assert (result.sessions_checked, result.sessions_mismatched) == (3, 2)
    assert result.exporters_silent == 1
    flagged = {(r["kind"], r["acct_unique_id"] or r["nas_id"]): r for r in mismatches(conn)}
    bob = flagged[("session", "bob")]
    bob_bytes = BOB_IN.bytes + BOB_OUT.bytes
    assert (bob["accounting_bytes"], bob["flow_bytes"], bob["difference"]) == (
        2 * bob_bytes, bob_bytes, bob_bytes)
    carol = flagged[("session", "carol")]
    assert (carol["accounting_bytes"], carol["flow_bytes"]) == (5_100_000, 0)
    assert ("session", "alice") not in flagged
    quiet = flagged[("exporter", ids["quiet"])]
    assert (quiet["state"], quiet["accounting_bytes"], quiet["flow_bytes"]) == (
        "silent", 5_100_000, 0)
    # The exporting NAS's hour (two, if the run straddled one's end) holds every flow
    # it sent against Alice's and Bob's counters, and it is not silent.
    exporting = conn.execute(
        "SELECT sum(accounting_bytes), sum(flow_bytes), bool_or(state = 'silent')"
        " FROM traffic_reconciliation WHERE kind = 'exporter' AND nas_id = %s",
        (ids["nas"],)).fetchone()
    assert exporting == (ALICE_IN.bytes + ALICE_OUT.bytes + 2 * bob_bytes,
                         sum(f.bytes for f in FLOWS), False)

    before = conn.execute("SELECT * FROM traffic_reconciliation ORDER BY id").fetchall()
    reconcile(conn, now, min_bytes=0)
    assert conn.execute("SELECT * FROM traffic_reconciliation ORDER BY id").fetchall() == before
