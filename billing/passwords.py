"""Password hashes for staff and the cabinet, in Werkzeug's text format.

Flask-AppBuilder checks staff passwords with Werkzeug's ``check_password_hash``; writing
the same ``pbkdf2:sha256:ITER$salt$hex`` format from the standard library lets the core
create staff and subscribers without importing Flask.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

ITERATIONS = 600_000
_SALT_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def hash_password(password: str, iterations: int = ITERATIONS) -> str:
    salt = "".join(secrets.choice(_SALT_CHARS) for _ in range(16))
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations)
    return f"pbkdf2:sha256:{iterations}${salt}${digest.hex()}"


def verify_password(stored: str, password: str) -> bool:
    """True for a matching pbkdf2 hash; any other format is not ours to accept."""
    try:
        method, salt, expected = stored.split("$", 2)
        scheme, algo, iterations = method.split(":")
        if scheme != "pbkdf2":
            return False
        digest = hashlib.pbkdf2_hmac(algo, password.encode(), salt.encode(), int(iterations))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest.hex(), expected)
