"""The benchmark's NetFlow v9 sender speaks a v9 that nfacctd decodes to the byte: sent at
a low rate to our collector (configured from the database) and to the baseline's print
plugin, every record lands with its exact bytes and packets, in its class and direction."""

from __future__ import annotations

import csv
from collections import Counter
from datetime import UTC, datetime

import pytest

from bench.flow_collectors import PrintNfacctd, log_problems, log_size
from bench.flow_data import CLASSES, FLOW_BYTES, FLOW_PACKETS, address, seed, stream
from bench.netflow_v9 import Exporter, FlowRecord, datagram_bodies
from flow import collector_maps
from stack.servers.base import free_port
from stack.servers.nfacctd import NfacctdServer
from stack.servers.udp_socket import drained
from tests.harness import role_fields, start_with_retry

ADDRESSES = 7  # 70 records: two datagrams of 40 and 30
RATE, SECONDS = 2_000, 1.5


def _send(port: int, bodies) -> Counter:
    """Send, and count how many times each record went out (the bodies go round)."""
    exporter = Exporter(("127.0.0.1", port))
    try:
        sent = exporter.run([(len(recs), body) for recs, body in bodies], RATE, SECONDS)
    finally:
        exporter.close()
    assert sent.achieved == pytest.approx(RATE, rel=0.05)
    assert sent.templates >= 2  # first, and again every second
    times: Counter = Counter()
    for k in range(sent.datagrams):
        for record in bodies[k % len(bodies)][0]:
            times[record] += 1
    assert sum(times.values()) == sent.flows
    return times


@pytest.fixture
def records() -> list[FlowRecord]:
    return list(stream(ADDRESSES))


@pytest.fixture
def bodies(records):
    """(records, flowset) per datagram, as the sender cuts the stream."""
    cut = datagram_bodies(records)
    assert [n for n, _ in cut] == [40, 30]
    return [(records[:40], cut[0][1]), (records[40:], cut[1][1])]


def test_our_collector_writes_every_record_to_the_byte(db, conn, tmp_path, records, bodies):
    class_ids = seed(conn, ADDRESSES, datetime.now(UTC))

    def make() -> NfacctdServer:
        server = NfacctdServer(directory=tmp_path / "ours", table="flow_bins",
                               port=free_port(udp=True, tcp=False), **role_fields(db, "flow"))
        server.collector = collector_maps.build(conn, server.maps_dir)
        return server

    server = start_with_retry(make)
    try:
        times = _send(server.port, bodies)
        assert drained(server.port).drops == 0
    finally:
        stop_offset = log_size(server)
        server.stop()
    assert log_problems(server, stop_offset) == []

    expected: Counter = Counter()
    for record in records:
        direction = "in" if record.dst.startswith("10.") else "out"
        local, remote = (record.dst, record.src) if direction == "in" else (record.src,
                                                                             record.dst)
        class_id = class_ids[int(remote.split(".")[2])]
        expected[(local, class_id, direction)] += times[record]
    landed = conn.execute(
        "SELECT host(address), class_id, direction, sum(bytes), sum(packets)"
        " FROM flow_bin_rows GROUP BY 1, 2, 3").fetchall()
    assert {(a, c, d): (int(b), int(p)) for a, c, d, b, p in landed} == {
        key: (n * FLOW_BYTES, n * FLOW_PACKETS) for key, n in expected.items()}
    assert len(expected) == ADDRESSES * CLASSES * 2
    assert {a for a, *_ in landed} == {address(i) for i in range(ADDRESSES)}


def test_the_baseline_print_plugin_writes_every_record_to_the_byte(db, tmp_path, records,
                                                                   bodies):
    server = start_with_retry(lambda: PrintNfacctd(
        directory=tmp_path / "baseline", port=free_port(udp=True, tcp=False),
        **role_fields(db, "flow")))
    try:
        times = _send(server.port, bodies)
    finally:
        stop_offset = log_size(server)
        server.stop()
    assert log_problems(server, stop_offset) == []
    expected: Counter = Counter()
    for record in records:
        expected[(record.src, record.dst)] += times[record] * FLOW_BYTES
    with server.print_file.open(newline="") as fh:
        written = [(r["SRC_IP"], r["DST_IP"], int(r["BYTES"])) for r in csv.DictReader(fh)]
    assert {(src, dst): n for src, dst, n in written} == expected
    assert server.landed_bytes() == (len(expected), sum(expected.values()))
