"""``ebs sms``: SMS and e-mail to subscribers, the guide's cron entry points by hand."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime

import click

from cli.common import load_settings, open_db
from worker.notify import sender


@click.group()
def sms() -> None:
    """SMS and e-mail to subscribers (ExpertBilling's process_sms_messages and
    ballance_sms_messages)."""


@sms.command("send-due")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as one JSON line.")
def send_due(as_json: bool) -> None:
    """Send the messages that are due now, as the beat's ebs.send_due_messages does
    every minute (ExpertBilling's cron ran process_sms_messages every 5 minutes).

    Each message goes to its gateway (SENDSMS_BACKENDS, SENDSMS_BACKENDS_SETTINGS) or to
    SMTP_HOST at most once: it is marked 'sending' before the call. A gateway that is down
    or answers garbage is tried again later, then the message fails with its answer; a
    refusal (bad number, no money, wrong key) fails it at once. A message an earlier run
    left 'sending' (it stopped mid-call) becomes 'unknown' and is not sent again unless an
    operator says so. Inside SENDSMS_QUIET_HOURS nothing is sent. The day's balance
    alerts are made into messages here, a few hundred at a time, just before they go.
    """
    settings = load_settings()
    with open_db(component="worker") as conn:
        counts = sender.send_due(conn, datetime.now(UTC), settings)
    if as_json:
        click.echo(json.dumps(asdict(counts), sort_keys=True))
        return
    if counts.quiet:
        click.echo(f"quiet hours ({settings.SENDSMS_QUIET_HOURS}): nothing sent")
    if counts.made:
        click.echo(f"{counts.made} messages made of the balance alerts' and mailings'"
                   " recipients")
    click.echo(f"{counts.claimed} due: {counts.sent} sent, {counts.retried} to retry, "
               f"{counts.failed} failed, {counts.left_sending} left unknown; "
               f"{counts.expired} stale 'sending' marked unknown")
