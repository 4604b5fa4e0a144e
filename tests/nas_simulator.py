"""A NAS's Dynamic Authorization server (RFC 5176) on 127.0.0.1, for tests.

It records every datagram, checks each request's Request Authenticator and
Message-Authenticator with the NAS's secret (written here from the RFCs with hashlib and
hmac, independently of the code under test), and answers as told: ACK, NAK with an
Error-Cause, silence, or a reply signed with a wrong secret. Replies carry a
Message-Authenticator, as a careful NAS's do.
"""

from __future__ import annotations

import hashlib
import hmac
import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

DISCONNECT_REQUEST, DISCONNECT_ACK, DISCONNECT_NAK = 40, 41, 42
COA_REQUEST, COA_ACK, COA_NAK = 43, 44, 45
MESSAGE_AUTHENTICATOR = 80
ERROR_CAUSE = 101


def parse_attributes(body: bytes) -> list[tuple[int, bytes]]:
    found = []
    offset = 0
    while offset < len(body):
        kind, length = body[offset], body[offset + 1]
        found.append((kind, body[offset + 2 : offset + length]))
        offset += length
    return found


def zero_message_authenticator(body: bytes) -> bytes:
    offset = 0
    while offset < len(body):
        kind, length = body[offset], body[offset + 1]
        if kind == MESSAGE_AUTHENTICATOR:
            return body[: offset + 2] + bytes(16) + body[offset + length :]
        offset += length
    return body


def request_is_authentic(packet: bytes, secret: bytes) -> bool:
    """RFC 5176 3.3: Request Authenticator = MD5(header, 16 zeros, attributes, secret);
    the Message-Authenticator (required here) is HMAC-MD5 over the packet with a zero
    Request Authenticator and itself zeroed."""
    header, authenticator, body = packet[:4], packet[4:20], packet[20:]
    expected = hashlib.md5(header + bytes(16) + body + secret).digest()
    if not hmac.compare_digest(expected, authenticator):
        return False
    mac = dict(parse_attributes(body)).get(MESSAGE_AUTHENTICATOR)
    if mac is None:
        return False
    zeroed = zero_message_authenticator(body)
    return hmac.compare_digest(mac, hmac.new(secret, header + bytes(16) + zeroed, "md5").digest())


def reply_packet(request: bytes, code: int, secret: bytes, error_cause: int | None) -> bytes:
    """A reply signed per RFC 5176 3.3 / RFC 3579 3.2 with ``secret``."""
    attributes = b""
    if error_cause is not None:
        attributes += struct.pack("!BBI", ERROR_CAUSE, 6, error_cause)
    ma_offset = len(attributes)
    attributes += struct.pack("!BB", MESSAGE_AUTHENTICATOR, 18) + bytes(16)
    header = struct.pack("!BBH", code, request[1], 20 + len(attributes))
    request_authenticator = request[4:20]
    mac = hmac.new(secret, header + request_authenticator + attributes, "md5").digest()
    attributes = attributes[: ma_offset + 2] + mac + attributes[ma_offset + 18 :]
    response = hashlib.md5(header + request_authenticator + attributes + secret).digest()
    return header + response + attributes


@dataclass
class Received:
    packet: bytes
    authentic: bool

    @property
    def code(self) -> int:
        return self.packet[0]

    @property
    def attributes(self) -> list[tuple[int, bytes]]:
        return parse_attributes(self.packet[20:])


class NasSimulator:
    """``mode``: 'ack', 'nak', 'silent' or 'forged' (signed with ``forged_secret``)."""

    def __init__(self, secret: bytes):
        self.secret = secret
        self.mode = "ack"
        self.error_cause: int | None = None
        self.forged_secret = b"not-the-secret"
        self.received: list[Received] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.1)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                packet, peer = self._sock.recvfrom(4096)
            except TimeoutError:
                continue
            authentic = request_is_authentic(packet, self.secret)
            with self._lock:
                self.received.append(Received(packet, authentic))
                mode, cause = self.mode, self.error_cause
            if mode == "silent" or not authentic:
                continue  # RFC 5176 3.3: silently discard a request that fails
            ack, nak = (
                (DISCONNECT_ACK, DISCONNECT_NAK)
                if packet[0] == DISCONNECT_REQUEST
                else (COA_ACK, COA_NAK)
            )
            if mode == "nak":
                reply = reply_packet(packet, nak, self.secret, cause)
            elif mode == "forged":
                reply = reply_packet(packet, ack, self.forged_secret, None)
            else:
                reply = reply_packet(packet, ack, self.secret, None)
            self._sock.sendto(reply, peer)

    def set(self, mode: str, error_cause: int | None = None) -> None:
        with self._lock:
            self.mode, self.error_cause = mode, error_cause

    def packets(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    def start(self) -> NasSimulator:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._sock.close()


@contextmanager
def nas_simulator(secret: bytes) -> Iterator[NasSimulator]:
    sim = NasSimulator(secret).start()
    try:
        yield sim
    finally:
        sim.stop()
