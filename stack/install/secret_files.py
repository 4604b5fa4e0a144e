"""The secrets an installed system generates once, each readable only by the services
that use it.

They live where the settings look for them (``STATE_DIR/secrets``, the same names as the
local stack's), so no setting names a file and a backup finds them all. The directory
may be entered by anyone but not listed; each file is 0600 for the one account that needs
it, or 0640 with the group of the second one:

* the owner role's password: root only (migrations and the operator's ``ebs`` commands);
* the web app's, the worker's, the reports' and nfacctd's roles, the web app's signing
  key: ``ebs``;
* FreeRADIUS's role (rlm_sql) and the accounting drain's: ``freerad``;
* the Redis password and the CHAP credentials key: ``ebs``, and ``freerad`` by group
  (rlm_ebs decrypts CHAP passwords; the drain publishes its spool backlog to Redis).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from stack import db_roles
from stack.install.files import Changes, ensure_dir, ensure_secret
from stack.install.layout import RADIUS_USER, SERVICE_USER


@dataclass(frozen=True)
class Secret:
    name: str
    user: str
    group: str
    mode: int
    nbytes_hex: int = 0  # a hex key of this many bytes instead of URL-safe text


def secret_table(owner: str, roles: dict[str, str]) -> list[Secret]:
    """Every secret file, by its role names (``DB_USER`` and the ``DB_*_USER`` in force)."""
    def role_file(role: str, user: str) -> Secret:
        return Secret(db_roles.password_file(Path(), role).name, user, user, 0o600)
    return [
        role_file(owner, "root"),
        *(role_file(roles[c], SERVICE_USER) for c in ("web", "worker", "reports", "flow")),
        *(role_file(roles[c], RADIUS_USER) for c in ("radius", "acct")),
        Secret("web_secret.key", SERVICE_USER, SERVICE_USER, 0o600, nbytes_hex=32),
        Secret("redis.password", SERVICE_USER, RADIUS_USER, 0o640),
        Secret("credentials.key", SERVICE_USER, RADIUS_USER, 0o640, nbytes_hex=32),
    ]


def ensure_secrets(directory: Path, owner: str, roles: dict[str, str],
                   changes: Changes) -> dict[str, str]:
    """Generate what is missing, put every file's owner and mode right; name → secret."""
    ensure_dir(directory, 0o711, "root", "root", changes)
    found = {}
    for item in secret_table(owner, roles):
        size = item.nbytes_hex
        found[item.name] = ensure_secret(
            directory / item.name, item.mode, item.user, item.group, changes,
            make=(lambda n=size: secrets.token_hex(n)) if size else
            (lambda: secrets.token_urlsafe(32)))
    return found
