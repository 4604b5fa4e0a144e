"""``ebs bench radius-auth``, ``ebs bench radius-acct``, ``ebs bench web``, ``ebs bench
flow``, ``ebs bench payments`` and ``ebs bench sms``: each starts its own private servers,
prints progress on stderr and one JSON line last."""

from __future__ import annotations

import json
from pathlib import Path

import click

_ACCOUNTS = click.option(
    "--accounts", default=100_000, show_default=True, type=click.IntRange(min=1),
    help="Live sessions seeded.")
# Each run logs in its own share of the subscribers, so that every login takes a new
# address (the output's fresh_logins): at ~3,300 logins/s a 10-s run needs 33,000.
_SUBSCRIBERS = click.option(
    "--accounts", default=150_000, show_default=True, type=click.IntRange(min=1),
    help="Subscribers seeded; each run logs in its own share of them.")
_SECONDS = click.option(
    "--seconds", default=10.0, show_default=True, type=click.FloatRange(min=0.5),
    help="Sending time per measured run, for ours and for the baseline each.")
_RUNS = click.option(
    "--runs", default=3, show_default=True, type=click.IntRange(min=1),
    help="Alternating runs of ours and the baseline; the figures are medians.")


@click.command("radius-auth")
@_SUBSCRIBERS
@_SECONDS
@_RUNS
def radius_auth(accounts: int, seconds: float, runs: int) -> None:
    """PAP Access-Requests/s: our authorize vs stock rlm_sql + rlm_sqlippool (and files)."""
    from bench.radius_auth import run

    click.echo(json.dumps(run(accounts, seconds, runs)))


@click.command("radius-acct")
@_ACCOUNTS
@_SECONDS
@_RUNS
def radius_acct(accounts: int, seconds: float, runs: int) -> None:
    """Interim-Updates applied/s: our accounting vs stock rlm_sql, durable commits."""
    from bench.radius_acct import run

    click.echo(json.dumps(run(accounts, seconds, runs)))


@click.command("web")
@click.option("--accounts", default=500_000, show_default=True, type=click.IntRange(min=1),
              help="Subscribers seeded with months of history (ledger and sessions).")
@click.option("--requests", default=50, show_default=True, type=click.IntRange(min=5),
              help="Measured requests per page, on the seeded and on the empty database.")
@click.option("--keep", type=click.Path(file_okay=False, path_type=Path),
              help="Keep the private PostgreSQL in this directory and reuse its data on "
                   "the next run (new migrations are applied to it).")
def web(accounts: int, requests: int, keep: Path | None) -> None:
    """p95 ms of the admin's list, search, account and ledger pages: seeded vs empty."""
    from bench.web import run

    click.echo(json.dumps(run(accounts, requests, keep)))


def _rates(_ctx, _param, value: str | None) -> list[int] | None:
    if value is None:  # bench.flow.RATES
        return None
    try:
        rates = [int(r.replace("_", "")) for r in value.split(",") if r.strip()]
    except ValueError:
        raise click.BadParameter("a comma-separated list of whole flows/s") from None
    if not rates or min(rates) < 1:
        raise click.BadParameter("at least one rate, each at least 1 flow/s")
    return rates


@click.command("flow")
@click.option("--addresses", default=10_000, show_default=True,
              type=click.IntRange(min=1, max=50_000),
              help="Subscribers, each holding one pool address in an open session "
                   "(the baseline's print cache takes about 44 kB per address).")
@click.option("--seconds", default=60.0, show_default=True, type=click.FloatRange(min=1),
              help="Sending time of each step, for ours and for the baseline each.")
@click.option("--rates", default=None, callback=_rates,
              show_default="25000,50000,100000,200000,400000,600000,800000,1200000,1600000,"
                           "2000000",
              help="Offered flows/s, stepped upwards; a side stops at its first failure.")
@click.option("--rater-rows", default=1_000_000, show_default=True,
              type=click.IntRange(min=1), help="Aggregated rows the rater alone rates.")
@click.option("--plugin-pipe-mib", default=None, type=click.IntRange(min=1, max=4096),
              help="Each plugin's ring, both sides alike (default: FLOW_PLUGIN_PIPE_BYTES).")
def flow(addresses: int, seconds: float, rates: list[int] | None, rater_rows: int,
         plugin_pipe_mib: int | None) -> None:
    """NetFlow v9 flows/s collected and rated without loss vs nfacctd's print plugin."""
    from bench.flow import RATES, run

    extra = {"pipe_bytes": plugin_pipe_mib * 1024 * 1024} if plugin_pipe_mib else {}
    click.echo(json.dumps(run(addresses, seconds, rates or RATES, rater_rows, **extra)))


@click.command("payments")
@click.option("--payments", default=20_000, show_default=True, type=click.IntRange(min=20),
              help="Deliveries measured per side, repeated ones included.")
@click.option("--accounts", default=10_000, show_default=True, type=click.IntRange(min=1),
              help="Subscribers the payments are spread over.")
@click.option("--clients", default=16, show_default=True, type=click.IntRange(min=1),
              help="Concurrent clients, each with its own HTTP connection.")
@click.option("--warmup", default=400, show_default=True, type=click.IntRange(min=0),
              help="Deliveries of each side's warm-up round, not measured.")
@click.option("--duplicates", default=0.1, show_default=True,
              type=click.FloatRange(min=0, max=0.5),
              help="Share of deliveries that repeat a payment (half of them racing it).")
def payments(payments: int, accounts: int, clients: int, warmup: int,
             duplicates: float) -> None:
    """Credited payments/s: QIWI pay notifications vs the REST API's payment endpoint.

    Both through the web app as `ebs up` serves it (gunicorn, two workers) on a private
    durable PostgreSQL and Redis; warm-up of each side, then the baseline, then ours.
    Also p50/p95 answer times and doubles (ledger credits beyond one per payment, must
    be 0), with `ledger verify` and the gateway reconciliation after the run.
    """
    from bench.payments import run

    click.echo(json.dumps(run(payments, accounts, clients, warmup, duplicates)))


@click.command("sms")
@click.option("--accounts", default=500_000, show_default=True, type=click.IntRange(min=10),
              help="Subscribers seeded, each with a mobile number.")
@click.option("--below", default=50_000, show_default=True, type=click.IntRange(min=1),
              help="Of them, those below the balance threshold.")
@click.option("--runs", default=3, show_default=True, type=click.IntRange(min=1),
              help="Alternating runs of the baseline and of ours; the figures are medians.")
@click.option("--send", default=5_000, show_default=True, type=click.IntRange(min=1),
              help="Queued messages then sent through the sender to the local sms.ru.")
def sms(accounts: int, below: int, runs: int, send: int) -> None:
    """The balance-alert pass (select, render, queue) vs SELECT id, balance, phone of the
    same subscribers; then messages handed to a local sms.ru per second."""
    from bench.sms import run

    click.echo(json.dumps(run(accounts, below, runs, send)))


def register(bench: click.Group) -> None:
    """Add the RADIUS, web, traffic and payment benchmarks to the ``ebs bench`` group."""
    bench.add_command(radius_auth)
    bench.add_command(radius_acct)
    bench.add_command(web)
    bench.add_command(flow)
    bench.add_command(payments)
    bench.add_command(sms)
