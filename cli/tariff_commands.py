"""``ebs tariff``: the admin's bulk tariff change from the command line.

The same ``billing.tariff_change.bulk_change_tariff`` the accounts list's action calls:
the accounts move to one tariff at one moment, bypassing the change matrix and its cost,
never into time a charge tick has already settled; each change is recorded with the
operator named by ``--staff``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import click
import psycopg

from billing.assignments import in_force
from billing.tariff_change import TariffChangeError, bulk_change_tariff
from cli.charge_commands import _parse_at
from cli.common import load_settings, open_db


def _tariff_id(conn: psycopg.Connection, ref: str, option: str) -> int:
    """A tariff by its name or id."""
    row = conn.execute(
        "SELECT id FROM tariffs WHERE name = %s OR id = %s ORDER BY name = %s DESC LIMIT 1",
        (ref, int(ref) if ref.isdigit() else None, ref),
    ).fetchone()
    if row is None:
        raise click.BadParameter(f"no tariff named {ref!r}", param_hint=option)
    return row[0]


def _staff_id(conn: psycopg.Connection, username: str) -> int:
    row = conn.execute("SELECT id FROM ab_user WHERE username = %s", (username,)).fetchone()
    if row is None:
        raise click.BadParameter(f"no staff member {username!r}", param_hint="--staff")
    return row[0]


def _accounts_by_ref(conn: psycopg.Connection, refs: list[str]) -> list[int]:
    """Accounts by contract number or login, all in one query; an unknown one stops."""
    rows = conn.execute(
        "SELECT id, contract, login FROM accounts WHERE contract = ANY(%s) OR login = ANY(%s)",
        (refs, refs)).fetchall()
    known = {r[1] for r in rows} | {r[2] for r in rows}
    unknown = [ref for ref in refs if ref not in known]
    if unknown:
        shown = ", ".join(unknown[:10]) + (" …" if len(unknown) > 10 else "")
        raise click.ClickException(f"no account with contract or login: {shown}")
    return [r[0] for r in rows]


def _accounts_on(conn: psycopg.Connection, tariff_id: int, at: datetime) -> list[int]:
    """Every account whose tariff just before ``at`` is ``tariff_id`` (one statement)."""
    current = in_force("a.id", "%(at)s", before=True, columns="t.tariff_id")
    return [r[0] for r in conn.execute(
        f"SELECT a.id FROM accounts a JOIN LATERAL ({current}) cur ON true"
        " WHERE cur.tariff_id = %(tariff)s", {"at": at, "tariff": tariff_id})]


@click.group()
def tariff() -> None:
    """Tariff actions of the admin: bulk change."""


@tariff.command("bulk-change")
@click.argument("accounts", nargs=-1, metavar="[ACCOUNT]...")
@click.option("--to", "to_tariff", required=True, metavar="TARIFF",
              help="The tariff (name or id) the accounts move to.")
@click.option("--from-tariff", metavar="TARIFF",
              help="Also every account on this tariff (name or id) at the moment.")
@click.option("--accounts-file", type=click.File(), metavar="FILE",
              help="Contracts or logins, one a line ('-' reads standard input).")
@click.option("--staff", required=True, metavar="LOGIN",
              help="The operator recorded with each change (a staff login).")
@click.option("--at", "at_text", metavar="TIME",
              help="When the new tariff starts (ISO; local time of TIME_ZONE unless it has "
                   "an offset). Default: now. Never inside time already charged.")
def bulk_change(accounts: tuple[str, ...], to_tariff: str, from_tariff: str | None,
                accounts_file, staff: str, at_text: str | None) -> None:
    """Move ACCOUNTs (contracts or logins), the accounts of --accounts-file and those on
    --from-tariff to the tariff --to, all at one moment.

    An account already on the tariff, or with an assignment at that very moment, stays
    as it is and is counted as unchanged. A pending scheduled change of a moved account
    is superseded.
    """
    tz = ZoneInfo(load_settings().TIME_ZONE)
    at = _parse_at(at_text, tz) if at_text else datetime.now(UTC)
    refs = list(accounts)
    if accounts_file is not None:
        refs += [line.strip() for line in accounts_file if line.strip()]
    if not refs and from_tariff is None:
        raise click.UsageError("name the accounts: ACCOUNT..., --accounts-file or --from-tariff")
    with open_db() as conn:
        target = _tariff_id(conn, to_tariff, "--to")
        staff_id = _staff_id(conn, staff)
        ids = _accounts_by_ref(conn, refs) if refs else []
        if from_tariff is not None:
            ids += _accounts_on(conn, _tariff_id(conn, from_tariff, "--from-tariff"), at)
        try:
            done = bulk_change_tariff(conn, ids, target, staff_user_id=staff_id, tz=tz, at=at)
        except TariffChangeError as exc:
            raise click.ClickException(f"refused ({exc.code}): {exc}") from None
    click.echo(f"changed {done.changed}, unchanged {done.unchanged}; "
               f"new tariff from {at.isoformat()}")
