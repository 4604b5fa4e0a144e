"""The kernel's view of a UDP socket bound on this host (/proc/net/udp): what waits in
its receive queue and how many datagrams it dropped, per socket, so a fresh server
starts at zero drops."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SocketCounters:
    queued: int  # bytes waiting in the receive queue
    drops: int


def socket_counters(port: int, ip_hex: str = "0100007F") -> SocketCounters | None:
    """The counters of the UDP socket bound to 127.0.0.1:``port`` (None: none is)."""
    wanted = f"{ip_hex}:{port:04X}"
    for line in Path("/proc/net/udp").read_text().splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 13 and fields[1] == wanted:
            return SocketCounters(int(fields[4].split(":")[1], 16), int(fields[12]))
    return None


def drained(port: int, timeout: float = 10.0) -> SocketCounters | None:
    """The socket's counters once its reader has taken everything queued (or the time
    ran out): read them before the server stops, as the socket goes with it."""
    deadline = time.monotonic() + timeout
    counters = socket_counters(port)
    while counters is not None and counters.queued and time.monotonic() < deadline:
        time.sleep(0.05)
        counters = socket_counters(port)
    return counters
