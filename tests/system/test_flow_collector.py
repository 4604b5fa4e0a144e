"""The collector end to end: a database holding traffic classes, a pool, a static address
and a NAS; nfacctd configured from it (flow.collector_maps); a pcap replayed by softflowd
as NetFlow v5 and v9, and hand-built NetFlow v5 and IPFIX datagrams for what softflowd
cannot send (another exporter, an IPv6 one, sampling, counter-less records). flow_bins
must hold the exact bytes per (address, class, direction), and nothing else."""

from __future__ import annotations

import os
import socket
import struct
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from flow import collector_maps
from stack.servers.base import ServerError, free_port
from stack.servers.nfacctd import NfacctdServer
from tests.harness import role_fields, start_with_retry
from tests.system.test_nfacctd_harness import TCP, UDP, Flow, replay, write_pcap

NAS_IP = "127.0.0.1"
STRANGER_IP = "127.0.0.2"  # a sender that is not in the nas table
STATIC_IP = "10.9.0.5"

# (name, weight, passthrough, store, nodes as (network, protocol, port))
CLASSES = [
    ("dns", 10, False, False, [("198.51.100.0/24", UDP, 53)]),
    ("local", 20, False, True, [("192.0.2.0/24", None, None)]),
    ("peering", 25, True, False, [("203.0.113.0/24", None, None), ("192.0.2.0/24", None, None),
                                  ("198.51.100.0/24", None, None)]),
    ("cdn", 40, False, False, [("198.51.100.0/24", None, None)]),
]

F_LOCAL_OUT = Flow("10.0.0.1", 40000, "192.0.2.10", 80, TCP, 5, 100)
F_LOCAL_IN = Flow("192.0.2.10", 80, "10.0.0.1", 40000, TCP, 7, 1000)
F_DNS_OUT = Flow("10.0.0.2", 5353, "198.51.100.7", 53, UDP, 3, 50)
F_DNS_IN = Flow("198.51.100.7", 53, "10.0.0.2", 5353, UDP, 2, 200)
F_CDN_OUT = Flow(STATIC_IP, 1234, "198.51.100.8", 123, UDP, 4, 48)  # cdn + peering
F_PEER_IN = Flow("203.0.113.5", 443, STATIC_IP, 5000, TCP, 6, 1200)  # no class + peering
F_NONE_OUT = Flow("10.0.0.3", 6000, "100.64.0.1", 7000, UDP, 1, 1400)  # no class
F_OUTSIDER = Flow("10.50.0.1", 1000, "192.0.2.20", 80, TCP, 4, 64)  # nobody's address
F_NEIGHBOURS = Flow("10.0.0.4", 1111, STATIC_IP, 2222, UDP, 2, 300)  # both ends ours
FLOWS = [F_LOCAL_OUT, F_LOCAL_IN, F_DNS_OUT, F_DNS_IN, F_CDN_OUT, F_PEER_IN, F_NONE_OUT,
         F_OUTSIDER, F_NEIGHBOURS]


def seed(conn) -> dict[str, int]:
    """The classes, a pool 10.0.0.0-10.0.0.127, a subaccount's static address, one NAS."""
    ids = {}
    for name, weight, passthrough, store, nodes in CLASSES:
        ids[name] = conn.execute(
            "INSERT INTO traffic_classes (name, weight, passthrough, store)"
            " VALUES (%s, %s, %s, %s) RETURNING id",
            (name, weight, passthrough, store)).fetchone()[0]
        for network, protocol, port in nodes:
            conn.execute("INSERT INTO traffic_class_nodes (class_id, network, protocol, port)"
                         " VALUES (%s, %s, %s, %s)", (ids[name], network, protocol, port))
    conn.execute("INSERT INTO ip_pools (name, range_start, range_end)"
                 " VALUES ('main', '10.0.0.0', '10.0.0.127')")
    account = conn.execute("INSERT INTO accounts (contract, login) VALUES ('c1', 'a1')"
                           " RETURNING id").fetchone()[0]
    conn.execute("INSERT INTO subaccounts (account_id, username, ip_address)"
                 " VALUES (%s, 'static1', %s)", (account, STATIC_IP))
    conn.execute("INSERT INTO nas (name, ip_address, secret)"
                 " VALUES ('nas1', %s, 'a-long-enough-secret-1234')", (NAS_IP,))
    today = datetime.now(UTC).date()
    for table in ("flow_bins", "flow_raw"):
        for day in (today, today + timedelta(days=1)):  # a run across midnight is covered
            conn.execute("SELECT ebs_flow_day_partition(%s, %s)", (table, day))
    return ids


def make_server(tmp_path, db, conn) -> NfacctdServer:
    server = NfacctdServer(directory=tmp_path / "nfacctd", port=free_port(udp=True, tcp=False),
                           **role_fields(db, "flow"))
    server.collector = collector_maps.build(conn, server.maps_dir)
    return server


@pytest.fixture
def collector(db, conn, tmp_path):
    ids = seed(conn)
    server = start_with_retry(lambda: make_server(tmp_path, db, conn))
    yield server, ids
    server.stop()


def bins(conn) -> dict[tuple[str, int, str], int]:
    """Bytes per (address, class, direction) over every bin, read as the rater reads."""
    found: dict[tuple[str, int, str], int] = defaultdict(int)
    for address, class_id, direction, nbytes in conn.execute(
            "SELECT host(address), class_id, direction, bytes FROM flow_bin_rows"):
        found[(address, class_id, direction)] += nbytes
    return dict(found)


def expected_bins(ids: dict[str, int]) -> dict[tuple[str, int, str], int]:
    peering = ids["peering"]
    rows = [
        (("10.0.0.1", ids["local"], "out"), F_LOCAL_OUT),
        (("10.0.0.1", ids["local"], "in"), F_LOCAL_IN),
        (("10.0.0.2", ids["dns"], "out"), F_DNS_OUT),
        (("10.0.0.2", ids["dns"], "in"), F_DNS_IN),
        ((STATIC_IP, ids["cdn"], "out"), F_CDN_OUT),
        ((STATIC_IP, peering, "out"), F_CDN_OUT),  # passthrough ahead of cdn: both
        ((STATIC_IP, 0, "in"), F_PEER_IN),  # the passthrough class only: also no class
        ((STATIC_IP, peering, "in"), F_PEER_IN),
        (("10.0.0.3", 0, "out"), F_NONE_OUT),
        (("10.0.0.4", 0, "out"), F_NEIGHBOURS),
        ((STATIC_IP, 0, "in"), F_NEIGHBOURS),
    ]
    expected: dict[tuple[str, int, str], int] = defaultdict(int)
    for key, flow in rows:
        expected[key] += flow.bytes
    return dict(expected)


@pytest.mark.parametrize("version", [5, 9])
def test_flows_land_per_address_class_and_direction(collector, conn, tmp_path, version):
    server, ids = collector
    since = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
    replay(write_pcap(tmp_path / "flows.pcap", FLOWS), server.port, version=version)
    server.stop()  # SIGINT: every plugin purges its cache; stop() waits for the writes

    assert bins(conn) == expected_bins(ids)  # the outsider's flow is nowhere
    rows = conn.execute(
        "SELECT DISTINCT host(peer_ip_src), stamp_inserted, tableoid::regclass::text"
        " FROM flow_bins").fetchall()
    assert {r[0] for r in rows} == {NAS_IP}
    assert all(since <= r[1] <= datetime.now(UTC) and r[1].second == 0 for r in rows)
    assert not any(r[2] == "flow_bins_default" for r in rows)
    # only the stored class ("local") keeps raw 5-tuples
    raw = conn.execute("SELECT host(ip_src), host(ip_dst), port_src, port_dst, ip_proto,"
                       " bytes FROM flow_raw ORDER BY 1").fetchall()
    assert sorted(raw) == sorted(
        (f.src, f.dst, f.src_port, f.dst_port, f.proto, f.bytes)
        for f in (F_LOCAL_OUT, F_LOCAL_IN))
    assert conn.execute("SELECT count(*) FROM flow_rejects").fetchone()[0] == 0
    assert server.errors() == []


# ---- NetFlow v5 by hand: softflowd sends from 127.0.0.1 and never samples


def v5_datagram(records: list[tuple[Flow, int, int]], sampling_interval: int = 0) -> bytes:
    """A NetFlow v5 export of (flow, packets, bytes) records; ``sampling_interval`` is
    the header's 14-bit interval with mode 1 (packet interval) when given."""
    sampling = (1 << 14) | sampling_interval if sampling_interval else 0
    header = struct.pack("!HHIIIIBBH", 5, len(records), 100_000, int(time.time()), 0, 0,
                         0, 0, sampling)
    body = b"".join(
        struct.pack("!4s4s4sHHIIIIHHBBBBHHBBH", socket.inet_aton(f.src),
                    socket.inet_aton(f.dst), bytes(4), 1, 2, packets, octets, 99_000, 99_900,
                    f.src_port, f.dst_port, 0, 0, f.proto, 0, 0, 0, 0, 0, 0)
        for f, packets, octets in records)
    return header + body


# IPFIX fields (id, length): source and destination address, protocol, ports; then,
# when the exporter sends them, octetDeltaCount and packetDeltaCount.
IPFIX_KEY_FIELDS = [(8, 4), (12, 4), (4, 1), (7, 2), (11, 2)]
IPFIX_COUNTERS = [(1, 8), (2, 8)]


def ipfix_datagram(records: list[tuple[Flow, int, int]], *, counters: bool,
                   template_id: int = 256) -> bytes:
    """An IPFIX message: a template set, then a data set of (flow, packets, bytes); a
    template without counters is what MikroTik sends for some records."""
    fields = IPFIX_KEY_FIELDS + (IPFIX_COUNTERS if counters else [])
    template = struct.pack("!HH", template_id, len(fields)) + b"".join(
        struct.pack("!HH", ident, length) for ident, length in fields)
    data = b""
    for f, packets, octets in records:
        data += socket.inet_aton(f.src) + socket.inet_aton(f.dst) + struct.pack(
            "!BHH", f.proto, f.src_port, f.dst_port)
        if counters:
            data += struct.pack("!QQ", octets, packets)
    sets = (struct.pack("!HH", 2, 4 + len(template)) + template
            + struct.pack("!HH", template_id, 4 + len(data)) + data)
    return struct.pack("!HHIII", 10, 16 + len(sets), int(time.time()), 0, 1) + sets


def send_from(source: str, port: int, datagram: bytes) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((source, 0))
        sock.sendto(datagram, ("127.0.0.1", port))


def test_bad_input_is_counted_or_corrected_never_junk(collector, conn):
    server, ids = collector
    stranger = [(F_LOCAL_IN, 7, 7000), (F_OUTSIDER, 4, 400)]
    send_from(STRANGER_IP, server.port, v5_datagram(stranger))
    zero = Flow("192.0.2.30", 80, "10.0.0.5", 40001, TCP, 1, 0)
    sampled = Flow("192.0.2.31", 80, "10.0.0.6", 40002, TCP, 1, 0)
    send_from(NAS_IP, server.port, v5_datagram([(zero, 0, 0)]))
    send_from(NAS_IP, server.port, v5_datagram([(sampled, 3, 3000)], sampling_interval=10))
    counterless = Flow("192.0.2.32", 80, "10.0.0.7", 40003, TCP, 1, 0)
    counted = Flow("192.0.2.33", 80, "10.0.0.8", 40004, TCP, 1, 0)
    send_from(NAS_IP, server.port, ipfix_datagram([(counterless, 0, 0)], counters=False))
    send_from(NAS_IP, server.port, ipfix_datagram([(counted, 4, 4321)], counters=True,
                                                  template_id=257))
    server.stop()

    # sampled 1 in 10: renormalized; the zero and counter-less records land as rows of
    # no bytes, which the rater counts as rejected (tests/system/test_flow_zero_bytes.py)
    assert bins(conn) == {("10.0.0.6", ids["local"], "in"): 30_000,
                          ("10.0.0.8", ids["local"], "in"): 4321,
                          ("10.0.0.5", ids["local"], "in"): 0,
                          ("10.0.0.7", ids["local"], "in"): 0}
    rejects = conn.execute("SELECT host(peer_ip_src), reason, sum(packets), sum(bytes)"
                           " FROM flow_rejects GROUP BY 1, 2").fetchall()
    assert rejects == [(STRANGER_IP, "unknown_exporter", 11, 7400)]
    assert server.errors() == []


def test_class_change_is_reloaded_and_pool_change_restarts(collector, conn, tmp_path):
    server, ids = collector
    core = server.core_pid()
    same = server.apply(collector_maps.build(conn, server.maps_dir))
    assert same == {"server": "current"}

    conn.execute("DELETE FROM traffic_class_nodes WHERE class_id = %s", (ids["local"],))
    conn.execute("INSERT INTO traffic_class_nodes (class_id, network) VALUES (%s, %s)",
                 (ids["cdn"], "192.0.2.0/24"))
    reloaded = server.apply(collector_maps.build(conn, server.maps_dir))
    assert reloaded == {"server": "reloaded", "pid": core}
    send_from(NAS_IP, server.port, v5_datagram([(F_LOCAL_IN, 7, 7000)]))

    conn.execute("INSERT INTO ip_pools (name, range_start, range_end)"
                 " VALUES ('second', '10.1.0.0', '10.1.0.255')")
    restarted = server.apply(collector_maps.build(conn, server.maps_dir))
    assert restarted["server"] == "restarted" and restarted["pid"] != core
    send_from(NAS_IP, server.port, v5_datagram([
        (Flow("192.0.2.10", 80, "10.1.0.9", 40000, TCP, 1, 0), 2, 2000)]))
    server.stop()

    # 192.0.2.10 is cdn's now, and with "local" empty the passthrough class ahead of cdn
    # counts it too; after the restart the new pool is counted
    assert bins(conn) == {("10.0.0.1", ids["cdn"], "in"): 7000,
                          ("10.0.0.1", ids["peering"], "in"): 7000,
                          ("10.1.0.9", ids["cdn"], "in"): 2000,
                          ("10.1.0.9", ids["peering"], "in"): 2000}
    assert server.errors() == []


def test_a_refused_configuration_leaves_the_previous_one_running(collector, conn):
    server, ids = collector
    good = server.collector
    broken = collector_maps.CollectorConfig(
        (collector_maps.Plugin("in", "flow_bins", (("aggregate", "no_such_primitive"),)),),
        {})
    with pytest.raises(ServerError):
        server.apply(broken)
    assert server.running() and not server.restart_marker.exists()
    assert server.apply(good) == {"server": "current"}  # the previous one runs again
    send_from(NAS_IP, server.port, v5_datagram([(F_LOCAL_IN, 7, 7000)]))
    server.stop()
    assert bins(conn) == {("10.0.0.1", ids["local"], "in"): 7000}


def test_an_ipv6_exporter_is_classified_as_an_ipv4_one(db, conn, tmp_path):
    """pmacct keeps the map's rules per address family of the exporter's address."""
    ids = seed(conn)
    conn.execute("INSERT INTO nas (name, ip_address, secret)"
                 " VALUES ('nas6', '::1', 'a-long-enough-secret-6789')")

    def make() -> NfacctdServer:
        server = make_server(tmp_path, db, conn)
        server.listen_ip = "::"  # IPv4 and IPv6 exporters alike
        return server

    server = start_with_retry(make)
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
            sock.sendto(v5_datagram([(F_LOCAL_IN, 7, 7000), (F_DNS_OUT, 3, 300)]),
                        ("::1", server.port))
        send_from(NAS_IP, server.port, v5_datagram([(F_LOCAL_IN, 1, 1000)]))
    finally:
        server.stop()
    assert bins(conn) == {("10.0.0.1", ids["local"], "in"): 8000,
                          ("10.0.0.2", ids["dns"], "out"): 300}
    exporters = conn.execute("SELECT DISTINCT host(exporter) FROM flow_bin_rows").fetchall()
    assert sorted(exporters) == [("127.0.0.1",), ("::1",)]
    assert conn.execute("SELECT count(*) FROM flow_rejects").fetchone()[0] == 0


def test_a_restart_counts_as_running_only_while_it_can_last(tmp_path):
    server = NfacctdServer(directory=tmp_path, port=1, db_host="127.0.0.1", db_port=1,
                           db_name="x", db_user="x")
    assert not server.running()
    server.restart_marker.touch()  # apply() is between stop and start
    assert server.running()
    stale = time.time() - 3600  # the process that was restarting it died
    os.utime(server.restart_marker, (stale, stale))
    assert not server.running()


def test_new_plugins_can_be_restarted_by_someone_else(collector, conn):
    """On an installed system the worker may not restart nfacctd under its unit's feet:
    apply() hands a change of plugins to ``restart`` (a request to systemd) and leaves
    the running core alone; maps alone are still reloaded in place."""
    server, _ids = collector
    core = server.core_pid()
    asked = []
    conn.execute("INSERT INTO ip_pools (name, range_start, range_end)"
                 " VALUES ('third', '10.2.0.0', '10.2.0.255')")
    result = server.apply(collector_maps.build(conn, server.maps_dir),
                          restart=lambda: asked.append(1) or {"server": "restart requested"})
    assert result == {"server": "restart requested"} and asked == [1]
    assert server.core_pid() == core
