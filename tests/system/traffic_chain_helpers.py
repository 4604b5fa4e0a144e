"""The real traffic chain's shared parts: a private nfacctd configured from the test's
database (flow/collector_maps.py renders its plugins and maps from the classes, pools,
static addresses and NAS table found there), the day partitions its rows land in, and
pcaps replayed into it by softflowd as NetFlow v5 or v9."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flow import collector_maps
from stack.servers.base import free_port
from stack.servers.nfacctd import NfacctdServer
from tests.harness import role_fields, start_with_retry
from tests.system.test_nfacctd_harness import UDP, Flow, replay, write_pcap


def flow_bin_partitions(conn) -> None:
    """Today's and tomorrow's partitions: a run across midnight lands in one as well."""
    today = datetime.now(UTC).date()
    for day in (today, today + timedelta(days=1)):
        conn.execute("SELECT ebs_flow_day_partition('flow_bins', %s)", (day,))


def start_collector(db: str, conn, directory: Path) -> NfacctdServer:
    """A private nfacctd on a free port, writing as the collector's own role, configured
    from what the database holds now (seed the classes, pools and NAS first)."""

    def make() -> NfacctdServer:
        server = NfacctdServer(directory=directory, port=free_port(udp=True, tcp=False),
                               **role_fields(db, "flow"))
        server.collector = collector_maps.build(conn, server.maps_dir)
        return server

    return start_with_retry(make)


# softflowd 1.1.0 opens its first NetFlow v9 datagram with 6 template and options records
# but counts only the data records in the header, and nfacctd 1.7.7 reads as many records
# as the header counts, templates first: a first datagram of 6 flows or fewer loses every
# one. Flows between two addresses outside every subscriber network make up the count;
# the collector's filters drop them.
V9_LEADING_RECORDS = 6
V9_FILLER = [Flow("198.18.0.1", 1024 + n, "198.18.0.2", 9, UDP, 1, 1)
             for n in range(V9_LEADING_RECORDS + 1)]


def collect(server: NfacctdServer, flows: list[Flow], pcap: Path, version: int = 5) -> None:
    """softflowd replays ``flows`` into ``server``, which is then stopped: at SIGINT the
    plugins purge their caches, and stop() waits until the rows are written."""
    if version == 9:
        flows = flows + V9_FILLER[:max(0, V9_LEADING_RECORDS + 1 - len(flows))]
    replay(write_pcap(pcap, flows), server.port, version=version)
    server.stop()
    assert server.errors() == []


def collected_bins(conn) -> list[datetime]:
    """The minutes the collector wrote rows for: the bins are its arrival minutes, known
    only once the flows have arrived."""
    return [row[0] for row in conn.execute(
        "SELECT DISTINCT stamp_inserted FROM flow_bins ORDER BY 1")]


def clear_of_the_minute_end(seconds: float) -> None:
    """When the minute ends within ``seconds``, wait for the next one: what is sent in the
    next ``seconds`` then arrives, and is binned, in one minute (``seconds`` < 58)."""
    left = 60 - time.time() % 60
    if left < seconds:
        # pmacct's plugin moves to the next bin once its clock is past the minute's first
        # second (``now > basetime + 60``): what arrives at :00 still goes to the minute
        # before. Start at :02.
        time.sleep(left + 2)
