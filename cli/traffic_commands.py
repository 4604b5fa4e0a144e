"""``ebs traffic``: the traffic rater by hand (the code the beat's ebs.rate_traffic runs)."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

import click

from cli.charge_commands import _parse_at
from cli.common import load_settings, open_db
from flow.rater import RateResult, rate, watermark


@click.group()
def traffic() -> None:
    """Traffic from the NetFlow collector: rating into statistics and charges."""


@traffic.command("rate")
@click.option("--at", "at_text", metavar="TIME",
              help="Rate bins up to this moment (ISO; local time of TIME_ZONE unless it has "
                   "an offset). Default: now.")
@click.option("--late-minutes", type=click.IntRange(min=0),
              help="Look this far behind the watermark for late rows "
                   "(default: FLOW_RATE_LATE_MINUTES).")
@click.option("--chunk-minutes", type=click.IntRange(min=1),
              help="Minutes of bins per transaction (default: FLOW_RATE_CHUNK_MINUTES).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def rate_command(at_text: str | None, late_minutes: int | None, chunk_minutes: int | None,
                 as_json: bool) -> None:
    """Rate the collector's rows: attribute them, add them to the hourly statistics and
    post their charges. Safe beside the beat's run: one waits for the other, and what one
    rated the other does not rate again."""
    settings = load_settings()
    tz = ZoneInfo(settings.TIME_ZONE)
    at = _parse_at(at_text, tz)
    late = settings.FLOW_RATE_LATE_MINUTES if late_minutes is None else late_minutes
    chunk = settings.FLOW_RATE_CHUNK_MINUTES if chunk_minutes is None else chunk_minutes
    with open_db(autocommit=True, component="worker") as conn:
        start = watermark(conn)
        with click.progressbar(length=1, label="rating", show_pos=True,
                               file=sys.stderr) as bar:
            def progress(_result: RateResult, done: datetime, end: datetime) -> None:
                first = start or done
                bar.length = max(int((end - first).total_seconds() // 60), 1)
                bar.update(max(int((done - first).total_seconds() // 60), 0) - bar.pos)

            result = rate(conn, at, tz, late_minutes=int(late), chunk_minutes=int(chunk),
                          progress=progress)
    if as_json:
        click.echo(json.dumps(result.as_dict()))
        return
    click.echo(f"rated to {result.rated_to.isoformat() if result.rated_to else '-'}: "
               f"{result.bins} bins read, {result.changed} group values changed, "
               f"{result.rejected_rows} rows of nobody, {result.entries} entries posting "
               f"{result.amount} in {result.chunks} chunks")
