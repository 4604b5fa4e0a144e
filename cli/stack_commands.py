"""``ebs up`` / ``ebs down`` / ``ebs status``: the local stack under ./var."""

from __future__ import annotations

import signal
import threading
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import click
import psycopg

from billing import health
from billing import settings as settings_mod
from billing.db import connect
from cli import demo
from cli.common import load_settings
from flow import collector_maps, partitions
from stack import health as host_health
from stack.installed import UnitError, services
from stack.local import Stack
from stack.servers.base import ServerError
from worker.collector_sync import sync_collector


def _say(message: str) -> None:
    click.echo(f"ebs: {message}")


def print_demo(settings, info: demo.DemoInfo) -> None:
    click.echo("")
    click.echo("Demo data loaded.")
    click.echo(f"  PostgreSQL   postgresql://{settings.DB_USER}@127.0.0.1:{settings.DB_PORT}/"
               f"{settings.DB_NAME}")
    click.echo(f"  Redis        redis://127.0.0.1:{settings.REDIS_PORT}/{settings.REDIS_DB} "
               f"(password in {settings_mod.redis_password_file(settings)})")
    click.echo(f"  RADIUS       {settings.RADIUS_LISTEN_IP} auth {settings.RADIUS_AUTH_PORT}, "
               f"acct {settings.RADIUS_ACCT_PORT} (subscribers join with the AAA module)")
    click.echo(f"  NetFlow      {settings.NETFLOW_LISTEN_IP}:{settings.NETFLOW_PORT}/udp "
               "(v5/v9/IPFIX into flow_raw)")
    click.echo(f"  Web          http://127.0.0.1:{settings.WEB_PORT}/ (admin and cashier desk; "
               "the first login with a default password asks for a new one)")
    click.echo(f"  Cabinet      http://127.0.0.1:{settings.WEB_PORT}/cabinet/ (the subscribers"
               " below log in with the same login and password)")
    click.echo(f"  Demo NAS     127.0.0.1, secret {info.nas_secret}")
    for username, password, role in info.staff:
        click.echo(f"  Staff        {username} / {password} ({role})")
    click.echo("  Subscribers  " + ", ".join(f"{u}/{p}" for u, p in info.subscribers[:4])
               + f" … ({len(info.subscribers)} in all)")


def collector_at_start(settings):
    """nfacctd as the database says, and its tables' partitions for today and the next
    days before its first write (the hourly beat task first runs an hour after the
    beat starts)."""
    def build(conn: psycopg.Connection, maps_dir):
        partitions.maintain(conn, datetime.now(UTC).date(), settings.FLOW_RETENTION_DAYS,
                            settings.FLOW_STORE_RETENTION_DAYS)
        return collector_maps.build(conn, maps_dir, int(settings.FLOW_CACHE_ENTRIES_MAX))
    return build


@click.command()
@click.option("--demo", "with_demo", is_flag=True, help="Load demo data and print logins.")
@click.option("--detach", is_flag=True, help="Start and return; stop later with `ebs down`.")
def up(with_demo: bool, detach: bool) -> None:
    """Start PostgreSQL, Redis, FreeRADIUS, nfacctd, the Celery worker and beat under ./var;
    Ctrl-C stops them."""
    settings = load_settings()
    stack = Stack(settings)
    stack.collector_builder = collector_at_start(settings)
    try:
        stack.up(_say)
        if with_demo:
            conninfo = settings_mod.database_conninfo(settings)
            with psycopg.connect(conninfo, autocommit=True) as conn:
                info = demo.load(conn, tz=ZoneInfo(settings.TIME_ZONE))
            stack.sync_radius_clients()  # the demo NAS is a new RADIUS client
            sync_collector(settings)  # and an exporter, with the demo pools
            print_demo(settings, info)
    except (ServerError, psycopg.Error) as exc:
        stack.down(_say)
        raise click.ClickException(str(exc)) from None
    if detach:
        _say("stack is up; `ebs down` stops it")
        return
    _say("stack is up; press Ctrl-C to stop")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stack.watch(stop, _say)
    stack.down(_say)
    _say("stopped")


@click.command()
def down() -> None:
    """Stop everything `ebs up` started."""
    Stack(load_settings()).down(_say)
    _say("stopped")


@click.command()
def status() -> None:
    """Show which parts are running (the local stack's, or an installed system's systemd
    units), then how the system is doing: tasks waiting and when a worker last ran one,
    the last charge tick and traffic rating, the accounting spool's backlog, logins and
    reject reasons of the last 5 minutes, CoA and payments of the last hour, silent
    NASes (the figures GET /metrics serves). Exit 1 if any part is not running."""
    settings = load_settings()
    try:
        rows = services(settings).status()
    except UnitError as exc:
        raise click.ClickException(str(exc)) from None
    width = max([15, *(len(name) for name, _, _ in rows)])
    for name, alive, address in rows:
        click.echo(f"{name:{width}} {'running' if alive else 'stopped':8} {address}")
    click.echo("")
    try:
        conn = connect(settings_mod.database_conninfo(settings), autocommit=True,
                       connect_timeout=3)
    except (psycopg.Error, settings_mod.SettingsError):
        conn = None
    try:
        for line in health.lines(host_health.snapshot(settings, conn)):
            click.echo(line)
    finally:
        if conn is not None:
            conn.close()
    if not all(alive for _, alive, _ in rows):
        raise SystemExit(1)
