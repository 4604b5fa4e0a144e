"""``ebs acct``: RADIUS accounting housekeeping (the code the Celery task runs)."""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from pathlib import Path

import click

from billing import settings as settings_mod
from billing.db import connect
from cli.common import load_settings, open_db
from stack import acct_follow, acct_spool, auth_spool


@click.group()
def acct() -> None:
    """RADIUS accounting: the spool FreeRADIUS writes (every packet in the spool mode,
    those PostgreSQL could not take at once in the live mode) and its drain."""


@acct.command("drain")
@click.option("--spool", "spool", type=click.Path(file_okay=False, path_type=Path),
              help="The spool directory (default: RADIUS_ACCT_SPOOL_DIR, else the local "
                   "stack's var/freeradius/radacct/spool).")
@click.option("--batch", default=acct_spool.BATCH, show_default=True,
              type=click.IntRange(min=1), help="Entries applied per transaction.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--follow", is_flag=True,
              help="Keep draining as FreeRADIUS spools, until SIGTERM or Ctrl-C (the "
                   "spool accounting mode; `ebs up` runs it as acct-drain).")
@click.option("--poll", default=acct_follow.POLL, show_default=True,
              type=click.FloatRange(min=0.01, max=10),
              help="With --follow: seconds between looks at an empty spool.")
def drain(spool: Path | None, batch: int, as_json: bool, follow: bool, poll: float) -> None:
    """Apply every spooled Accounting-Request in batches, then remove the spool files;
    then write the auth log's spool (answers given while the database was away).

    Safe to run at any time and repeatedly (Celery runs it every few seconds as
    ebs.acct_drain): one drain per directory at a time, and each batch commits with its
    file position, so an interrupted drain resumes where it stopped.
    """
    settings = load_settings()
    directory = spool or acct_spool.spool_dir(settings)
    if follow:
        _follow(directory, batch, poll, as_json)
        return

    def progress(name: str, position: int, size: int, result: acct_spool.DrainResult) -> None:
        click.echo(f"{name}: {position}/{size} bytes, {result.applied} applied, "
                   f"{result.skipped} skipped", file=sys.stderr)

    with open_db(autocommit=False, component="acct") as conn:
        result = acct_spool.drain(conn, directory, batch_size=batch, progress=progress)
        logged = auth_spool.drain(conn, directory.parent / "auth-spool")
    if as_json:
        click.echo(json.dumps({**result.as_dict(), "auth_log": logged.as_dict()}))
        return
    if logged.files or logged.skipped_files:
        click.echo(f"auth log: {logged.logged} spooled answers written from {logged.files} "
                   f"files ({logged.offers} leases offered from reservations), "
                   f"{logged.bad_lines} unreadable lines")
    if result.busy:
        click.echo(f"{directory}: another drain is running; nothing done")
        return
    outcomes = ", ".join(f"{k} {v}" for k, v in sorted(result.outcomes.items())) or "none"
    click.echo(f"drained {result.files} files from {directory}: {result.applied} entries "
               f"applied in {result.batches} batches ({outcomes}), {result.skipped} skipped")


def _follow(directory: Path, batch: int, poll: float, as_json: bool) -> None:
    """The follower in the foreground: SIGTERM and Ctrl-C end it after the current drain
    (a batch is one transaction, so even a kill loses nothing)."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(message)s")
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    click.echo(f"following {directory} (poll {poll} s, batch {batch})", file=sys.stderr)
    conninfo = settings_mod.database_conninfo(load_settings(), component="acct")
    total = acct_follow.follow(lambda: connect(conninfo), directory,
                               poll=poll, batch_size=batch, stop=stop,
                               auth_directory=directory.parent / "auth-spool")
    summary = total.as_dict()
    click.echo(json.dumps(summary) if as_json else
               f"stopped: {total.applied} entries applied from {total.files} files, "
               f"{total.skipped} skipped")
