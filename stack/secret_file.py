"""Secrets the set-up generates once and keeps in files only their owner can read."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def ensure(path: Path, nbytes: int = 32) -> str:
    """The secret in ``path``, generated first when the file is missing: random URL-safe
    text, the file created with mode 0600 from its first byte (its directory 0700), so
    no other local account ever reads it. An existing file is kept as it is."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()
    secret = secrets.token_urlsafe(nbytes)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(secret + "\n")
    return secret
