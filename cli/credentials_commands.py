"""``ebs credentials``: the sealed CHAP passwords."""

from __future__ import annotations

import click

from billing import credentials
from cli.common import load_settings, open_db


@click.group(name="credentials")
def credentials_group() -> None:
    """Subscribers' stored network credentials."""


@credentials_group.command()
def reseal() -> None:
    """Bind every CHAP password sealed in the old format to its subaccount."""
    settings = load_settings()
    try:
        key = credentials.load_key(settings.CREDENTIALS_KEY, settings.CREDENTIALS_KEY_FILE)
    except (credentials.CredentialError, OSError) as exc:
        raise click.ClickException(f"no credentials key: {exc}") from None
    with open_db() as conn:
        result = credentials.reseal_unbound(conn, key)
    click.echo(f"{result.resealed} CHAP passwords sealed again, bound to their subaccount")
    if result.unreadable:
        ids = ", ".join(str(i) for i in result.unreadable)
        raise click.ClickException(
            f"{len(result.unreadable)} do not open with this key (subaccounts {ids}); left "
            "as they are: set their network passwords again")
