"""``ebs flow``: the traffic collector (nfacctd) and its tables."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import click
import psycopg

from billing import settings as settings_mod
from billing.db import connect
from cli.common import load_settings, open_db
from cli.stack_commands import collector_at_start
from flow import partitions
from stack.local import collector_server
from stack.servers.base import ServerError
from worker.collector_sync import sync_collector


@click.group()
def flow() -> None:
    """The traffic collector: its configuration and its day partitions."""


@flow.command()
def reload() -> None:
    """Render nfacctd's plugins and maps from the classes, pools, static addresses and
    NAS table and apply them to the local collector: maps by SIGUSR2, plugins by a
    restart, nothing when nothing changed."""
    try:
        result = sync_collector(load_settings())
    except (ServerError, psycopg.Error) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(result, sort_keys=True))


@flow.command()
def start() -> None:
    """Start the collector (nfacctd under STATE_DIR) as `ebs up` does: its plugins and maps
    built from the database, today's partitions made; returns once it takes flows, nfacctd
    running on as a daemon (ebs-nfacctd.service on an installed system)."""
    settings = load_settings()
    server = collector_server(settings)
    try:
        with connect(settings_mod.database_conninfo(settings, component="worker")) as conn:
            server.collector = collector_at_start(settings)(conn, server.maps_dir)
        server.start()
    except (ServerError, psycopg.Error) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"nfacctd running (pid {server.core_pid()}) on "
               f"{settings.NETFLOW_LISTEN_IP}:{settings.NETFLOW_PORT}/udp")


@flow.command()
def stop() -> None:
    """Stop the collector so that every flow it took is written (its plugins purge)."""
    try:
        collector_server(load_settings()).stop()
    except ServerError as exc:
        raise click.ClickException(str(exc)) from None


@flow.command(name="partitions")
def partitions_command() -> None:
    """Make the coming days' partitions of flow_bins and flow_raw and drop the days past
    FLOW_RETENTION_DAYS / FLOW_STORE_RETENTION_DAYS, as the hourly beat task does."""
    settings = load_settings()
    with open_db(component="worker") as conn:
        result = partitions.maintain(conn, datetime.now(UTC).date(),
                                     settings.FLOW_RETENTION_DAYS,
                                     settings.FLOW_STORE_RETENTION_DAYS)
    click.echo(json.dumps(result, sort_keys=True))
