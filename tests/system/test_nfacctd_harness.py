"""The private nfacctd harness: a pcap built here, replayed as NetFlow v5 by softflowd into
a real nfacctd, which writes raw rows into the test's own PostgreSQL database."""

from __future__ import annotations

import socket
import struct
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bench.netflow_v9 import Exporter, FlowRecord, datagram_bodies
from stack.servers.base import ServerError, free_port
from stack.servers.nfacctd import CACHE_FULL, NfacctdServer
from tests.harness import role_fields, start_with_retry

TCP, UDP = 6, 17
PCAP_LEAD_SECONDS = 5  # the pcap's first packet is this far in the past when it is written


@dataclass(frozen=True)
class Flow:
    src: str
    src_port: int
    dst: str
    dst_port: int
    proto: int
    packets: int
    payload: int  # bytes of payload per packet

    @property
    def ip_length(self) -> int:
        return 20 + (20 if self.proto == TCP else 8) + self.payload

    @property
    def bytes(self) -> int:  # NetFlow counts IP bytes: header included, Ethernet not
        return self.packets * self.ip_length

    @property
    def key(self) -> tuple:
        return (self.src, self.dst, self.src_port, self.dst_port, self.proto)


FLOWS = [
    Flow("10.0.0.1", 40000, "192.0.2.10", 80, TCP, 5, 100),
    Flow("192.0.2.10", 80, "10.0.0.1", 40000, TCP, 7, 1000),  # the reply: its own row
    Flow("10.0.0.2", 5353, "198.51.100.7", 53, UDP, 3, 50),
    Flow("10.0.0.3", 1234, "203.0.113.5", 4321, UDP, 1, 1400),
    Flow("10.0.0.4", 51000, "192.0.2.99", 443, TCP, 20, 1448),
]
OTHER_FLOWS = [
    Flow("10.1.0.1", 41000, "192.0.2.20", 22, TCP, 4, 64),
    Flow("10.1.0.2", 6000, "198.51.100.8", 123, UDP, 2, 48),
]


def _checksum(header: bytes) -> int:
    total = sum(struct.unpack(f"!{len(header) // 2}H", header))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def ipv4_packet(flow: Flow, ident: int) -> bytes:
    if flow.proto == TCP:
        l4 = struct.pack("!HHIIBBHHH", flow.src_port, flow.dst_port, ident, 1, 5 << 4, 0x18,
                         65535, 0, 0)
    else:
        l4 = struct.pack("!HHHH", flow.src_port, flow.dst_port, 8 + flow.payload, 0)
    body = l4 + b"x" * flow.payload
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(body), ident & 0xFFFF, 0x4000, 64,
                         flow.proto, 0, socket.inet_aton(flow.src), socket.inet_aton(flow.dst))
    header = header[:10] + struct.pack("!H", _checksum(header)) + header[12:]
    return header + body


def write_pcap(path: Path, flows: list[Flow]) -> Path:
    """A libpcap file of Ethernet frames, the flows' packets interleaved, 10 ms apart."""
    ethernet = b"\x02\x00\x00\x00\x00\x01" + b"\x02\x00\x00\x00\x00\x02" + b"\x08\x00"
    queue = [(flow, n) for flow in flows for n in range(flow.packets)]
    queue.sort(key=lambda item: item[1])
    records = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    start = int(time.time()) - PCAP_LEAD_SECONDS
    for i, (flow, n) in enumerate(queue):
        frame = ethernet + ipv4_packet(flow, n)
        micros = i * 10_000
        records.append(struct.pack("<IIII", start + micros // 1_000_000, micros % 1_000_000,
                                   len(frame), len(frame)) + frame)
    path.write_bytes(b"".join(records))
    return path


def replay(pcap: Path, port: int, version: int = 5) -> None:
    """softflowd reads the file, exports every flow as NetFlow v5 (or v9) and exits at
    EOF."""
    subprocess.run(
        ["softflowd", "-r", str(pcap), "-n", f"127.0.0.1:{port}", "-v", str(version),
         "-p", str(pcap.with_suffix(".pid"))],
        check=True, capture_output=True, timeout=30,
    )


def make_collector(directory: Path, conninfo: str) -> NfacctdServer:
    return NfacctdServer(
        directory=directory,
        port=free_port(udp=True, tcp=False),
        **role_fields(conninfo, "flow"),  # nfacctd's own role: INSERT into flow_raw only
    )


@pytest.fixture
def collector(db, tmp_path, monkeypatch):
    monkeypatch.setenv("TZ", "Asia/Tokyo")  # bins must come out in UTC all the same
    server = start_with_retry(lambda: make_collector(tmp_path / "nfacctd", db))
    yield server
    server.stop()


def rows(conn) -> list[tuple]:
    return conn.execute(
        """SELECT host(ip_src), host(ip_dst), port_src, port_dst, ip_proto, packets, bytes,
                  stamp_inserted, stamp_updated, tableoid::regclass::text
           FROM flow_raw ORDER BY ip_src, ip_dst"""
    ).fetchall()


def assert_landed(found: list[tuple], flows: list[Flow], since: datetime) -> None:
    by_key = {row[:5]: row for row in found}
    assert len(by_key) == len(found), "one row per flow and bin"
    assert set(by_key) == {f.key for f in flows}
    for flow in flows:
        row = by_key[flow.key]
        assert (row[5], row[6]) == (flow.packets, flow.bytes), flow
        bin_start, updated = row[7], row[8]
        assert bin_start.second == 0 and bin_start.microsecond == 0  # one-minute bins
        # the pcap's packets start 5 s before it is written, so their bin may be the minute before
        earliest = (since - timedelta(seconds=PCAP_LEAD_SECONDS)).replace(second=0, microsecond=0)
        assert earliest <= bin_start <= datetime.now(UTC)
        assert updated is not None and updated >= bin_start


def test_flows_land_exactly_in_postgres(collector, conn, tmp_path):
    today = datetime.now(UTC).date()
    for day in (today, today + timedelta(days=1)):  # a run across midnight stays covered
        conn.execute("SELECT ebs_flow_day_partition('flow_raw', %s)", (day,))
    since = datetime.now(UTC)

    replay(write_pcap(tmp_path / "flows.pcap", FLOWS), collector.port)
    collector.stop()  # SIGINT: the plugin purges its cache; stop() waits for the write

    found = rows(conn)
    assert_landed(found, FLOWS, since)
    assert {row[9] for row in found} <= {f"flow_raw_{d:%Y%m%d}" for d in (today, today +
                                                                           timedelta(days=1))}
    assert collector.errors() == []
    assert not collector.running() and collector.plugin_pids() == []


def test_two_collectors_side_by_side(collector, db, conn, tmp_path):
    second = start_with_retry(lambda: make_collector(tmp_path / "second", db))
    try:
        assert second.port != collector.port
        since = datetime.now(UTC)
        replay(write_pcap(tmp_path / "one.pcap", FLOWS), collector.port)
        replay(write_pcap(tmp_path / "two.pcap", OTHER_FLOWS), second.port)
    finally:
        started = time.monotonic()
        with ThreadPoolExecutor(2) as pool:  # each stop takes nfacctd's own 2 s
            list(pool.map(NfacctdServer.stop, [collector, second]))
    assert time.monotonic() - started < 10  # no waiting for the next minute's purge

    found = rows(conn)
    assert_landed(found, FLOWS + OTHER_FLOWS, since)
    assert {row[9] for row in found} == {"flow_raw_default"}  # no day partition prepared
    assert collector.errors() == [] and second.errors() == []


def test_missing_table_is_reported_before_start(db, tmp_path):
    server = make_collector(tmp_path / "nfacctd", db)
    server.table = "no_such_table"
    with pytest.raises(ServerError, match="no_such_table does not exist"):
        server.start()
    assert not server.running()


def test_day_partition_is_idempotent(conn):
    make = "SELECT ebs_flow_day_partition('flow_raw', '2026-03-29')::text"
    first = conn.execute(make).fetchone()[0]
    again = conn.execute(make).fetchone()[0]
    assert first == again == "flow_raw_20260329"
    bounds = conn.execute(
        "SELECT pg_get_expr(relpartbound, oid) FROM pg_class WHERE relname = %s", (first,)
    ).fetchone()[0]
    assert "2026-03-29 00:00:00+00" in bounds and "2026-03-30 00:00:00+00" in bounds



def test_a_full_cache_is_reported_as_an_error(db, conn, tmp_path):
    """pmacct logs a plugin's full queue of cache entries only as INFO, yet miscounts
    after it (flow/collector_maps.py): errors() must show it. The queue holds the cache's
    entries + 6,000, so 101 entries and 7,000 distinct flows in one interval fill it."""
    today = datetime.now(UTC).date()
    for day in (today, today + timedelta(days=1)):
        conn.execute("SELECT ebs_flow_day_partition('flow_raw', %s)", (day,))
    records = [FlowRecord(f"10.2.{n // 250}.{n % 250 + 1}", "192.0.2.1", 1024 + n % 50000, 80,
                          TCP, 1, 100) for n in range(7_000)]
    bodies = datagram_bodies(records)

    def make() -> NfacctdServer:
        server = make_collector(tmp_path / "small", db)
        server.cache_entries = 101
        return server

    server = start_with_retry(make)
    exporter = Exporter(("127.0.0.1", server.port))
    try:
        exporter.run(bodies, 20_000, len(records) / 20_000)
    finally:
        exporter.close()
        server.stop()
    assert any(CACHE_FULL in line for line in server.errors())
