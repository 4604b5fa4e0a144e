"""Dynamic Authorization (RFC 5176): Disconnect-Request and CoA-Request to a NAS.

Plain functions, no database: :func:`build_request` encodes a request with pyrad (with a
Message-Authenticator, RFC 5176 section 3.1, so a NAS that requires one accepts it),
:func:`verify_reply` checks a reply's Response Authenticator and Message-Authenticator
with constant-time comparisons, and :func:`exchange` sends a request over UDP, resending
the same bytes (same Identifier and Request Authenticator, as RFC 5176 section 2.3 asks of
a retransmission) until a genuine reply arrives or the attempts run out.

A reply that fails verification (wrong secret, forged, or an answer to another request)
is ignored and counted, never taken as the answer: whoever can reach our port must not be
able to tell us a session is gone.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import io
import socket
import struct
import time
from dataclasses import dataclass
from enum import StrEnum
from functools import cache

from pyrad.dictionary import Dictionary
from pyrad.packet import CoAPacket, CoARequest, DisconnectRequest

__all__ = [
    "ERROR_CAUSES",
    "Kind",
    "Outcome",
    "Reply",
    "Result",
    "SessionIdent",
    "Target",
    "build_request",
    "describe_cause",
    "exchange",
    "identity_attributes",
    "verify_reply",
]

# The attributes we send and read. Vendor numbers and codes as in FreeRADIUS's
# dictionaries (dictionary.rfc2865/2866/2869/5176, .mikrotik, .cisco, .erx); the rate
# limits themselves come from billing.speeds.render.
_DICTIONARY = """
ATTRIBUTE User-Name 1 string
ATTRIBUTE NAS-IP-Address 4 ipaddr
ATTRIBUTE Framed-IP-Address 8 ipaddr
ATTRIBUTE Filter-Id 11 string
ATTRIBUTE Reply-Message 18 string
ATTRIBUTE Session-Timeout 27 integer
ATTRIBUTE Acct-Session-Id 44 string
ATTRIBUTE Event-Timestamp 55 date
ATTRIBUTE Message-Authenticator 80 octets
ATTRIBUTE NAS-IPv6-Address 95 ipv6addr
ATTRIBUTE Error-Cause 101 integer
VENDOR Cisco 9
ATTRIBUTE Cisco-AVPair 1 string Cisco
VENDOR ERX 4874
ATTRIBUTE ERX-Qos-Profile-Name 26 string ERX
ATTRIBUTE ERX-Qos-Parameters 82 string ERX
VENDOR Mikrotik 14988
ATTRIBUTE Mikrotik-Rate-Limit 8 string Mikrotik
"""

# RFC 5176 section 3.5.
ERROR_CAUSES = {
    201: "Residual-Session-Context-Removed",
    202: "Invalid-EAP-Packet",
    401: "Unsupported-Attribute",
    402: "Missing-Attribute",
    403: "NAS-Identification-Mismatch",
    404: "Invalid-Request",
    405: "Unsupported-Service",
    406: "Unsupported-Extension",
    407: "Invalid-Attribute-Value",
    501: "Administratively-Prohibited",
    502: "Request-Not-Routable",
    503: "Session-Context-Not-Found",
    504: "Session-Context-Not-Removable",
    505: "Other-Proxy-Processing-Error",
    506: "Resources-Unavailable",
    507: "Request-Initiated",
    508: "Multiple-Session-Selection-Unsupported",
}

MESSAGE_AUTHENTICATOR = 80
ERROR_CAUSE = 101


class Kind(StrEnum):
    """What we ask of the NAS; the values are stored in ``coa_requests.kind``."""

    DISCONNECT = "disconnect"
    COA = "coa"


# Request code and its (ACK, NAK) reply codes (RFC 5176 section 2.3).
_CODES = {Kind.DISCONNECT: (DisconnectRequest, 41, 42), Kind.COA: (CoARequest, 44, 45)}
# Request code -> {reply code: is it an ACK}.
_ANSWERS = {request: {ack: True, nak: False} for request, ack, nak in _CODES.values()}


class Result(StrEnum):
    """How a request ended; the values are stored in ``coa_requests.result``."""

    ACK = "ACK"
    NAK = "NAK"
    TIMEOUT = "timeout"
    ERROR = "error"  # never sent: no NAS to send to, or the request could not be built


@dataclass(frozen=True, slots=True)
class Target:
    """A NAS's Dynamic Authorization server: address, CoA port, secret, patience."""

    host: str
    port: int
    secret: bytes
    timeout: float = 3.0
    attempts: int = 3


@dataclass(frozen=True, slots=True)
class SessionIdent:
    """What names a session to its NAS (RFC 5176 section 3: session identification)."""

    username: str
    acct_session_id: str
    nas_ip: str
    framed_ip: str | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    """A verified reply: ACK or NAK, and the NAK's Error-Cause if it gave one."""

    ack: bool
    error_cause: int | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """The end of one exchange, as recorded in ``coa_requests``."""

    result: Result
    attempts: int
    error_cause: int | None = None
    error: str = ""


@cache
def dictionary() -> Dictionary:
    return Dictionary(io.StringIO(_DICTIONARY))


def identity_attributes(session: SessionIdent) -> list[tuple[str, str]]:
    """Acct-Session-Id + User-Name + NAS-IP-Address (+ Framed-IP-Address when known).

    Every vendor we shape finds the session by at least one of them: MikroTik and
    accel-ppp by Acct-Session-Id, User-Name or Framed-IP-Address; Cisco and Juniper by
    Acct-Session-Id. NAS-IP-Address is the address the NAS gave in its accounting, so a
    request that reaches the wrong box is refused (NAS-Identification-Mismatch) instead
    of cutting someone else's session.
    """
    v6 = ":" in session.nas_ip
    pairs = [
        ("User-Name", session.username),
        ("Acct-Session-Id", session.acct_session_id),
        ("NAS-IPv6-Address" if v6 else "NAS-IP-Address", session.nas_ip),
    ]
    if session.framed_ip and ":" not in session.framed_ip:  # IPv6 sessions have prefixes
        pairs.append(("Framed-IP-Address", session.framed_ip))
    return pairs


def build_request(
    kind: Kind, secret: bytes, attributes: list[tuple[str, str]], packet_id: int
) -> bytes:
    """The request's bytes: Message-Authenticator first, then ``attributes`` in order.

    The Message-Authenticator is the HMAC-MD5 of the packet with a zero Request
    Authenticator; the Request Authenticator is then MD5(code, id, length, 16 zeros,
    attributes, secret) (RFC 5176 section 3.3), which covers the Message-Authenticator.
    Repeated attributes must be adjacent in ``attributes`` (pyrad groups them).
    """
    code = _CODES[Kind(kind)][0]
    packet = CoAPacket(code=code, id=packet_id, secret=secret, dict=dictionary())
    packet.add_message_authenticator()
    for name, value in attributes:
        packet.AddAttribute(name, value)
    return packet.RequestPacket()


def _attributes(data: bytes) -> list[tuple[int, int, bytes]] | None:
    """(type, offset, value) per attribute; None if the section is malformed."""
    found = []
    offset = 0
    while offset < len(data):
        if offset + 2 > len(data):
            return None
        kind, length = data[offset], data[offset + 1]
        if length < 2 or offset + length > len(data):
            return None
        found.append((kind, offset, data[offset + 2 : offset + length]))
        offset += length
    return found


def verify_reply(request: bytes, reply: bytes, secret: bytes) -> Reply | None:
    """The reply to ``request`` if it is genuine, else None.

    Genuine means: same Identifier; an ACK or NAK code for the request's kind; a
    Response Authenticator equal to MD5(code, id, length, Request Authenticator,
    attributes, secret); and, when the reply carries a Message-Authenticator, that one
    equal to HMAC-MD5(secret) over the reply with the Request Authenticator in place of
    its own and the attribute zeroed (RFC 5176 section 3.3, RFC 3579 section 3.2). Both
    comparisons run in constant time.
    """
    if len(reply) < 20:
        return None
    code, packet_id, length = struct.unpack("!BBH", reply[:4])
    if length < 20 or length > len(reply) or packet_id != request[1]:
        return None
    reply = reply[:length]  # octets beyond Length are padding (RFC 2865 section 3)
    answers = _ANSWERS.get(request[0], {})
    if code not in answers:
        return None
    request_authenticator = request[4:20]
    body = reply[20:]
    # MD5 is what RFC 5176 prescribes; usedforsecurity=False keeps FIPS builds working.
    expected = hashlib.md5(
        reply[:4] + request_authenticator + body + secret, usedforsecurity=False
    ).digest()
    if not hmac.compare_digest(expected, reply[4:20]):
        return None
    attributes = _attributes(body)
    if attributes is None:
        return None
    error_cause = None
    for kind, offset, value in attributes:
        if kind == MESSAGE_AUTHENTICATOR:
            if len(value) != 16:
                return None
            zeroed = body[: offset + 2] + bytes(16) + body[offset + 18 :]
            mac = hmac.new(secret, reply[:4] + request_authenticator + zeroed, "md5").digest()
            if not hmac.compare_digest(mac, value):
                return None
        elif kind == ERROR_CAUSE and len(value) == 4:
            error_cause = struct.unpack("!I", value)[0]
    return Reply(ack=answers[code], error_cause=error_cause)


def describe_cause(cause: int | None) -> str:
    if cause is None:
        return ""
    return f"{cause} {ERROR_CAUSES.get(cause, 'unknown Error-Cause')}"


def exchange(target: Target, request: bytes) -> Outcome:
    """Send ``request`` to ``target`` until a genuine reply comes or attempts run out.

    Each attempt waits ``target.timeout`` seconds. A connected UDP socket makes the kernel
    drop datagrams from any other address; what does arrive from the NAS's address is
    still verified, and a reply that fails is counted in the outcome's ``error``.
    """
    family = socket.AF_INET6 if ":" in target.host else socket.AF_INET
    rejected = 0
    attempts = 0
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.connect((target.host, target.port))
        for _ in range(target.attempts):
            attempts += 1
            with contextlib.suppress(OSError):  # ICMP unreachable from an earlier attempt
                sock.send(request)
            deadline = time.monotonic() + target.timeout
            while (remaining := deadline - time.monotonic()) > 0:
                sock.settimeout(remaining)
                try:
                    data = sock.recv(4096)
                except TimeoutError:
                    break
                except OSError:  # port unreachable: nobody listens yet
                    time.sleep(min(remaining, 0.05))
                    continue
                reply = verify_reply(request, data, target.secret)
                if reply is None:
                    rejected += 1
                    continue
                return Outcome(
                    result=Result.ACK if reply.ack else Result.NAK,
                    attempts=attempts,
                    error_cause=reply.error_cause,
                    error=describe_cause(reply.error_cause),
                )
    note = f"no reply after {attempts} attempts"
    if rejected:
        note += f"; {rejected} replies failed authentication and were ignored"
    return Outcome(result=Result.TIMEOUT, attempts=attempts, error=note)
