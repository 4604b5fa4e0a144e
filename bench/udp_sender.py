"""A RADIUS load generator that measures the server, not itself.

radclient tops out near 25k requests/s here and opens a new source port per run, so the
benchmarks use this instead: packets are encoded ahead of time (in rounds, so building
them is never timed), a few UDP sockets keep a fixed number of requests in flight, and
each reply is matched to its request by (socket, Identifier). The rate is replies per
second of sending time; a request unanswered within ``timeout`` counts as lost.

Request i goes out on socket ``i % sockets`` with Identifier ``(i // sockets) % 256``:
an Identifier comes back into use 256 requests later on its socket, and never while its
request still waits for an answer (the sender waits, as a NAS does: FreeRADIUS takes a
packet reusing the Identifier of an unfinished request for a conflicting one and gives
the old request up unanswered). Every request is a new packet (fresh authenticator),
never a duplicate the server would answer from its cache.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import selectors
import socket
import struct
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

ACCESS_REQUEST, ACCESS_ACCEPT, ACCESS_REJECT = 1, 2, 3
ACCOUNTING_REQUEST, ACCOUNTING_RESPONSE = 4, 5
MESSAGE_AUTHENTICATOR = 80
USER_PASSWORD = 2

PacketMaker = Callable[[int, int], bytes]  # (request number, Identifier) -> packet


def attribute(kind: int, value: bytes | str | int) -> bytes:
    """One RADIUS attribute: strings as UTF-8, ints as 32-bit unsigned."""
    if isinstance(value, int):
        value = struct.pack("!I", value)
    elif isinstance(value, str):
        value = value.encode()
    return bytes((kind, len(value) + 2)) + value


def hide_password(password: bytes, secret: bytes, authenticator: bytes) -> bytes:
    """User-Password per RFC 2865 5.2: padded to 16 bytes, XORed with an MD5 chain."""
    padded = password + b"\0" * (-len(password) % 16 or (16 if not password else 0))
    out, last = b"", authenticator
    for i in range(0, len(padded), 16):
        key = hashlib.md5(secret + last).digest()
        last = bytes(a ^ b for a, b in zip(padded[i:i + 16], key, strict=True))
        out += last
    return out


def access_request(ident: int, secret: bytes, attributes: bytes, password: str) -> bytes:
    """A PAP Access-Request with Message-Authenticator (RFC 3579), as our clients require."""
    authenticator = os.urandom(16)
    body = (attributes
            + attribute(USER_PASSWORD, hide_password(password.encode(), secret, authenticator))
            + attribute(MESSAGE_AUTHENTICATOR, b"\0" * 16))
    packet = struct.pack("!BBH", ACCESS_REQUEST, ident, 20 + len(body)) + authenticator + body
    return packet[:-16] + hmac.new(secret, packet, "md5").digest()


def accounting_request(ident: int, secret: bytes, attributes: bytes) -> bytes:
    """An Accounting-Request; its authenticator is MD5 over the packet and the secret."""
    header = struct.pack("!BBH", ACCOUNTING_REQUEST, ident, 20 + len(attributes))
    digest = hashlib.md5(header + b"\0" * 16 + attributes + secret).digest()
    return header + digest + attributes


@dataclass
class LoadResult:
    sent: int = 0
    answered: int = 0
    lost: int = 0
    seconds: float = 0.0
    codes: Counter = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.answered / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def _send_round(socks: list[socket.socket], selector: selectors.BaseSelector,
                packets: list[bytes], first: int, window: int, timeout: float,
                result: LoadResult, budget: float) -> None:
    """Send one round's packets (stopping early once ``budget`` seconds have passed)."""
    count = len(socks)
    pending: list[dict[int, float]] = [{} for _ in socks]
    in_flight = 0
    i = 0
    clock = time.perf_counter
    started = clock()
    stop_at = started + budget
    total = len(packets)
    while i < total or in_flight:
        if i < total and clock() >= stop_at:
            total = i  # out of time: let what is in flight come back
        while in_flight < window and i < total:
            seq = first + i
            s, ident = seq % count, (seq // count) % 256
            if ident in pending[s]:
                # A NAS never reuses an ID still waiting for its answer: the server
                # would take the new packet for a conflicting one and give the old up.
                break
            socks[s].send(packets[i])
            pending[s][ident] = clock()
            in_flight += 1
            i += 1
        events = selector.select(timeout=0.05)
        now = clock()
        for key, _ in events:
            sock, s = key.fileobj, key.data
            while True:
                try:
                    data = sock.recv(4096)
                except BlockingIOError:
                    break
                sent_at = pending[s].pop(data[1], None) if len(data) >= 20 else None
                if sent_at is None:
                    continue  # a late reply to a request already counted lost
                in_flight -= 1
                result.answered += 1
                result.codes[data[0]] += 1
                result.latencies.append(now - sent_at)
        if not events:
            for waiting in pending:
                for ident, sent_at in list(waiting.items()):
                    if now - sent_at > timeout:
                        del waiting[ident]
                        in_flight -= 1
                        result.lost += 1
    result.sent += i
    result.seconds += clock() - started


def run_load(address: tuple[str, int], make: PacketMaker, *, seconds: float,
             window: int = 64, sockets: int = 4, round_size: int = 40_000,
             timeout: float = 2.0, limit: int | None = None,
             progress: Callable[[LoadResult], None] | None = None) -> LoadResult:
    """Send requests built by ``make`` for about ``seconds`` of sending time (or until
    ``limit`` requests), ``window`` in flight; building each round is not timed."""
    socks = []
    selector = selectors.DefaultSelector()
    for s in range(sockets):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        sock.connect(address)
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ, s)
        socks.append(sock)
    result = LoadResult()
    try:
        while result.seconds < seconds and (limit is None or result.sent < limit):
            size = round_size if limit is None else min(round_size, limit - result.sent)
            first = result.sent
            packets = [make(first + k, ((first + k) // sockets) % 256) for k in range(size)]
            _send_round(socks, selector, packets, first, window, timeout, result,
                        seconds - result.seconds)
            if progress:
                progress(result)
    finally:
        selector.close()
        for sock in socks:
            sock.close()
    return result
