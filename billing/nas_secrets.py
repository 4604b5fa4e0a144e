"""NAS shared secrets: long enough to resist guessing, generated when none is given.

A RADIUS secret keys the MD5 that hides User-Password and signs every packet; a short
one can be recovered offline from one captured exchange (and BlastRADIUS made forging
answers practical), so the table, the admin and the set-up all refuse one shorter than
:data:`MIN_LENGTH` and generate :func:`generate` (43 URL-safe characters: 256 bits) when
the admin leaves it empty. The characters are those clients.conf can hold literally
(stack/radius_clients.py).
"""

from __future__ import annotations

import secrets

from billing.errors import Refused

MIN_LENGTH = 16  # the table's nas_secret_length check
GENERATED_BYTES = 32


class SecretRefused(Refused):
    """A NAS secret a rule refuses; ``code`` says which."""


def generate() -> str:
    """A fresh secret: 32 random bytes as 43 URL-safe characters. Never starts with "-",
    which radclient and some NAS command lines would take for an option."""
    while True:
        secret = secrets.token_urlsafe(GENERATED_BYTES)
        if not secret.startswith("-"):
            return secret


def check(secret: str) -> str:
    """``secret`` if it is long enough, else :class:`SecretRefused` ``nas_secret_short``."""
    if len(secret) < MIN_LENGTH:
        raise SecretRefused(
            "nas_secret_short",
            f"a NAS secret needs at least {MIN_LENGTH} characters (leave it empty to have "
            "one generated)")
    return secret


def given_or_generated(secret: str | None) -> str:
    """The admin's secret, checked, or a generated one when the field was left empty."""
    return check(secret) if secret else generate()
