"""``ebs radius``: FreeRADIUS housekeeping beside the server."""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from pathlib import Path

import click
import psycopg

from billing import settings as settings_mod
from cli.common import load_settings
from stack import db_watch, nas_sync, radius_clients
from stack.servers.base import ServerError


@click.group()
def radius() -> None:
    """FreeRADIUS beside the billing: the database watch of its degraded mode."""


@radius.command("watch-db")
@click.option("--socket", "sockets", multiple=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="A FreeRADIUS control socket to tell (repeat for several servers on "
                   "this host; default: the local stack's).")
@click.option("--every", default=db_watch.EVERY, show_default=True,
              type=click.FloatRange(min=0.02, max=5), help="Seconds between probes.")
def watch_db(sockets: tuple[Path, ...], every: float) -> None:
    """Probe PostgreSQL (DB_HOST:DB_PORT) every EVERY seconds and, while it does not
    answer, keep FreeRADIUS off it: its sql module is set to fail over the control
    socket, so logins go at once to the degraded mode (or are rejected) instead of
    waiting seconds on a database that accepts connections and never answers. Runs
    until SIGTERM or Ctrl-C; `ebs up` runs it as db-watch."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(message)s")
    settings = load_settings()
    targets = list(sockets) or [
        radius_clients.local_server_dir(settings.STATE_DIR) / "run" / "control.sock"]
    watch = db_watch.DbWatch(str(settings.DB_HOST), int(settings.DB_PORT), targets,
                             report=lambda line: click.echo(line, err=True))
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    click.echo(f"watching PostgreSQL at {settings.DB_HOST}:{settings.DB_PORT} every "
               f"{every} s for {', '.join(map(str, targets))}", err=True)
    watch.run(stop, every)


@radius.command("sync-clients")
def sync_clients() -> None:
    """Render FreeRADIUS's clients from the NAS table and restart it when they changed,
    as the worker's ebs.nas_changed does; through systemd when RADIUS_SERVICE names a
    unit (an installed system, where ebs-radius-clients.path runs this as root)."""
    settings = load_settings()
    restarter = (nas_sync.systemd_restarter(settings.RADIUS_SERVICE)
                 if settings.RADIUS_SERVICE else nas_sync.restart)
    try:
        result = nas_sync.sync_clients(
            settings_mod.database_conninfo(settings, component="worker"),
            radius_clients.local_server_dir(settings.STATE_DIR), restarter)
    except (ServerError, psycopg.Error) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(result, sort_keys=True))
