"""``ebs staff``: staff logins from the shell, for the first admin of a new installation
and for the day the last admin is locked out."""

from __future__ import annotations

import secrets

import click

from billing.staff import ROLES, StaffError, ensure_staff, reset_password
from cli.common import open_db


@click.group()
def staff() -> None:
    """Staff logins (admins, cashiers)."""


@staff.command("add")
@click.argument("login")
@click.option("--role", type=click.Choice(ROLES), default="Admin", show_default=True)
def add_command(login: str, role: str) -> None:
    """Make the staff login LOGIN with ROLE and a generated password, printed once (the
    first admin of a new installation); a login that exists is left as it is."""
    password = secrets.token_urlsafe(12)
    with open_db(autocommit=False) as conn:
        existed = conn.execute("SELECT 1 FROM ab_user WHERE username = %s",
                               (login,)).fetchone()
        if existed:
            raise click.ClickException(f"{login} exists already; `ebs staff reset-password "
                                       f"{login}` gives it a new password")
        ensure_staff(conn, login, password, role)
    click.echo(f"{role} {login} made; password: {password}")


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
