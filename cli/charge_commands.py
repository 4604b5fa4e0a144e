"""``ebs charge``: run the charge tick from the command line (the code Celery runs)."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import click

from billing.charging.tick import CHUNK_ACCOUNTS, WORKERS
from billing.charging.tick import charge as charge_service
from cli.common import load_settings, open_db


def _parse_at(value: str | None, tz: ZoneInfo) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO time (2026-12-01T00:00, +03:00 optional)", param_hint="--at"
        ) from None
    # A time without an offset is the ISP's local wall time, as an operator types it.
    return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment


@click.command()
@click.option("--at", "at_text", metavar="TIME",
              help="Charge everything due up to this moment (ISO; local time of TIME_ZONE "
                   "unless it has an offset). Default: now.")
@click.option("--dry-run", is_flag=True,
              help="Compute and print what would be charged, then roll it back.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--chunk", default=CHUNK_ACCOUNTS, show_default=True,
              type=click.IntRange(min=1),
              help="Accounts per committed chunk: an interrupted tick keeps its finished "
                   "chunks, and the next tick completes the rest.")
@click.option("--workers", default=WORKERS, show_default=True, type=click.IntRange(min=1),
              help="Database connections charging ranges of accounts side by side "
                   "(a tick of more than one chunk); a dry run uses one.")
def charge(at_text: str | None, dry_run: bool, as_json: bool, chunk: int, workers: int) -> None:
    """Charge periodic and one-time services due up to TIME, for all accounts."""
    tz = ZoneInfo(load_settings().TIME_ZONE)
    at = _parse_at(at_text, tz)
    with open_db(autocommit=True) as conn:
        bar = click.progressbar(length=1, label="charging", show_pos=True,
                                file=sys.stderr)
        with bar:
            def progress(done: int, total: int) -> None:
                bar.length = max(total, 1)
                bar.update(done - bar.pos)

            summary = charge_service(conn, at, tz, dry_run=dry_run, progress=progress,
                                     chunk_accounts=chunk, workers=workers)
    if as_json:
        click.echo(json.dumps(summary.as_dict()))
        return
    verb = "would charge" if dry_run else "charged"
    since = summary.after.isoformat() if summary.after else "each assignment's start"
    click.echo(f"{verb} {summary.entries} entries, {summary.amount} in total, for "
               f"{summary.accounts} accounts; window ({since}, {summary.at.isoformat()}]")
    for label, (count, amount) in sorted(summary.by_service.items()):
        click.echo(f"  {label}: {count} entries, {amount}")
    if dry_run:
        click.echo("dry run: nothing was written")


@click.group()
def bench() -> None:
    """Benchmarks on private servers; each prints one JSON line with its baseline."""


@bench.command("charge")
@click.option("--accounts", default=500_000, show_default=True, type=click.IntRange(min=1),
              help="Subscribers on the GRADUAL daily fee.")
@click.option("--workers", default=WORKERS, show_default=True, type=click.IntRange(min=1),
              help="Connections the tick charges with (see ebs charge --workers).")
def bench_charge(accounts: int, workers: int) -> None:
    """One charge tick vs a naive UPDATE of the same balances (lower ratio is better)."""
    from bench.charge import run

    click.echo(json.dumps(run(accounts, workers=workers)))
