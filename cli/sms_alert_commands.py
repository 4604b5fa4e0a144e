"""``ebs sms balance-alerts`` (ExpertBilling's ``ballance_sms_messages``) and ``ebs sms
events`` (payments, blocks, the forecast): the passes of billing/notifications/events.py
by hand, as the beat runs them."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import click

from billing.notifications import events as events_mod
from billing.notifications.mailing import MailingRefused
from cli.common import load_settings, open_db

PASSES = ("payments", "blocks", "forecast")


def _print(name: str, figures: dict) -> None:
    skipped = ", ".join(f"{n} {reason}" for reason, n in sorted(figures["skipped"].items()))
    click.echo(f"{name}: {figures['selected']} selected, {figures['queued']} queued"
               + (f", skipped: {skipped}" if skipped else "")
               + (f", {figures['reset']} reset" if figures["reset"] else ""))


@click.command("balance-alerts")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as one JSON line.")
def balance_alerts(as_json: bool) -> None:
    """Queue the low-balance message to subscribers below SENDSMS_IF_BALLANCE_AMOUNT (or
    their tariff's own threshold), at most every SENDSMS_BALANCE_EVERY_DAYS days and
    SENDSMS_BALANCE_MAX_TIMES times until the balance recovers; the beat runs it daily at
    SENDSMS_BALANCE_AT. `ebs sms send-due` (or the beat) sends what was queued."""
    settings = load_settings()
    with open_db(component="worker") as conn:
        try:
            figures = events_mod.balance_alerts(conn, datetime.now(UTC), settings).as_dict()
        except MailingRefused as exc:
            raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(figures, sort_keys=True))
    else:
        _print("low balance", figures)


@click.command("events")
@click.option("--only", type=click.Choice(PASSES), multiple=True,
              help="Run only this pass (repeatable); all three by default.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as one JSON line.")
def events(only: tuple[str, ...], as_json: bool) -> None:
    """Queue the notices of payments credited (NOTIFY_PAYMENTS), blocks by balance or
    limit (NOTIFY_BLOCKS) and the forecast falling to NOTIFY_FORECAST_DAYS days, each
    once; the beat runs it every five minutes."""
    settings = load_settings()
    with open_db(component="worker") as conn:
        try:
            figures = events_mod.run_events(conn, datetime.now(UTC), settings, only or PASSES)
        except MailingRefused as exc:
            raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(figures, sort_keys=True))
        return
    for name, result in figures.items():
        _print(name, result)


def register(group: click.Group) -> None:
    group.add_command(balance_alerts)
    group.add_command(events)
