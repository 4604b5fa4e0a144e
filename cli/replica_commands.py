"""``ebs db replica``: a streaming standby that serves the reports (stack/replica.py).

On the local stack everything has a default: the primary is ``ebs up``'s cluster (its
superuser over the socket), the standby lives in ``STATE_DIR/replica`` on
``DB_REPLICA_PORT`` (``DB_PORT`` + 1). For an installed primary on another host, name
a superuser's connection with ``--primary-admin`` and the address the standby streams
from with ``--primary-host``/``--primary-port`` (docs/replica.md).
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import click
import psycopg

from billing import settings as settings_mod
from cli.common import load_settings
from stack import replica as replica_mod
from stack.servers.base import ServerError
from stack.servers.postgres import PostgresServer


def _local_primary(settings: SimpleNamespace) -> PostgresServer:
    from stack.local import Stack

    return Stack(settings).postgres


def standby_server(settings: SimpleNamespace, datadir: Path | None = None,
                   port: int | None = None) -> PostgresServer:
    """The local standby: a hot standby on its own port, its socket beside its data."""
    datadir = datadir or Path(settings.STATE_DIR) / "replica" / "data"
    return PostgresServer(datadir=datadir, port=port or settings_mod.replica_port(settings),
                          socket_dir=datadir.parent / "run", user=settings.DB_USER,
                          standby=True)


def _start(server: PostgresServer) -> None:
    server.socket_dir.mkdir(parents=True, exist_ok=True)
    try:
        server.start()
    except ServerError as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
def replica() -> None:
    """A streaming replica for the reports and dashboards."""


_DATADIR = click.option("--datadir", type=click.Path(file_okay=False, path_type=Path),
                        default=None, help="The standby's data directory "
                        "(default: STATE_DIR/replica/data).")
_PORT = click.option("--port", type=int, default=None,
                     help="The standby's port (default: DB_REPLICA_PORT, else DB_PORT + 1).")
_SLOT = click.option("--slot", default=replica_mod.DEFAULT_SLOT, show_default=True,
                     help="The primary's replication slot for this standby.")


@replica.command("setup")
@_DATADIR
@_PORT
@_SLOT
@click.option("--primary-admin", default=None, metavar="CONNINFO",
              help="A superuser's connection to the primary (default: the local stack's).")
@click.option("--primary-host", default=None,
              help="Where the standby streams from (default: DB_HOST, else 127.0.0.1).")
@click.option("--primary-port", type=int, default=None, help="(default: DB_PORT)")
@click.option("--no-start", is_flag=True, help="Copy only; the operator's own service "
              "manager starts the standby.")
def setup_command(datadir, port, slot, primary_admin, primary_host, primary_port,
                  no_start) -> None:
    """Make (or keep) a standby of the primary and start it: a replication role with a
    generated password, a physical slot, pg_basebackup -R. A second run changes nothing."""
    settings = load_settings()
    local = _local_primary(settings)
    primary = replica_mod.Primary(
        admin_conninfo=primary_admin or local.admin_conninfo(),
        host=primary_host or settings.DB_HOST or "127.0.0.1",
        port=primary_port or int(settings.DB_PORT), secrets=local.secrets)
    server = standby_server(settings, datadir, port)
    try:
        done = replica_mod.setup(primary, server.datadir, slot)
    except replica_mod.ReplicaError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"standby {done}: {server.datadir}, slot {slot}")
    if not no_start:
        _start(server)
        click.echo(f"standby running on port {server.port}; reports read it with "
                   f"DB_REPLICA_HOST = '127.0.0.1', DB_REPLICA_PORT = {server.port}")


@replica.command("start")
@_DATADIR
@_PORT
def start_command(datadir, port) -> None:
    """Start the local standby (it catches up from its slot)."""
    server = standby_server(load_settings(), datadir, port)
    _start(server)
    click.echo(f"standby running on port {server.port}")


@replica.command("stop")
@_DATADIR
@_PORT
def stop_command(datadir, port) -> None:
    """Stop the local standby (the primary keeps its WAL in the slot meanwhile)."""
    standby_server(load_settings(), datadir, port).stop()
    click.echo("standby stopped")


@replica.command("status")
@click.option("--primary-admin", default=None, metavar="CONNINFO",
              help="A superuser's connection to the primary (default: the local stack's).")
def status_command(primary_admin) -> None:
    """Each standby the primary keeps a slot for: connected or not, how far behind in
    bytes and seconds, and the WAL its slot holds back."""
    settings = load_settings()
    conninfo = primary_admin or _local_primary(settings).admin_conninfo()
    try:
        with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as admin:
            rows = replica_mod.standbys(admin)
    except psycopg.OperationalError as exc:
        raise click.ClickException(f"cannot reach the primary ({exc})") from None
    if not rows:
        click.echo("no standby: the primary keeps no physical slot")
    for row in rows:
        if row["state"] is None:
            click.echo(f"{row['slot_name']}: not connected; its slot keeps "
                       f"{row['slot_kept_bytes'] or 0} bytes of WAL")
            continue
        click.echo(f"{row['slot_name']}: {row['state']} from {row['address']}, "
                   f"{row['replay_bytes_behind']} bytes behind, replay lag "
                   f"{row['replay_lag_seconds'] or 0:.3f} s, slot keeps "
                   f"{row['slot_kept_bytes']} bytes")


@replica.command("drop-slot")
@_SLOT
@click.option("--primary-admin", default=None, metavar="CONNINFO",
              help="A superuser's connection to the primary (default: the local stack's).")
def drop_slot_command(slot, primary_admin) -> None:
    """Forget a standby that is gone for good: the primary stops keeping WAL for it."""
    settings = load_settings()
    conninfo = primary_admin or _local_primary(settings).admin_conninfo()
    try:
        dropped = replica_mod.drop_slot(conninfo, slot)
    except psycopg.Error as exc:
        raise click.ClickException(str(exc).strip()) from None
    click.echo(f"slot {slot} dropped" if dropped else f"no slot {slot}")
