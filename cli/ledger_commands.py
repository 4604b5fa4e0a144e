"""``ebs ledger``: prove balances equal their ledger."""

from __future__ import annotations

import time

import click

from billing import ledger as ledger_service
from cli.common import open_db


@click.group()
def ledger() -> None:
    """The ledger of balance changes."""


@ledger.command()
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1),
              help="How many mismatching accounts to list.")
def verify(limit: int) -> None:
    """Recompute every balance from the ledger entries; exit 1 naming any account that differs."""
    started = time.monotonic()
    with open_db() as conn:
        accounts = conn.execute("SELECT count(*) FROM accounts").fetchone()[0]
        mismatches = ledger_service.verify(conn)
    took = time.monotonic() - started
    if not mismatches:
        click.echo(
            f"ledger verified: {accounts} account balances equal their entries ({took:.1f}s)"
        )
        return
    for m in mismatches[:limit]:
        click.echo(
            f"account {m.account_id} (contract {m.contract}): balance {m.balance}, "
            f"ledger sum {m.ledger_sum}, difference {m.balance - m.ledger_sum}",
            err=True,
        )
    if len(mismatches) > limit:
        click.echo(f"... and {len(mismatches) - limit} more", err=True)
    raise click.ClickException(f"{len(mismatches)} account(s) differ from their ledger")

