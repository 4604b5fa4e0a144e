"""Counter-less records (MikroTik's IPFIX sends records with no bytes) reach the rater
through the real collector and are counted as rejected, reason zero_bytes, not charged
and not dropped unseen; a counted record beside them is charged as ever."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from bench.flow_data import FLOW_BYTES, FLOW_PACKETS, address, seed
from bench.netflow_v9 import Exporter, FlowRecord, datagram_bodies
from flow.rater import rate
from tests.integration.traffic_helpers import group_bytes
from tests.system.traffic_chain_helpers import start_collector

TCP = 6


def test_a_record_without_bytes_is_counted_not_charged(db, conn, tmp_path):
    seed(conn, 2, datetime.now(UTC))
    silent, counted = address(0), address(1)
    records = [FlowRecord("198.18.0.1", silent, 443, 1024, TCP, 0, 0),
               FlowRecord("198.18.0.2", counted, 443, 1025, TCP, FLOW_PACKETS, FLOW_BYTES)]

    server = start_collector(db, conn, tmp_path / "ours")
    exporter = Exporter(("127.0.0.1", server.port))
    try:
        sent = exporter.run(datagram_bodies(records), 2, 0.5)  # one datagram, both records
    finally:
        exporter.close()
        server.stop()
    assert (sent.datagrams, sent.flows) == (1, 2)
    assert server.errors() == []

    rate(conn, datetime.now(UTC), ZoneInfo("UTC"))
    rejected = conn.execute("SELECT reason, sum(row_count), sum(bytes) FROM traffic_rejects"
                            " GROUP BY 1").fetchall()
    assert rejected == [("zero_bytes", 1, 0)]
    owner = {ip: account for ip, account in conn.execute(
        "SELECT host(framed_ip), account_id FROM sessions_open")}
    group = conn.execute("SELECT group_id FROM traffic_group_classes ORDER BY class_id"
                         " LIMIT 1").fetchone()[0]
    assert group_bytes(conn, owner[counted], group) == (FLOW_BYTES, 0)
    assert group_bytes(conn, owner[silent], group) == (0, 0)
    charged = dict(conn.execute("SELECT account_id, count(*) FROM ledger_entries"
                                " WHERE kind = 'charge_traffic' GROUP BY 1").fetchall())
    assert charged == {owner[counted]: 1}
