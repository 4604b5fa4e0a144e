"""The RADIUS clients FreeRADIUS trusts, made from the ``nas`` table: one place that knows
how a NAS becomes a ``client { }`` block.

Both ``cli`` (``ebs up`` renders the server's configuration) and ``worker`` (the task
``ebs.nas_changed`` re-renders the clients after an edit) need this, and DESIGN.md lets
neither import the other; both may import ``stack``. So the rule lives here, as plain
text rendering over rows. Because both produce
the clients file with :func:`clients_conf`, "the running server has the clients the
table asks for" is a byte comparison of that file (:func:`clients_file_current`).

Every client requires Message-Authenticator in Access-Requests (BlastRADIUS; NASes do
not send it in accounting); FreeRADIUS 3.2.1 does not reload clients on SIGHUP, so a
change means a restart (STACK-FACTS.md).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg

TEMPLATES = Path(__file__).resolve().parent.parent / "freeradius_conf"
CLIENTS_FILE = "clients.conf"
CLIENT_TEMPLATE = "client.conf.tmpl"

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_MARKER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


class ClientError(ValueError):
    """A NAS that cannot be written as a FreeRADIUS client; the message says why."""


@dataclass(frozen=True)
class RadiusClient:
    """A NAS allowed to talk to us: its name, address (or network) and shared secret."""

    name: str
    ip: str
    secret: str

    def validated(self) -> RadiusClient:
        if not _NAME.match(self.name):
            raise ClientError(f"RADIUS client name {self.name!r}: use letters, digits, _ . -")
        try:
            ipaddress.ip_network(self.ip, strict=False)
        except ValueError:
            raise ClientError(f"RADIUS client {self.name}: bad address {self.ip!r}") from None
        # The secret sits in a double-quoted config string, where FreeRADIUS expands
        # ${...} and backslash escapes; printable ASCII without those stays literal.
        if not self.secret or any(not (32 <= ord(c) < 127) for c in self.secret):
            raise ClientError(f"RADIUS client {self.name}: secret must be printable ASCII")
        if any(c in self.secret for c in '"\\$'):
            raise ClientError(f"RADIUS client {self.name}: secret may not contain \" \\ or $")
        return self

    def covers(self, address: str) -> bool:
        return ipaddress.ip_address(address) in ipaddress.ip_network(self.ip, strict=False)


def _fill(text: str, values: dict[str, str]) -> str:
    """The ``{{ name }}`` markers of freeradius_conf/ (stack/servers/templates.py's syntax)."""
    missing = sorted({m for m in _MARKER.findall(text) if m not in values})
    if missing:
        raise ClientError(f"client template: no value for {', '.join(missing)}")
    return _MARKER.sub(lambda m: values[m.group(1)], text)


def client_blocks(clients: Iterable[RadiusClient], templates: Path = TEMPLATES) -> str:
    """The ``client { }`` blocks, one per client, in the given order."""
    template = (templates / CLIENT_TEMPLATE).read_text(encoding="utf-8")
    return "\n".join(
        _fill(template, {"name": c.name, "ip": c.ip, "secret": c.secret})
        for c in (client.validated() for client in clients)
    )


def clients_conf(clients: Iterable[RadiusClient], templates: Path = TEMPLATES) -> str:
    """The whole clients.conf, exactly as ``ebs up`` renders it."""
    header = (templates / CLIENTS_FILE).read_text(encoding="utf-8")
    return _fill(header, {"clients": client_blocks(clients, templates)})


@dataclass(frozen=True)
class NasClients:
    """The clients the ``nas`` table asks for, and the rows that cannot be clients."""

    clients: tuple[RadiusClient, ...]
    refused: tuple[str, ...]  # one message per NAS left out


def client_name(nas_id: int) -> str:
    """``nas<id>``: NAS names are free text (spaces, Cyrillic), section names are not."""
    return f"nas{nas_id}"


def nas_clients(conn: psycopg.Connection) -> NasClients:
    """Every NAS as a client, by id. A row FreeRADIUS could not parse (a secret with a
    quote, say, from before the table's check) is left out and named in ``refused``, so
    one bad row never keeps every other NAS's change from taking effect."""
    clients, refused = [], []
    rows = conn.execute("SELECT id, name, abbrev(ip_address), secret FROM nas ORDER BY id")
    for nas_id, name, ip, secret in rows:
        try:
            clients.append(RadiusClient(client_name(nas_id), ip, secret).validated())
        except ClientError as error:
            refused.append(f"NAS {nas_id} ({name}): {error}")
    return NasClients(tuple(clients), tuple(refused))


def clients_file_current(directory: Path, text: str) -> bool:
    """True when the server in ``directory`` runs with exactly these clients: its file
    holds ``text`` and was written before the server started (the pid file is written at
    start-up, after the configuration is read). The second half catches a restart that
    was lost after the file was written (a worker killed mid-task): the next check
    restarts it."""
    path, pidfile = directory / CLIENTS_FILE, directory / "run" / "radiusd.pid"
    try:
        if path.read_text(encoding="utf-8") != text:
            return False
        return path.stat().st_mtime_ns <= pidfile.stat().st_mtime_ns
    except FileNotFoundError:
        return False


def local_server_dir(state_dir: str | Path) -> Path:
    """Where ``ebs up`` renders and runs its FreeRADIUS, under the state directory."""
    return Path(state_dir) / "freeradius"


def describe(clients: Sequence[RadiusClient]) -> list[str]:
    """Names and addresses (never secrets), for logs and task results."""
    return [f"{c.name} {c.ip}" for c in clients]
