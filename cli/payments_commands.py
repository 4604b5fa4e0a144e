"""``ebs payments``: payments that arrive from outside the cashier's desk."""

from __future__ import annotations

import click

from billing import statement_import
from billing.errors import Refused
from cli.common import load_settings, open_db


@click.group()
def payments() -> None:
    """Payments from banks, terminals and agents."""


@payments.command("import")
@click.argument("section", required=False)
@click.option("--min-age", type=click.FloatRange(min=0), default=None,
              help="Seconds a file must lie unchanged before it is read "
                   "[default: PAYMENTS_IMPORT_MIN_AGE_SECONDS].")
@click.option("--batch", "batch_lines", default=statement_import.DEFAULT_BATCH_LINES,
              show_default=True, type=click.IntRange(min=1),
              help="Lines applied per transaction (a run killed keeps the batches done).")
def import_statements(section: str | None, min_age: float | None, batch_lines: int) -> None:
    """Import bank statements as pattern.ini describes (PAYMENTS_IMPORT_PATTERN).

    Reads every file waiting in the folder_in of SECTION (all active sections when none
    is named): each good line is credited once (a line seen before credits nothing), bad
    lines go to folder_err with their reason, read files move to folder_out. Exits 1 when
    any line or section failed.
    """
    settings = load_settings()
    options = {"batch_lines": batch_lines, "on_file": _report_file}
    if min_age is not None:
        options["min_age_seconds"] = min_age
    with open_db() as conn:
        try:
            result = statement_import.run_configured(
                conn, settings, section_names=[section] if section else [], **options)
        except Refused as exc:
            raise click.ClickException(str(exc)) from None
    for name, problem in result.problems:
        click.echo(f"[{name}] not read: {problem}", err=True)
    click.echo(f"{len(result.files)} file(s): {result.total('lines')} lines read, "
               f"{result.total('credited')} credited, {result.total('already_seen')} already "
               f"seen, {result.total('errors')} errors")
    if result.failed:
        click.get_current_context().exit(1)


def _report_file(done: statement_import.FileResult) -> None:
    line = (f"[{done.section}] {done.name}: {done.lines} lines read, {done.credited} "
            f"credited, {done.already_seen} already seen, {done.errors} errors"
            f" -> {done.moved_to}")
    if done.err_file:
        line += f"; bad lines in {done.err_file}"
    click.echo(line)
