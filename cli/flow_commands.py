"""``ebs flow``: the traffic collector (nfacctd) and its tables."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import click
import psycopg

from cli.common import load_settings, open_db
from flow import partitions
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
