"""``ebs staff``: staff logins from the shell, for the day the last admin is locked out."""

from __future__ import annotations

import click

from billing.staff import StaffError, reset_password
from cli.common import open_db


@click.group()
def staff() -> None:
    """Staff logins (admins, cashiers)."""


@staff.command("reset-password")
@click.argument("login")
def reset_password_command(login: str) -> None:
    """Give LOGIN a new generated password, printed once: clears a lock and the failed
    attempts, ends the login's sessions and API tokens, and writes an audit row."""
    with open_db(autocommit=False) as conn:
        try:
            password, active = reset_password(conn, login)
        except StaffError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"new password for {login}: {password}")
    if not active:
        click.echo(f"note: {login} is deactivated; an admin must activate it before it "
                   "can log in", err=True)
