"""The benchmark's NetFlow v9 encoding against RFC 3954's layout, byte for byte, and its
pacing: a sender that keeps its schedule sends the flows its rate and time say."""

from __future__ import annotations

import socket

import pytest

from bench.netflow_v9 import (
    RECORDS_PER_DATAGRAM,
    Exporter,
    FlowRecord,
    data_flowset,
    datagram_bodies,
    header,
    template_flowset,
)

RECORD = FlowRecord("198.18.0.1", "10.64.0.1", 443, 1024, 6, 1000, 1_500_000)


def test_header_is_rfc_3954_section_5_1():
    assert header(3, 0x01020304, 0x05060708, 0x0A0B0C0D).hex() == (
        "0009" "0003" "01020304" "05060708" "0a0b0c0d" "00000001")


def test_template_flowset_lists_the_fields_in_record_order():
    assert template_flowset().hex() == (
        "0000" "002c"  # flowset id 0 (templates), length 44
        "0100" "0009"  # template 256, nine fields
        "00080004" "000c0004" "00070002" "000b0002" "00040001"  # addresses, ports, proto
        "00020004" "00010004" "00160004" "00150004")  # packets, bytes, first, last


def test_data_flowset_is_padded_to_32_bits():
    one = data_flowset([RECORD], switched_ms=7)
    assert one.hex() == (
        "0100" "0024"  # template 256's data, 4 + 29 + 3 bytes of padding
        "c6120001" "0a400001" "01bb" "0400" "06" "000003e8" "0016e360" "00000007" "00000007"
        "000000")
    assert len(data_flowset([RECORD] * 4)) == 4 + 4 * 29 + 0


def test_the_stream_is_cut_into_full_datagrams_and_a_rest():
    bodies = datagram_bodies([RECORD] * (2 * RECORDS_PER_DATAGRAM + 3))
    assert [n for n, _ in bodies] == [RECORDS_PER_DATAGRAM, RECORDS_PER_DATAGRAM, 3]


def test_paced_sender_sends_template_first_then_the_rate():
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    sink.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    exporter = Exporter(sink.getsockname())
    try:
        bodies = datagram_bodies([RECORD] * 100)
        sent = exporter.run(bodies, rate=4000, seconds=0.5)
        first = sink.recv(2048)
    finally:
        exporter.close()
        sink.close()
    assert first[:4] == bytes.fromhex("00090001") and first[20:22] == b"\0\0"
    assert sent.flows == pytest.approx(2000, abs=RECORDS_PER_DATAGRAM)
    counts = [n for n, _ in bodies]  # 40, 40, 20, and round again
    assert sent.flows == sum(counts[k % 3] for k in range(sent.datagrams))
    assert 0.5 <= sent.seconds < 1.5  # a loaded box may send the last datagram late


def test_nothing_to_send_is_refused():
    exporter = Exporter(("127.0.0.1", 9))
    try:
        with pytest.raises(ValueError):
            exporter.run([], rate=1000, seconds=1)
    finally:
        exporter.close()
