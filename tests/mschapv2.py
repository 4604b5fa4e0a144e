"""MS-CHAPv2 as a peer computes it (RFC 2759), to build RADIUS requests (RFC 2548).

``radtest -t mschap`` sends MS-CHAPv1, so tests build v2 themselves; the unit test holds
this module against RFC 2759's published vectors (section 9.2).
"""

from __future__ import annotations

import hashlib

from Crypto.Cipher import DES
from Crypto.Hash import MD4

_MAGIC1 = b"Magic server to client signing constant"
_MAGIC2 = b"Pad to make it do more than one iteration"


def nt_password_hash(password: str) -> bytes:
    return MD4.new(password.encode("utf-16-le")).digest()


def challenge_hash(peer_challenge: bytes, authenticator_challenge: bytes, username: str) -> bytes:
    return hashlib.sha1(peer_challenge + authenticator_challenge + username.encode()).digest()[:8]


def _des_key(seven: bytes) -> bytes:
    """56 key bits → 8 bytes with a (parity) low bit DES ignores."""
    bits = int.from_bytes(seven, "big")
    return bytes(((bits >> (49 - 7 * i)) & 0x7F) << 1 for i in range(8))


def challenge_response(challenge: bytes, password_hash: bytes) -> bytes:
    padded = password_hash + b"\0" * (21 - len(password_hash))
    return b"".join(
        DES.new(_des_key(padded[i : i + 7]), DES.MODE_ECB).encrypt(challenge)
        for i in (0, 7, 14)
    )


def nt_response(
    authenticator_challenge: bytes, peer_challenge: bytes, username: str, password: str
) -> bytes:
    challenge = challenge_hash(peer_challenge, authenticator_challenge, username)
    return challenge_response(challenge, nt_password_hash(password))


def authenticator_response(
    password: str, nt_resp: bytes, peer_challenge: bytes, authenticator_challenge: bytes,
    username: str,
) -> str:
    """The ``S=…`` string the server proves itself with (MS-CHAP2-Success carries it)."""
    hash_hash = MD4.new(nt_password_hash(password)).digest()
    digest = hashlib.sha1(hash_hash + nt_resp + _MAGIC1).digest()
    challenge = challenge_hash(peer_challenge, authenticator_challenge, username)
    return "S=" + hashlib.sha1(digest + challenge + _MAGIC2).hexdigest().upper()


def radius_attributes(
    username: str, password: str, authenticator_challenge: bytes, peer_challenge: bytes,
    ident: int = 1,
) -> list[tuple[str, str]]:
    """User-Name, MS-CHAP-Challenge and MS-CHAP2-Response (ident, flags, peer challenge,
    8 reserved zero bytes, NT-Response) as radclient takes them."""
    response = nt_response(authenticator_challenge, peer_challenge, username, password)
    value = bytes([ident, 0]) + peer_challenge + b"\0" * 8 + response
    return [
        ("User-Name", username),
        ("MS-CHAP-Challenge", "0x" + authenticator_challenge.hex()),
        ("MS-CHAP2-Response", "0x" + value.hex()),
    ]
