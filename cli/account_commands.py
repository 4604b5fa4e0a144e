"""``ebs account``: suspension, promised payment and balance transfer from the command line.

Each command calls the same ``billing`` function the cabinet and the admin call, so the
tariff's rules apply unchanged; a refusal prints its reason code and exits 1.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import click
import psycopg

from billing import promise, suspension, transfer
from billing.errors import Refused
from billing.money import MoneyError, to_money
from cli.charge_commands import _parse_at
from cli.common import load_settings, open_db


def _account_id(conn: psycopg.Connection, account: str) -> int:
    """An account by its contract number or login."""
    row = conn.execute(
        "SELECT id FROM accounts WHERE contract = %s OR login = %s ORDER BY contract = %s DESC"
        " LIMIT 1", (account, account, account)).fetchone()
    if row is None:
        raise click.ClickException(f"no account with contract or login {account!r}")
    return row[0]


def _money(value: str) -> Decimal:
    """An amount argument by ``billing.money``'s rule (finite, in range, two decimals)."""
    try:
        return to_money(value)
    except MoneyError as exc:
        raise click.BadParameter(f"{exc} (e.g. 150.00)") from None


def _refused(exc: Refused) -> click.ClickException:
    return click.ClickException(f"refused ({exc.code}): {exc}")


def _moment(at_text: str | None) -> tuple[datetime, ZoneInfo]:
    tz = ZoneInfo(load_settings().TIME_ZONE)
    return (_parse_at(at_text, tz) if at_text else datetime.now(UTC)), tz


_AT = click.option("--at", "at_text", metavar="TIME",
                   help="When it happens (ISO; local time of TIME_ZONE unless it has an "
                        "offset). Default: now.")


@click.group()
def account() -> None:
    """Subscriber actions: suspend, resume, promised payment, balance transfer."""


@account.command()
@click.argument("account_ref", metavar="ACCOUNT")
@click.option("--days", type=click.IntRange(min=1),
              help="How long (default and maximum: the tariff's maximum days).")
@click.option("--reason", default="", help="Recorded in the account's state history.")
@_AT
def suspend(account_ref: str, days: int | None, reason: str, at_text: str | None) -> None:
    """Suspend ACCOUNT (contract or login) by the tariff's self-suspension rules."""
    at, tz = _moment(at_text)
    with open_db() as conn:
        try:
            done = suspension.suspend_account(conn, _account_id(conn, account_ref), at=at,
                                              tz=tz, days=days, reason=reason)
        except Refused as exc:
            raise _refused(exc) from None
    until = done.planned_until.isoformat() if done.planned_until else "resumed"
    click.echo(f"suspended from {done.starts_at.isoformat()} until {until}; "
               f"fee {done.cost}, returned {done.refunded}")


@account.command()
@click.argument("account_ref", metavar="ACCOUNT")
@click.option("--reason", default="", help="Recorded in the account's state history.")
@_AT
def resume(account_ref: str, reason: str, at_text: str | None) -> None:
    """End ACCOUNT's running suspension and make it active."""
    at, _ = _moment(at_text)
    with open_db() as conn:
        try:
            done = suspension.resume_account(conn, _account_id(conn, account_ref), at=at,
                                             reason=reason)
        except Refused as exc:
            raise _refused(exc) from None
    click.echo(f"suspension ended at {done.ended_at.isoformat()}")


@account.command("promise")
@click.argument("account_ref", metavar="ACCOUNT")
@click.argument("amount")
@_AT
def promise_command(account_ref: str, amount: str, at_text: str | None) -> None:
    """Give ACCOUNT a promised payment of AMOUNT by its tariff's rules."""
    at, _ = _moment(at_text)
    with open_db() as conn:
        try:
            given = promise.take_promise(conn, _account_id(conn, account_ref),
                                         _money(amount), at=at)
        except Refused as exc:
            raise _refused(exc) from None
    click.echo(f"promised payment {given.amount} until {given.expires_at.isoformat()}")


@account.command("transfer")
@click.argument("from_ref", metavar="FROM")
@click.argument("to_ref", metavar="TO")
@click.argument("amount")
@click.option("--request-key", help="Identifies the request: repeating it transfers once.")
@_AT
def transfer_command(from_ref: str, to_ref: str, amount: str, request_key: str | None,
                     at_text: str | None) -> None:
    """Move AMOUNT from FROM's balance to TO's (contracts or logins), atomically."""
    at, _ = _moment(at_text)
    with open_db() as conn:
        try:
            done = transfer.transfer_balance(
                conn, _account_id(conn, from_ref), _account_id(conn, to_ref),
                _money(amount), request_key=request_key, at=at)
        except Refused as exc:
            raise _refused(exc) from None
    click.echo(f"transferred {done.amount} (request {done.request_key})")
