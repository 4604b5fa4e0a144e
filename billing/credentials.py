"""Subscribers' network credentials: the NT hash FreeRADIUS verifies PAP and MS-CHAPv2
against, and, only where CHAP is enabled, the cleartext CHAP needs, encrypted at rest.

CHAP cannot be verified from a hash, so a tariff or NAS that enables it forces us to keep
the password recoverable. It is sealed with AES-256-GCM under a key that lives outside the
database (a file or an environment variable): a stolen dump alone does not reveal it.

The sealed value is bound to its subaccount (the id is AES-GCM's associated data, format
version 2): copied onto another subaccount's row it no longer opens, so whoever can write
that column cannot hand one subscriber's CHAP password to another login. Values sealed
before the binding (version 1, no associated data) still open, unbound, so CHAP keeps
working after an upgrade, until the subaccount's next password change or
``ebs credentials reseal`` (:func:`reseal_unbound`: a migration could not, the database
never sees the key) seals them bound.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from Crypto.Cipher import AES
from Crypto.Hash import MD4

from billing.errors import Refused
from billing.passwords import hash_password

if TYPE_CHECKING:  # the FreeRADIUS hook imports this module and must load no DB driver
    import psycopg

_VERSION = b"\x02"  # bound to the subaccount id (associated data)
_UNBOUND = b"\x01"  # sealed before the binding; opened, never written
_NONCE = 12
_TAG = 16


class CredentialError(ValueError):
    """A password or sealed blob that cannot be used; the message says why."""


def nt_password_hash(password: str) -> str:
    """MD4 of the UTF-16LE password, as FreeRADIUS's NT-Password takes it (32 hex digits).

    Python's hashlib has no MD4 on OpenSSL 3, hence pycryptodome.
    """
    if not password:
        raise CredentialError("an empty password cannot be hashed")
    return MD4.new(password.encode("utf-16-le")).hexdigest().upper()  # noqa: S303 - the protocol


class CredentialCipher:
    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise CredentialError("the credentials key must be 32 bytes (64 hex digits)")
        self._key = key

    def seal(self, cleartext: str, subaccount_id: int) -> bytes:
        """``cleartext`` sealed for ``subaccount_id`` alone."""
        nonce = secrets.token_bytes(_NONCE)
        cipher = AES.new(self._key, AES.MODE_GCM, nonce=nonce)
        cipher.update(_associated(subaccount_id))
        body, tag = cipher.encrypt_and_digest(cleartext.encode())
        return _VERSION + nonce + body + tag

    def open(self, blob: bytes, subaccount_id: int) -> str:
        """The cleartext, if ``blob`` was sealed under this key for ``subaccount_id`` (or
        sealed unbound, format 1)."""
        if len(blob) < 1 + _NONCE + _TAG or blob[:1] not in (_VERSION, _UNBOUND):
            raise CredentialError("not a sealed credential")
        nonce, body, tag = blob[1:1 + _NONCE], blob[1 + _NONCE:-_TAG], blob[-_TAG:]
        cipher = AES.new(self._key, AES.MODE_GCM, nonce=nonce)
        if blob[:1] == _VERSION:
            cipher.update(_associated(subaccount_id))
        try:
            return cipher.decrypt_and_verify(body, tag).decode()
        except ValueError:
            raise CredentialError("sealed credential does not match the key and subaccount "
                                  "(wrong key, another subaccount's value or tampered data)"
                                  ) from None

    @staticmethod
    def is_bound(blob: bytes) -> bool:
        """Whether ``blob`` is in the bound format (False: re-seal it)."""
        return blob[:1] == _VERSION


def _associated(subaccount_id: int) -> bytes:
    return b"ebs-chap:subaccount:" + str(int(subaccount_id)).encode()


def load_key(key_hex: str, key_file: str | Path, create: bool = False) -> bytes:
    """The key from the environment-provided hex, else the key file (made on first use
    when ``create``, readable by its owner only)."""
    if key_hex:
        try:
            return bytes.fromhex(key_hex)
        except ValueError:
            raise CredentialError("CREDENTIALS_KEY must be 64 hex digits") from None
    path = Path(key_file)
    if not path.exists():
        if not create:
            raise CredentialError(f"credentials key file {path} does not exist")
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32) + "\n")
    try:
        return bytes.fromhex(path.read_text().strip())
    except ValueError:
        raise CredentialError(f"credentials key file {path} does not hold 64 hex digits") from None


def optional_key(key_hex: str, key_file: str | Path) -> bytes | None:
    """The credentials key when this host has one, else None (CHAP stays off)."""
    try:
        return load_key(key_hex, key_file)
    except (CredentialError, OSError):
        return None


class ChapRefused(Refused):
    """CHAP asked for where it cannot work; ``code`` says why."""


def check_chap_enabling(chap_enabled: bool, key: bytes | None) -> None:
    """Refuse to enable CHAP on a host without the credentials key (``chap_without_key``):
    no password could be sealed, so every CHAP login would be refused. ``ebs up`` and the
    installer generate the key."""
    if chap_enabled and key is None:
        raise ChapRefused(
            "chap_without_key",
            "CHAP needs the credentials key (CREDENTIALS_KEY or CREDENTIALS_KEY_FILE), "
            "which this host does not have: without it no CHAP password can be stored")


def network_credentials(
    password: str, key: bytes | None, subaccount_id: int
) -> tuple[str, bytes | None]:
    """What subaccount ``subaccount_id`` stores for ``password``: its NT hash and, where a
    key exists, the cleartext sealed for CHAP, bound to the subaccount (None without a
    key: no stale secret of an old password stays behind)."""
    sealed = (CredentialCipher(key).seal(password, subaccount_id)
              if key is not None else None)
    return nt_password_hash(password), sealed


def set_network_password(
    conn: psycopg.Connection, subaccount_id: int, password: str, *, key: bytes | None
) -> None:
    """Give a subaccount a new network password (PAP, MS-CHAPv2 and, with a key, CHAP)."""
    nt_hash, sealed = network_credentials(password, key, subaccount_id)
    updated = conn.execute(
        "UPDATE subaccounts SET nt_password_hash = %s, chap_password_encrypted = %s"
        " WHERE id = %s", (nt_hash, sealed, subaccount_id),
    ).rowcount
    if not updated:
        raise CredentialError(f"subaccount {subaccount_id} does not exist")


@dataclass(frozen=True)
class ResealResult:
    resealed: int
    unreadable: tuple[int, ...]  # subaccounts whose value this key does not open


def reseal_unbound(conn: psycopg.Connection, key: bytes) -> ResealResult:
    """Seal every CHAP password still in the unbound format 1 again, bound to its
    subaccount, in one transaction. A value this key cannot open is left as it is and
    named (it was sealed under another key: CHAP fails for it either way)."""
    cipher = CredentialCipher(key)
    resealed, unreadable = 0, []
    with conn.transaction():
        rows = conn.execute(
            "SELECT id, chap_password_encrypted FROM subaccounts"
            " WHERE substring(chap_password_encrypted FROM 1 FOR 1) = %s"
            " ORDER BY id FOR UPDATE", (_UNBOUND,)).fetchall()
        for subaccount_id, blob in rows:
            try:
                cleartext = cipher.open(bytes(blob), subaccount_id)
            except CredentialError:
                unreadable.append(subaccount_id)
                continue
            conn.execute("UPDATE subaccounts SET chap_password_encrypted = %s WHERE id = %s",
                         (cipher.seal(cleartext, subaccount_id), subaccount_id))
            resealed += 1
    return ResealResult(resealed, tuple(unreadable))


# Read aloud over the phone or typed from a slip: no 0/O, 1/l/I look-alikes.
_SPOKEN = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
GENERATED_LENGTH = 10  # 56**10 ≈ 3·10^17: beyond guessing under the login throttle


def new_password() -> str:
    """A password for the operator to hand to a subscriber (cabinet or network)."""
    return "".join(secrets.choice(_SPOKEN) for _ in range(GENERATED_LENGTH))


def set_cabinet_password(conn: psycopg.Connection, account_id: int, password: str) -> None:
    """Give an account a new cabinet password (stored as the pbkdf2 hash the cabinet
    checks)."""
    if not password:
        raise CredentialError("an empty password cannot be hashed")
    updated = conn.execute(
        "UPDATE accounts SET password_hash = %s WHERE id = %s",
        (hash_password(password), account_id),
    ).rowcount
    if not updated:
        raise CredentialError(f"account {account_id} does not exist")
