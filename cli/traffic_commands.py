"""``ebs traffic``: the traffic rater by hand (the code the beat's ebs.rate_traffic runs),
re-rating after a price fix, RADIUS accounting reconciled with the flows, and the hourly
statistics rolled up to days."""

from __future__ import annotations

import json
import sys
from datetime import date, datetime
from zoneinfo import ZoneInfo

import click

from cli.charge_commands import _parse_at
from cli.common import load_settings, open_db
from flow.limits import check_limits
from flow.rater import RateResult, keep_group_bins, rate, watermark
from flow.reconcile import STEP_NAMES, mismatches, reconcile, settings_options
from flow.rerate import RerateRefused, RerateResult, rerate
from flow.session_rater import rate_sessions
from flow.stats_rollup import keep_hourly_days, roll_up


@click.group()
def traffic() -> None:
    """Traffic from the NetFlow collector: rating into statistics and charges."""


@traffic.command("rate")
@click.option("--at", "at_text", metavar="TIME",
              help="Rate bins up to this moment (ISO; local time of TIME_ZONE unless it has "
                   "an offset). Default: now.")
@click.option("--late-minutes", type=click.IntRange(min=0),
              help="Look this far behind the watermark for late rows "
                   "(default: FLOW_RATE_LATE_MINUTES).")
@click.option("--chunk-minutes", type=click.IntRange(min=1),
              help="Minutes of bins per transaction (default: FLOW_RATE_CHUNK_MINUTES).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def rate_command(at_text: str | None, late_minutes: int | None, chunk_minutes: int | None,
                 as_json: bool) -> None:
    """Rate the collector's rows (attribute them, add them to the hourly statistics and
    post their charges), then the growth of the sessions' accounting counters and time
    online for the tariffs that charge them. Safe beside the beat's runs: one waits for
    the other, and what one rated the other does not rate again."""
    settings = load_settings()
    tz = ZoneInfo(settings.TIME_ZONE)
    at = _parse_at(at_text, tz)
    late = settings.FLOW_RATE_LATE_MINUTES if late_minutes is None else late_minutes
    chunk = settings.FLOW_RATE_CHUNK_MINUTES if chunk_minutes is None else chunk_minutes
    with open_db(autocommit=True, component="worker") as conn:
        start = watermark(conn)
        with click.progressbar(length=1, label="rating", show_pos=True,
                               file=sys.stderr) as bar:
            def progress(_result: RateResult, done: datetime, end: datetime) -> None:
                first = start or done
                bar.length = max(int((end - first).total_seconds() // 60), 1)
                bar.update(max(int((done - first).total_seconds() // 60), 0) - bar.pos)

            result = rate(conn, at, tz, late_minutes=int(late), chunk_minutes=int(chunk),
                          keep_group_bins=keep_group_bins(settings),
                          progress=progress)
        # Counter traffic goes into the same usage the limits read: rated before them.
        sessions = rate_sessions(conn, at, tz, late_minutes=int(late))
        limits = check_limits(conn, at)
    if as_json:
        click.echo(json.dumps({**result.as_dict(), "limits": limits.as_dict(),
                               "radius": sessions.as_dict()}))
        return
    click.echo(f"rated to {result.rated_to.isoformat() if result.rated_to else '-'}: "
               f"{result.bins} bins read, {result.changed} group values changed, "
               f"{result.rejected_rows} rows of nobody, {result.entries} entries posting "
               f"{result.amount} in {result.chunks} chunks")
    click.echo(f"traffic limits: {limits.reached} reached, {limits.lifted} lifted, "
               f"{limits.blocked} accounts blocked, {limits.unblocked} unblocked")
    click.echo(f"sessions: {sessions.sessions} grew; {sessions.rated_bytes} bytes in "
               f"{sessions.traffic_entries} entries posting {sessions.traffic_amount}; "
               f"{sessions.rated_seconds} s in {sessions.time_entries} entries posting "
               f"{sessions.time_amount}")


@traffic.command("rerate")
@click.option("--from", "from_text", metavar="TIME", required=True,
              help="Start of the range (ISO; local time of TIME_ZONE unless it has an offset).")
@click.option("--to", "to_text", metavar="TIME", required=True, help="End of the range.")
@click.option("--account", "account_id", type=int, help="Re-rate this account only.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def rerate_command(from_text: str, to_text: str, account_id: int | None,
                   as_json: bool) -> None:
    """Recompute the traffic charges of the settlement periods overlapping the range at
    today's prices (after a price fix) and post the difference of each as a correcting
    traffic entry. Running it again posts nothing."""
    settings = load_settings()
    tz = ZoneInfo(settings.TIME_ZONE)
    start, end = _parse_at(from_text, tz), _parse_at(to_text, tz)
    with (open_db(autocommit=True, component="worker") as conn,
          click.progressbar(length=1, label="re-rating", show_pos=True,
                            file=sys.stderr) as bar):
        def progress(done: RerateResult, total: int) -> None:
            bar.length = max(total, 1)
            bar.update(done.rows - bar.pos)

        try:
            result = rerate(conn, start, end, tz, account_id=account_id, progress=progress)
        except RerateRefused as refused:
            raise click.ClickException(f"{refused.code}: {refused}") from None
    if as_json:
        click.echo(json.dumps(result.as_dict()))
        return
    click.echo(f"{result.rows} usage rows looked at, {result.recomputed} recomputed, "
               f"{result.entries} entries posting {result.amount}, {result.incomplete} "
               "left as they were (their bins are not all kept)")


@traffic.command("reconcile")
@click.option("--from", "from_text", metavar="TIME",
              help="Print mismatches whose period ends after this moment (ISO; local time "
                   "of TIME_ZONE unless it has an offset). Default: any.")
@click.option("--to", "to_text", metavar="TIME",
              help="Compare up to this moment and print mismatches that began before it. "
                   "Default: now.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary and mismatches as JSON.")
def reconcile_command(from_text: str | None, to_text: str | None, as_json: bool) -> None:
    """Compare each session's accounting bytes with the collector's flows attributed to
    it, and each exporter's flows with its sessions' accounting per hour (the code the
    beat's ebs.reconcile_traffic runs), then print the sessions and exporters whose
    figures differ beyond FLOW_RECONCILE_TOLERANCE_PERCENT, and silent exporters."""
    settings = load_settings()
    tz = ZoneInfo(settings.TIME_ZONE)
    end = _parse_at(to_text, tz)
    start = _parse_at(from_text, tz) if from_text else None
    with open_db(autocommit=True, component="worker") as conn:
        with click.progressbar(length=len(STEP_NAMES), label="reconciling", show_pos=True,
                               file=sys.stderr) as bar:
            result = reconcile(conn, end, **settings_options(settings),
                               progress=lambda _step: bar.update(1))
        rows = mismatches(conn, start, end)
    if as_json:
        click.echo(json.dumps({**result.as_dict(), "mismatches": rows}, default=str))
        return
    click.echo(f"{result.sessions_checked} sessions compared, "
               f"{result.sessions_mismatched} differ; {result.exporters_checked} exporter "
               f"hours, {result.exporters_mismatched} differ, {result.exporters_silent} "
               "silent")
    for row in rows:
        what = (f"session {row['acct_unique_id']} (account {row['account_id']})"
                if row["kind"] == "session" else f"exporter nas {row['nas_id']}")
        until = row["period_end"].isoformat() if row["period_end"] else "open"
        click.echo(f"{row['state']:8} {what} {row['period_start'].isoformat()} .. {until}: "
                   f"accounting {row['accounting_bytes']} B, flows {row['flow_bytes']} B, "
                   f"difference {row['difference']} B")


@traffic.command("rollup")
@click.option("--keep-days", type=click.IntRange(min=1),
              help="Keep this many local days, today included, per hour "
                   "(default: TRAFFIC_STATS_HOURLY_KEEP_DAYS).")
@click.option("--today", "today_text", metavar="DATE",
              help="Count the days back from this local date (YYYY-MM-DD). Default: today "
                   "in TIME_ZONE.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def rollup_command(keep_days: int | None, today_text: str | None, as_json: bool) -> None:
    """Sum the traffic statistics of the hours before the kept days per local day of
    TIME_ZONE and delete those hours (the code the beat's ebs.traffic_stats_rollup runs),
    a day per transaction. Reports and the account card add days and hours alike, so
    their totals do not change. Running it again moves nothing."""
    settings = load_settings()
    tz = ZoneInfo(settings.TIME_ZONE)
    try:
        today = date.fromisoformat(today_text) if today_text else datetime.now(tz).date()
    except ValueError:
        raise click.BadParameter("give the date as YYYY-MM-DD", param_hint="--today") from None
    keep = keep_hourly_days(settings) if keep_days is None else keep_days
    with open_db(autocommit=True, component="worker") as conn:
        try:
            result = roll_up(conn, today, tz, keep)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(result.as_dict()))
        return
    click.echo(f"{result.days} days rolled up: {result.hourly_rows} hourly rows into "
               f"{result.daily_rows} daily rows; hours kept from "
               f"{result.hourly_from.isoformat()}")
    if result.months_rebuilt is not None:
        click.echo(f"monthly totals cut again in {tz.key}: {result.months_rebuilt} rows")
