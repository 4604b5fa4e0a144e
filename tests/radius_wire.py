"""Access-Requests built byte by byte and replies checked the way a hardened NAS checks
them (RFC 2865 section 3, RFC 3579 section 3.2): our own code, not radclient's, decides
whether a reply's Response Authenticator and Message-Authenticator are genuine. Attributes
and User-Password hiding are the load generator's (bench/udp_sender.py).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import socket
import struct
from dataclasses import dataclass

from bench.udp_sender import attribute as _attribute
from bench.udp_sender import hide_password as _hide_password

ACCESS_REQUEST, ACCESS_ACCEPT, ACCESS_REJECT, ACCESS_CHALLENGE = 1, 2, 3, 11
USER_NAME, USER_PASSWORD, CHAP_PASSWORD, NAS_IP_ADDRESS = 1, 2, 3, 4
FRAMED_PROTOCOL, CHAP_CHALLENGE, MESSAGE_AUTHENTICATOR = 7, 60, 80


def _md5(data: bytes) -> bytes:
    return hashlib.md5(data, usedforsecurity=False).digest()


def access_request(secret: bytes, user: str, *, password: str | None = None,
                   chap_password: str | None = None) -> bytes:
    """An Access-Request from 127.0.0.1 for PPP, with PAP or CHAP, Message-Authenticator
    first (a client that requires one gets it)."""
    packet_id, authenticator = secrets.randbelow(256), secrets.token_bytes(16)
    attrs = _attribute(MESSAGE_AUTHENTICATOR, bytes(16)) + _attribute(USER_NAME, user.encode())
    if password is not None:
        attrs += _attribute(USER_PASSWORD, _hide_password(password.encode(), secret,
                                                          authenticator))
    if chap_password is not None:
        chap_id, challenge = secrets.randbelow(256), secrets.token_bytes(16)
        response = _md5(bytes((chap_id,)) + chap_password.encode() + challenge)
        attrs += _attribute(CHAP_PASSWORD, bytes((chap_id,)) + response)
        attrs += _attribute(CHAP_CHALLENGE, challenge)
    attrs += _attribute(NAS_IP_ADDRESS, socket.inet_aton("127.0.0.1"))
    attrs += _attribute(FRAMED_PROTOCOL, struct.pack("!I", 1))
    header = struct.pack("!BBH", ACCESS_REQUEST, packet_id, 20 + len(attrs))
    mac = hmac.new(secret, header + authenticator + attrs, "md5").digest()
    return header + authenticator + attrs[:2] + mac + attrs[18:]


@dataclass(frozen=True)
class CheckedReply:
    code: int
    response_authenticator_valid: bool
    message_authenticator: bytes | None  # as received
    message_authenticator_valid: bool


def check_reply(request: bytes, reply: bytes, secret: bytes) -> CheckedReply:
    """The reply's code and whether each authenticator is what ``secret`` makes it."""
    code, _packet_id, length = struct.unpack("!BBH", reply[:4])
    reply = reply[:length]
    request_authenticator, body = request[4:20], reply[20:]
    response_ok = hmac.compare_digest(
        _md5(reply[:4] + request_authenticator + body + secret), reply[4:20])
    offset, received, mac_ok = 0, None, False
    while offset + 2 <= len(body):
        kind, size = body[offset], body[offset + 1]
        if size < 2:
            break
        if kind == MESSAGE_AUTHENTICATOR and size == 18:
            received = body[offset + 2:offset + 18]
            zeroed = body[:offset + 2] + bytes(16) + body[offset + 18:]
            expected = hmac.new(secret, reply[:4] + request_authenticator + zeroed,
                                "md5").digest()
            mac_ok = hmac.compare_digest(expected, received)
        offset += size
    return CheckedReply(code, response_ok, received, mac_ok)


def exchange(port: int, request: bytes, secret: bytes, timeout: float = 3.0) -> CheckedReply:
    """Send ``request`` to 127.0.0.1:``port`` and check the first answer to its id."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(request, ("127.0.0.1", port))
        while True:
            reply = sock.recv(4096)
            if len(reply) >= 20 and reply[1] == request[1]:
                return check_reply(request, reply, secret)
