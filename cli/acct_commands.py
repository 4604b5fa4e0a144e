"""``ebs acct``: RADIUS accounting housekeeping (the code the Celery task runs)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from billing import acct_spool
from cli.common import load_settings, open_db


@click.group()
def acct() -> None:
    """RADIUS accounting: the spool of packets PostgreSQL could not take at once."""


@acct.command("drain")
@click.option("--spool", "spool", type=click.Path(file_okay=False, path_type=Path),
              help="The spool directory (default: RADIUS_ACCT_SPOOL_DIR, else the local "
                   "stack's var/freeradius/radacct/spool).")
@click.option("--batch", default=acct_spool.BATCH, show_default=True,
              type=click.IntRange(min=1), help="Entries applied per transaction.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def drain(spool: Path | None, batch: int, as_json: bool) -> None:
    """Apply every spooled Accounting-Request in batches, then remove the spool files.

    Safe to run at any time and repeatedly (Celery runs it every few seconds as
    ebs.acct_drain): one drain per directory at a time, and each batch commits with its
    file position, so an interrupted drain resumes where it stopped.
    """
    directory = spool or acct_spool.spool_dir(load_settings())

    def progress(name: str, position: int, size: int, result: acct_spool.DrainResult) -> None:
        click.echo(f"{name}: {position}/{size} bytes, {result.applied} applied, "
                   f"{result.skipped} skipped", file=sys.stderr)

    with open_db(autocommit=False) as conn:
        result = acct_spool.drain(conn, directory, batch_size=batch, progress=progress)
    if as_json:
        click.echo(json.dumps(result.as_dict()))
        return
    if result.busy:
        click.echo(f"{directory}: another drain is running; nothing done")
        return
    outcomes = ", ".join(f"{k} {v}" for k, v in sorted(result.outcomes.items())) or "none"
    click.echo(f"drained {result.files} files from {directory}: {result.applied} entries "
               f"applied in {result.batches} batches ({outcomes}), {result.skipped} skipped")
