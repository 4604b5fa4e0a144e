"""Fixtures shared by the system tests."""

from __future__ import annotations

import pytest

from stack.servers.nfacctd import NfacctdServer
from tests.system.traffic_chain_helpers import start_collector


@pytest.fixture
def chain_collector(db, conn, tmp_path):
    """Starts private nfacctds configured from the test's database as it is at each call
    (seed the classes, pools and NAS first); those still running are stopped at the end,
    whatever the test did."""
    started: list[NfacctdServer] = []

    def start() -> NfacctdServer:
        server = start_collector(db, conn, tmp_path / f"nfacctd{len(started)}")
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
