"""A NetFlow v9 exporter of our own for ``ebs bench flow``.

softflowd's replay loses records at speed (STACK-FACTS.md) and cannot be paced, so the
benchmark sends this instead: one template (RFC 3954), then data flowsets of many
records per datagram, paced to an offered rate of flows per second. The data flowsets
are encoded once before the clock starts and sent round after round; only the 20-byte
header (record count, uptime, time, sequence) is made per datagram, and it goes out
with the body in one ``sendmsg``. The template is sent first and again every second, as
routers do, so a collector that starts late or lost it learns it again.
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

VERSION = 9
TEMPLATE_ID = 256
SOURCE_ID = 1
# (field type, length): IPV4_SRC_ADDR, IPV4_DST_ADDR, L4_SRC_PORT, L4_DST_PORT, PROTOCOL,
# IN_PKTS, IN_BYTES, FIRST_SWITCHED, LAST_SWITCHED.
FIELDS = ((8, 4), (12, 4), (7, 2), (11, 2), (4, 1), (2, 4), (1, 4), (22, 4), (21, 4))
RECORD = struct.Struct("!4s4sHHBIIII")
HEADER = struct.Struct("!HHIIII")
FLOWSET = struct.Struct("!HH")
TEMPLATE_EVERY = 1.0  # seconds between repeats of the template
MIN_SLEEP = 0.0005  # seconds: the sender wakes at most 2,000 times a second
RECORDS_PER_DATAGRAM = 40  # 1,184 bytes of flowset: one Ethernet frame, as routers send


@dataclass(frozen=True, slots=True)
class FlowRecord:
    src: str
    dst: str
    src_port: int
    dst_port: int
    proto: int
    packets: int
    bytes: int


def header(count: int, uptime_ms: int, unix_secs: int, sequence: int) -> bytes:
    """The export packet header; ``count`` is the number of records (template and data)
    in the datagram, ``sequence`` counts export packets (v9), not flows (v5)."""
    return HEADER.pack(VERSION, count, uptime_ms & 0xFFFFFFFF, unix_secs,
                       sequence & 0xFFFFFFFF, SOURCE_ID)


def template_flowset() -> bytes:
    body = struct.pack("!HH", TEMPLATE_ID, len(FIELDS))
    body += b"".join(struct.pack("!HH", kind, length) for kind, length in FIELDS)
    return FLOWSET.pack(0, FLOWSET.size + len(body)) + body


def data_flowset(records: Sequence[FlowRecord], switched_ms: int = 0) -> bytes:
    """Records under the template, padded to a 32-bit boundary. The flows' own times do
    not bin them (the collector bins by arrival), so they are one fixed uptime."""
    body = b"".join(
        RECORD.pack(socket.inet_aton(r.src), socket.inet_aton(r.dst), r.src_port,
                    r.dst_port, r.proto, r.packets, r.bytes, switched_ms, switched_ms)
        for r in records)
    body += b"\0" * (-(FLOWSET.size + len(body)) % 4)
    return FLOWSET.pack(TEMPLATE_ID, FLOWSET.size + len(body)) + body


def datagram_bodies(records: Iterable[FlowRecord],
                    per_datagram: int = RECORDS_PER_DATAGRAM) -> list[tuple[int, bytes]]:
    """The stream cut into datagram bodies: (records in it, data flowset)."""
    bodies: list[tuple[int, bytes]] = []
    batch: list[FlowRecord] = []
    for record in records:
        batch.append(record)
        if len(batch) == per_datagram:
            bodies.append((len(batch), data_flowset(batch)))
            batch = []
    if batch:
        bodies.append((len(batch), data_flowset(batch)))
    return bodies


@dataclass
class SendResult:
    offered: float  # flows per second asked for
    seconds: float = 0.0
    datagrams: int = 0
    templates: int = 0
    flows: int = 0
    late_max: float = 0.0  # how far behind its schedule the sender fell, in seconds

    @property
    def achieved(self) -> float:
        return self.flows / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict:
        return {"offered": self.offered, "achieved": round(self.achieved),
                "seconds": round(self.seconds, 3), "datagrams": self.datagrams,
                "templates": self.templates, "flows": self.flows,
                "sender_late_max_s": round(self.late_max, 4)}


class Exporter:
    """One exporter (one UDP source, one sequence) towards one collector."""

    def __init__(self, address: tuple[str, int]) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
        self.sock.connect(address)
        self.sequence = 0
        self.booted = time.monotonic()

    def close(self) -> None:
        self.sock.close()

    def _send(self, count: int, body: bytes) -> None:
        uptime = int((time.monotonic() - self.booted) * 1000)
        self.sock.sendmsg([header(count, uptime, int(time.time()), self.sequence), body])
        self.sequence += 1

    def send_template(self) -> None:
        self._send(1, template_flowset())

    def run(self, bodies: Sequence[tuple[int, bytes]], rate: float, seconds: float,
            progress: Callable[[SendResult], None] | None = None) -> SendResult:
        """Send ``bodies`` round after round at ``rate`` flows/s for ``seconds``, the
        template first. Datagram k leaves when the flows before it are due: a sender
        that falls behind sends at once to catch up and records how late it was."""
        if rate <= 0 or seconds <= 0 or not bodies:
            raise ValueError("rate and seconds must be positive and the stream not empty")
        result = SendResult(offered=rate)
        clock = time.perf_counter
        self.send_template()
        result.templates += 1
        started = clock()
        next_template = started + TEMPLATE_EVERY
        next_progress = started + 5.0
        stop_at = started + seconds
        due_flows = 0
        k = 0
        total = len(bodies)
        while True:
            due = started + due_flows / rate
            now = clock()
            if due >= stop_at:
                break
            if now < due:
                # Sleep, never spin: a sender busy-waiting for the next 100 µs takes a
                # core from the collector it measures. Whatever fell due meanwhile goes
                # out at once, a few datagrams together, as a router's export does.
                time.sleep(max(due - now, MIN_SLEEP))
                continue
            result.late_max = max(result.late_max, now - due)
            if now >= next_template:
                self.send_template()
                result.templates += 1
                next_template += TEMPLATE_EVERY
            count, body = bodies[k]
            self._send(count, body)
            result.datagrams += 1
            result.flows += count
            due_flows += count
            k = k + 1 if k + 1 < total else 0
            if progress is not None and now >= next_progress:
                next_progress += 5.0
                result.seconds = now - started
                progress(result)
        # A sender that kept its schedule took ``seconds``; one that fell behind longer.
        result.seconds = max(clock(), stop_at) - started
        return result
