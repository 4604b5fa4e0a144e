"""``ebs payments``: payments that arrive from outside the cashier's desk."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from billing import gateway_payments, statement_import
from billing.errors import Refused
from billing.gateways import qiwi_invoices
from billing.gateways.base import GatewayConfigError, backend_config
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


@payments.command("poll-qiwi")
@click.option("--batch", "batch_size", default=qiwi_invoices.MAX_BILLS, show_default=True,
              type=click.IntRange(1, qiwi_invoices.MAX_BILLS),
              help="Invoices asked about in one request (QIWI takes at most 999).")
def poll_qiwi(batch_size: int) -> None:
    """Ask QIWI the status of every open QIWI invoice and apply it, as the beat's
    ebs.poll_qiwi_invoices does every five minutes (ExpertBilling's process_qiwi_payments).

    Paid invoices are credited once, cancelled and expired ones closed; those still open
    are asked again next time. Exits 1 when QIWI could not be asked (nothing changed for
    the invoices not asked), an invoice could not be moved, or another poll is running.
    """
    settings = load_settings()
    try:
        config = backend_config(qiwi_invoices.NAME, settings)
        with open_db() as conn:
            result = qiwi_invoices.poll(conn, config, datetime.now(UTC),
                                        batch_size=batch_size, on_batch=_report_batch)
    except GatewayConfigError as exc:
        raise click.ClickException(str(exc)) from None
    if result.busy:
        raise click.ClickException("another QIWI poll is running; try again when it ends")
    for invoice in result.credited:
        click.echo(f"{invoice}: paid, credited")
    for invoice in result.closed:
        click.echo(f"{invoice}: closed as cancelled")
    counts = result.counts
    click.echo(f"{counts['asked']} open invoice(s) asked: {counts['paid']} paid, "
               f"{counts['cancelled']} cancelled, {counts['open']} still open, "
               f"{counts['missing']} not listed by QIWI, {counts['unknown_status']} of "
               f"unknown status, {counts['mismatch']} paid with a wrong sum, "
               f"{counts['errors']} errors")
    if result.failure:
        click.echo(f"QIWI not asked: {result.failure}", err=True)
    if result.failed:
        click.get_current_context().exit(1)


def _report_batch(done: int, total: int, result: qiwi_invoices.PollResult) -> None:
    counts = result.counts
    click.echo(f"request {done}/{total}: {counts['asked']} asked so far, {counts['paid']} "
               f"paid, {counts['cancelled']} cancelled, {counts['open']} open")


@payments.command("reconcile")
def reconcile() -> None:
    """List gateway payments whose ledger entries are missing, doubled or do not sum to
    what their state says (paid: the amount once; pending or cancelled: nothing), as the
    beat's daily ebs.reconcile_gateway_payments does. Exits 1 when any is found."""
    with open_db() as conn:
        found = gateway_payments.reconcile(conn)
    for d in found:
        click.echo(f"payment {d.payment_id} ({d.backend} {d.provider_txn_id}, account "
                   f"{d.account_id}, {d.state}): should have posted {d.expected}, posted "
                   f"{d.posted} in {d.entries} entries")
    click.echo(f"{len(found)} gateway payment(s) differ from the ledger")
    if found:
        click.get_current_context().exit(1)
