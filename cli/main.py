"""The ``ebs`` command: the operator's entry point to the stack."""

from __future__ import annotations

import sys

import click

from cli import (
    account_commands,
    acct_commands,
    bench_commands,
    charge_commands,
    credentials_commands,
    db_commands,
    ledger_commands,
    seed,
    stack_commands,
    tariff_commands,
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ebs")
def cli() -> None:
    """EBS ISP billing: run the stack, migrate, seed, charge, verify."""


cli.add_command(account_commands.account)
cli.add_command(acct_commands.acct)
cli.add_command(charge_commands.charge)
cli.add_command(credentials_commands.credentials_group)
cli.add_command(charge_commands.bench)
bench_commands.register(charge_commands.bench)
cli.add_command(db_commands.db)
cli.add_command(ledger_commands.ledger)
cli.add_command(seed.seed)
cli.add_command(stack_commands.up)
cli.add_command(stack_commands.down)
cli.add_command(stack_commands.status)
cli.add_command(tariff_commands.tariff)


def main() -> None:
    try:
        cli.main(standalone_mode=True)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
