"""``ebs bench flow``: NetFlow v9 flows/s our collector and rater take without loss, vs
nfacctd's own ``print`` plugin on the same stream, in the same run.

A private PostgreSQL holds N subscribers, each holding a pool address in an open
session, on a tariff pricing five groups of one traffic class each. A sender of our own
(bench/netflow_v9.py: template first, 40 records a datagram, paced) offers the stream
(every address x class x direction, round after round) at each rate of a rising list
for ``seconds``, to a fresh nfacctd per step:

* ours: nfacctd configured by flow.collector_maps from that database (the reject, "in"
  and "out" plugins, insert-only COPY into flow_bins), and the rater running every 60 s
  as the beat runs it (bench/flow_lag.py). A step passes when the sender kept its rate,
  the socket dropped nothing, nfacctd logged no warning or error, no key of the stream
  (address x class x direction) is short of a flow, and every bin was charged less than
  two bins after its end. A key counted a flow more than it was sent is reported
  (``over_counted_flows``), not failed, on both sides: that is pmacct 1.7.7's
  core-to-plugin pipe, which after a spurious wake-up re-reads the buffer it has just
  read, up to three times per plugin without a warning (docs/benchmarks.md; the print
  plugin does it too);
* baseline: the same stream into nfacctd's ``print`` plugin (bench/flow_collectors.py),
  passing on the same terms but the rating (its keys: source and destination).

``ours`` and ``baseline`` are the highest offered rates that passed; a side stops
stepping at its first failure. Before the steps, the rater alone rates ``rater_rows``
aggregated rows inserted into flow_bins of a copy of the database (rows/s), then runs
again to show that a second run charges nothing.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple
from zoneinfo import ZoneInfo

import psycopg

from bench.flow_collectors import (
    PrintNfacctd,
    cpu_use,
    log_problems,
    log_size,
    print_cache_entries,
    start_on_free_port,
)
from bench.flow_data import CLASSES, FLOW_BYTES, rater_rows, seed, stream
from bench.flow_lag import BeatRater, bins_landed
from bench.netflow_v9 import RECORDS_PER_DATAGRAM, Exporter, SendResult, datagram_bodies
from bench.radius_common import DB, connect, say, start_postgres
from billing.settings import DEFAULTS
from flow import collector_maps
from flow.rater import rate
from flow.rating import BIN
from stack.db_roles import COMPONENT_ROLES
from stack.servers.nfacctd import NfacctdServer
from stack.servers.postgres import PostgresServer
from stack.servers.udp_socket import drained

RATES = (25_000, 50_000, 100_000, 200_000, 400_000, 600_000, 800_000, 1_200_000, 1_600_000,
         2_000_000)
LAG_LIMIT = 2 * BIN.total_seconds()  # the rating keeps up: charged within two bins
SENDER_SLACK = 0.99  # a step whose sender fell further behind proves nothing
RATER_DB = "rater"


@dataclass(frozen=True)
class Landed:
    rows: int
    bytes: int
    per_key: dict[tuple[str, int, str], int]  # (address, class, direction) -> bytes


def _landed(conn: psycopg.Connection) -> Landed:
    rows, total = conn.execute(
        "SELECT count(*), coalesce(sum(bytes), 0) FROM flow_bin_rows").fetchone()
    per_key = {(address, class_id, direction): int(total) for address, class_id, direction,
               total in conn.execute("SELECT host(address), class_id, direction, sum(bytes)"
                                     " FROM flow_bin_rows GROUP BY 1, 2, 3")}
    return Landed(rows, int(total), per_key)


class KeyCounts(NamedTuple):
    short: int  # flows missing from keys below the fewest any key was sent
    over: int   # flows beyond the most any key was sent


def key_counts(before: Landed, after: Landed, sent_flows: int, keys: int) -> KeyCounts:
    """Each of the stream's ``keys`` was sent ``sent_flows // keys`` flows, or one more
    (the last round may be partial): fewer landed is a loss, more a flow counted twice.
    Keys with nothing landed are absent from ``after``."""
    fewest, left = divmod(sent_flows, keys)
    most = fewest + (1 if left else 0)
    short = over = 0
    for key, total in after.per_key.items():
        flows = (total - before.per_key.get(key, 0)) // FLOW_BYTES
        short += max(0, fewest - flows)
        over += max(0, flows - most)
    absent = keys - sum(1 for key, total in after.per_key.items()
                        if total > before.per_key.get(key, 0))
    # In a partial last round a key sent `fewest` flows and counted once more looks like
    # one of the keys sent `most`: what landed beyond what was sent is counted twice too.
    landed = sum(after.per_key.values()) - sum(before.per_key.values())
    return KeyCounts(short + fewest * absent, max(over, landed // FLOW_BYTES - sent_flows))


def _minute(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


def _send(port: int, bodies, offered: int, seconds: float) -> SendResult:
    exporter = Exporter(("127.0.0.1", port))
    try:
        return exporter.run(bodies, offered, seconds, progress=lambda r: say(
            f"  {r.flows:,} flows in {r.seconds:.0f} s"))
    finally:
        exporter.close()


def _verdict(sent: SendResult, drops: int | None, problems: list[str],
             flows_landed: int, over: int = 0) -> list[str]:
    """Why a step failed (nothing: it passed)."""
    why = []
    if sent.achieved < SENDER_SLACK * sent.offered:
        why.append("the sender fell behind its rate")
    if drops is None:
        why.append("nfacctd's socket was not found in /proc/net/udp")
    elif drops:
        why.append(f"{drops} datagrams dropped by the socket")
    if problems:
        why.append(f"nfacctd logged {len(problems)} warnings or errors")
    if flows_landed - over != sent.flows:
        why.append(f"{sent.flows - flows_landed + over} flows did not land")
    return why


def _collector_fields(pg: PostgresServer, directory: Path, port: int, pipe_bytes: int) -> dict:
    """What both sides share: the database, the socket and the plugins' ring."""
    role = COMPONENT_ROLES["flow"]
    return {"directory": directory, "port": port, "db_host": "127.0.0.1",
            "db_port": pg.port, "db_name": DB, "db_user": role,
            "db_password": pg.password(role), "table": "flow_bins",
            "plugin_pipe_size": pipe_bytes}


def ours_step(pg: PostgresServer, base: Path, bodies, offered: int, seconds: float,
              addresses: int, pipe_bytes: int) -> dict:
    say(f"ours at {offered:,} flows/s for {seconds:g} s")
    with connect(pg) as conn:
        def make(port: int) -> NfacctdServer:
            server = NfacctdServer(**_collector_fields(
                pg, base / f"ours-{offered}-{port}", port, pipe_bytes))
            server.collector = collector_maps.build(conn, server.maps_dir)
            return server

        before = _landed(conn)
        server = start_on_free_port(make)
        first_bin = _minute(datetime.now(UTC))
        beat = BeatRater(pg.role_conninfo(COMPONENT_ROLES["worker"], DB), BIN.total_seconds())
        beat.start()
        try:
            try:
                sent = _send(server.port, bodies, offered, seconds)
                counters = drained(server.port)
                cpu = cpu_use(server)
            finally:
                stop_offset = log_size(server)
                server.stop()  # SIGINT: the plugins write what they hold
            after = _landed(conn)
            expected = bins_landed(conn, first_bin)
            say(f"  waiting for the beat's rater to charge {len(expected)} bins")
            lags = beat.finish(expected, timeout=LAG_LIMIT + 30)
        finally:
            beat.stopping.set()
    problems = log_problems(server, stop_offset)
    flows_landed = (after.bytes - before.bytes) // FLOW_BYTES
    counts = key_counts(before, after, sent.flows, addresses * CLASSES * 2)
    step = {**sent.as_dict(), "socket_drops": counters.drops if counters else None,
            "nfacctd_problems": problems[:5], "rows_landed": after.rows - before.rows,
            "flows_landed": flows_landed, **cpu, "keys_short_flows": counts.short,
            "over_counted_flows": counts.over, "bins": len(expected),
            "bins_charged": len(lags),
            "lag_max_s": round(max(lags.values()), 1) if lags else None,
            "rater_run_max_s": round(max(beat.run_seconds), 3) if beat.run_seconds else None}
    why = _verdict(sent, step["socket_drops"], problems, flows_landed, counts.over)
    if counts.short:
        why.append(f"keys were {counts.short} flows short")
    if len(lags) < len(expected):
        why.append(f"{len(expected) - len(lags)} bins not charged within "
                   f"{LAG_LIMIT + 30:.0f} s of the stop")
    elif lags and max(lags.values()) >= LAG_LIMIT:
        why.append(f"the rating lagged {max(lags.values()):.0f} s behind a bin's end")
    return _report(step, why)


def baseline_step(pg: PostgresServer, base: Path, bodies, offered: int, seconds: float,
                  addresses: int, pipe_bytes: int) -> dict:
    say(f"baseline (print plugin) at {offered:,} flows/s for {seconds:g} s")
    server = start_on_free_port(lambda port: PrintNfacctd(
        **_collector_fields(pg, base / f"baseline-{offered}-{port}", port, pipe_bytes),
        cache_entries=print_cache_entries(addresses * CLASSES * 2)))
    try:
        sent = _send(server.port, bodies, offered, seconds)
        counters = drained(server.port)
        cpu = cpu_use(server)
    finally:
        stop_offset = log_size(server)
        server.stop()
    per_key = server.landed_per_key()
    landed = Landed(sum(r for r, _ in per_key.values()), sum(b for _, b in per_key.values()),
                    {key: b for key, (_, b) in per_key.items()})
    counts = key_counts(Landed(0, 0, {}), landed, sent.flows, addresses * CLASSES * 2)
    problems = log_problems(server, stop_offset)
    step = {**sent.as_dict(), "socket_drops": counters.drops if counters else None,
            "nfacctd_problems": problems[:5], "rows_landed": landed.rows,
            "flows_landed": landed.bytes // FLOW_BYTES, **cpu,
            "keys_short_flows": counts.short, "over_counted_flows": counts.over}
    why = _verdict(sent, step["socket_drops"], problems, step["flows_landed"], counts.over)
    if counts.short:
        why.append(f"keys were {counts.short} flows short")
    return _report(step, why)


def _report(step: dict, why: list[str]) -> dict:
    step["ok"], step["failed_because"] = not why, why
    say(f"  {'passed' if not why else 'failed: ' + '; '.join(why)}"
        f" (sent {step['flows']:,} at {step['achieved']:,}/s, landed {step['flows_landed']:,},"
        f" socket drops {step['socket_drops']}, CPU s core {step['core_cpu_s']}"
        f" plugins {step['plugins_cpu_s']}"
        + (f", {step['over_counted_flows']} counted twice" if step.get("over_counted_flows")
           else "")
        + (f", lag max {step['lag_max_s']} s)" if "lag_max_s" in step else ")"))
    return step


def rater_alone(pg: PostgresServer, class_ids: list[int], addresses: int, rows: int) -> dict:
    """One rating run over ``rows`` rows waiting in flow_bins, on the worker's role."""
    say(f"rater alone: {rows:,} aggregated rows into flow_bins")
    with psycopg.connect(pg.conninfo(RATER_DB), autocommit=True) as conn:
        _, last = rater_rows(conn, class_ids, addresses, rows, datetime.now(UTC))
    options = {"late_minutes": int(DEFAULTS["FLOW_RATE_LATE_MINUTES"]),
               "chunk_minutes": int(DEFAULTS["FLOW_RATE_CHUNK_MINUTES"])}
    worker = pg.role_conninfo(COMPONENT_ROLES["worker"], RATER_DB)
    with psycopg.connect(worker, autocommit=True) as conn:
        started = time.perf_counter()
        first = rate(conn, last, ZoneInfo("UTC"), **options)
        took = time.perf_counter() - started
        started = time.perf_counter()
        again = rate(conn, last, ZoneInfo("UTC"), **options)
        again_took = time.perf_counter() - started
    say(f"  {rows:,} rows in {took:.2f} s: {rows / took:,.0f} rows/s, {first.entries:,} "
        f"ledger entries; a second run {again_took:.2f} s, {again.entries} entries")
    return {"rows": rows, "seconds": round(took, 3), "rows_per_s": round(rows / took),
            "bins": first.bins, "entries": first.entries, "amount": str(first.amount),
            "second_run_s": round(again_took, 3), "second_run_entries": again.entries}


def _best(steps: list[dict]) -> int:
    return max((s["offered"] for s in steps if s["ok"]), default=0)


def run(addresses: int = 10_000, seconds: float = 60.0, rates=RATES,
        rater_rows_count: int = 1_000_000, workdir: Path | None = None,
        pipe_bytes: int = int(DEFAULTS["FLOW_PLUGIN_PIPE_BYTES"])) -> dict:
    rates = sorted(set(rates))
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="ebs-bench-flow-", dir=workdir) as tmp:
        base = Path(tmp)
        say(f"PostgreSQL and {addresses:,} subscribers holding addresses, {CLASSES} classes")
        pg = start_postgres(base)
        try:
            with connect(pg) as conn:
                class_ids = seed(conn, addresses, datetime.now(UTC))
            pg.create_database(RATER_DB, template=DB)
            rater = rater_alone(pg, class_ids, addresses, rater_rows_count)
            bodies = datagram_bodies(stream(addresses))
            ours: list[dict] = []
            baseline: list[dict] = []
            for offered in rates:
                if not ours or ours[-1]["ok"]:
                    ours.append(ours_step(pg, base, bodies, offered, seconds, addresses,
                                          pipe_bytes))
                if not baseline or baseline[-1]["ok"]:
                    baseline.append(baseline_step(pg, base, bodies, offered, seconds,
                                                  addresses, pipe_bytes))
                if not ours[-1]["ok"] and not baseline[-1]["ok"]:
                    break
        finally:
            pg.stop()
    best_ours, best_baseline = _best(ours), _best(baseline)
    best_step = next((s for s in ours if s["ok"] and s["offered"] == best_ours), None)
    return {
        "bench": "flow",
        "ours": best_ours,
        "baseline": best_baseline,
        "ratio": round(best_ours / best_baseline, 3) if best_baseline else None,
        "unit": "flows/s",
        "better": "higher",
        # The highest rate asked for passed: the true ceiling is higher than the figure.
        "ours_at_top_rate": best_ours == rates[-1],
        "baseline_at_top_rate": best_baseline == rates[-1],
        "rater_rows_per_s": rater["rows_per_s"],
        "lag_max_s": best_step["lag_max_s"] if best_step else None,
        "ours_over_counted_flows": best_step["over_counted_flows"] if best_step else None,
        "rater": rater,
        "addresses": addresses,
        "classes": CLASSES,
        "seconds_per_step": seconds,
        "records_per_datagram": RECORDS_PER_DATAGRAM,
        "plugin_pipe_bytes": pipe_bytes,
        "steps": {"ours": ours, "baseline": baseline},
        "load_average_before": load_before,
        "load_average_after": os.getloadavg()[0],
    }
