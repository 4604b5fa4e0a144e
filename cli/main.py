"""The ``ebs`` command: the operator's entry point to the stack."""

from __future__ import annotations

import sys

import click
import psycopg

from cli import (
    account_commands,
    acct_commands,
    backup_commands,
    bench_commands,
    charge_commands,
    credentials_commands,
    db_commands,
    demo_commands,
    flow_commands,
    install_commands,
    ledger_commands,
    payments_commands,
    radius_commands,
    seed,
    sms_alert_commands,
    sms_commands,
    stack_commands,
    staff_commands,
    tariff_commands,
    traffic_commands,
)


def _version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    """The code's version, and the database's when it answers within seconds."""
    if not value or ctx.resilient_parsing:
        return
    from billing import settings as settings_mod
    from billing.db import connect
    from billing.release import code_version

    try:
        with connect(settings_mod.database_conninfo(settings_mod.load()),
                     autocommit=True, connect_timeout=3) as conn:
            lines = db_commands.versions_lines(conn)
    except (psycopg.Error, settings_mod.SettingsError) as exc:
        first = (str(exc).strip().splitlines() or ["no answer"])[0]
        lines = [f"code:     ebs {code_version()}", f"database: not reachable ({first})"]
    for line in lines:
        click.echo(line)
    ctx.exit()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True,
              callback=_version, help="Show the code's and the database's versions and exit.")
def cli() -> None:
    """EBS ISP billing: run the stack, migrate, seed, charge, verify."""


cli.add_command(account_commands.account)
cli.add_command(acct_commands.acct)
cli.add_command(backup_commands.backup)
cli.add_command(backup_commands.restore)
cli.add_command(backup_commands.upgrade)
cli.add_command(charge_commands.charge)
cli.add_command(credentials_commands.credentials_group)
cli.add_command(charge_commands.bench)
bench_commands.register(charge_commands.bench)
cli.add_command(db_commands.db)
cli.add_command(demo_commands.demo_command)
cli.add_command(flow_commands.flow)
cli.add_command(install_commands.install_command)
cli.add_command(ledger_commands.ledger)
cli.add_command(payments_commands.payments)
cli.add_command(radius_commands.radius)
cli.add_command(seed.seed)
cli.add_command(sms_commands.sms)
sms_alert_commands.register(sms_commands.sms)
cli.add_command(stack_commands.up)
cli.add_command(stack_commands.down)
cli.add_command(stack_commands.status)
cli.add_command(staff_commands.staff)
cli.add_command(tariff_commands.tariff)
cli.add_command(traffic_commands.traffic)


def main() -> None:
    try:
        cli.main(standalone_mode=True)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
