"""The charge tick: everything due up to a moment, for all accounts, in chunks.

``charge(conn, at, tz)`` is the one public entry (Celery's ``ebs.charge_tick`` and
``ebs charge`` call it). A tick's window is (after, at], where ``after`` is the
``charged_to`` of the latest finished tick (none: from each assignment's start; a tick for
a moment before it has an empty window). So a worker that was down for three days catches
up three days, and a tick repeated for the same moment finds nothing new. The window is an
optimisation and the skip rule, never the guard: every charge carries its idempotency key
``periodic:{service}:{assignment}:{period start epoch}:{step}`` (with ``:r{resume}``
after the assignment for time after a suspension), ``onetime:{service}:{assignment}`` or
``fillup:{assignment}:{period start}``, so overlapping, killed-and-rerun or duplicated ticks
end with the same ledger.

Rules decided per tick, on the state at the tick:

* accounts whose status is ``suspended`` or ``inactive_uncharged`` are not charged; the
  window then moves on, so their time is never charged later (resolution: one tick);
  a self-suspension (``billing.suspension``) is exact instead: the spans are cut at its
  start and end, and the tick ends the ones that reached their maximum first;
* package cost (``package``, ``fillup``): fill-ups are charged with each chunk, the
  "require package cost" blocks are set and lifted after the chunks;
* the balance condition compares balance + credit *before this window's charges*
  (charges already posted inside the window are added back), so a rerun sees the same
  value as the first run.

Work runs in chunks of accounts, one transaction each: a killed tick keeps the chunks it
committed and the rerun does the rest. A large tick splits its accounts into ``workers``
ranges of ids, each charged by a connection of its own (one per core): ranges share no
account, so the workers never wait for each other's rows, and each chunk stays guarded by
the same keys.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import psycopg
from psycopg.conninfo import make_conninfo

from billing import promise, suspension, tariff_change
from billing.charging import fillup, onetime, package, periodic, runs

CHUNK_ACCOUNTS = 50_000
_MIN_ID, _MAX_ID = -(2**63), 2**63 - 1
WORKERS = 2  # connections charging ranges of accounts side by side (this is a 2-core box)
ANALYZE_FROM = 5_000  # rows in a temporary table worth giving the planner statistics for
PREPARE_WORK_MEM = "64MB"  # per connection, for the spans, calendar and chunk bounds


class Rollback(Exception):
    """Raised inside a dry run's transaction to undo everything it wrote."""


@dataclass
class ChargeSummary:
    at: datetime
    after: datetime | None
    accounts: int = 0
    chunks: int = 0
    entries: int = 0
    amount: Decimal = Decimal("0.00")
    by_service: dict[str, tuple[int, Decimal]] = field(default_factory=dict)
    dry_run: bool = False

    def add(self, label: str, count: int, amount: Decimal) -> None:
        if not count:
            return
        self.entries += count
        self.amount += amount
        old = self.by_service.get(label, (0, Decimal("0.00")))
        self.by_service[label] = (old[0] + count, old[1] + amount)

    def merge(self, other: ChargeSummary) -> None:
        self.accounts += other.accounts
        self.chunks += other.chunks
        for label, (count, amount) in other.by_service.items():
            self.add(label, count, amount)

    def as_dict(self) -> dict:
        return {
            "at": self.at.isoformat(),
            "after": self.after.isoformat() if self.after else None,
            "accounts": self.accounts,
            "chunks": self.chunks,
            "entries": self.entries,
            "amount": str(self.amount),
            "by_service": {k: [c, str(a)] for k, (c, a) in self.by_service.items()},
            "dry_run": self.dry_run,
        }


# Temporary tables live as long as the session: a tick empties and refills them, which
# costs less catalog work than creating them every time.
_SPANS_TABLE = """
    CREATE TEMP TABLE IF NOT EXISTS charge_spans (
        assignment_id bigint, account_id bigint, tariff_id integer,
        started_at timestamptz, ended_at timestamptz, condition_balance numeric(14, 2),
        assigned_at timestamptz, assignment_ended_at timestamptz, key_tag text
    )
"""

_SPANS = """
    INSERT INTO charge_spans
    SELECT t.id AS assignment_id, t.account_id, t.tariff_id, t.assigned_at AS started_at,
           coalesce(t.ended_at, 'infinity') AS ended_at,
           a.balance + a.credit - coalesce(w.charged, 0) AS condition_balance,
           t.assigned_at, coalesce(t.ended_at, 'infinity') AS assignment_ended_at,
           '' AS key_tag
      FROM (SELECT id, account_id, tariff_id, assigned_at,
                   lead(assigned_at) OVER (PARTITION BY account_id ORDER BY assigned_at)
                       AS ended_at
              FROM account_tariffs) t
      JOIN accounts a ON a.id = t.account_id
      LEFT JOIN (SELECT account_id, sum(amount) AS charged
                   FROM ledger_entries
                  WHERE kind IN ('charge_periodic', 'charge_onetime')
                    AND effective_at > %(after)s AND effective_at <= %(at)s
                    AND account_id BETWEEN %(first)s AND %(last)s
                  GROUP BY account_id) w ON w.account_id = t.account_id
     WHERE t.assigned_at <= %(at)s
       AND (t.ended_at IS NULL OR t.ended_at > %(after)s)
       AND t.tariff_id = ANY(%(tariffs)s)
       AND t.account_id BETWEEN %(first)s AND %(last)s
       AND a.id BETWEEN %(first)s AND %(last)s  -- lets the planner read only the range
       AND (a.status IN ('active', 'inactive_charged')
            -- a running self-suspension: charged up to its start (cut_spans cuts the rest)
            OR (a.status = 'suspended' AND EXISTS (
                    SELECT 1 FROM account_suspensions p
                     WHERE p.account_id = a.id AND p.ended_at IS NULL)))
"""

# Chunk bounds and, from the ranks, the accounts in each: one sort of the spans.
_CHUNKS = """
    SELECT min(account_id), max(account_id), max(rank) - min(rank) + 1
      FROM (SELECT account_id, dense_rank() OVER (ORDER BY account_id) AS rank
              FROM charge_spans) c
     GROUP BY (rank - 1) / %s ORDER BY 1
"""


def _prepare(conn: psycopg.Connection, after: datetime | None, at: datetime, tz: ZoneInfo,
             services: list[periodic.PeriodicService], tariffs: list[int],
             accounts: tuple[int, int]) -> None:
    floor = after if after is not None else datetime.min.replace(tzinfo=at.tzinfo)
    # Hash joins and sorts over a range's spans (250k rows per worker at 500k accounts)
    # stay in memory instead of spilling to temporary files.
    conn.execute(f"SET LOCAL work_mem = '{PREPARE_WORK_MEM}'")
    conn.execute(_SPANS_TABLE)
    conn.execute("CREATE INDEX IF NOT EXISTS charge_spans_idx"
                 " ON charge_spans (tariff_id, account_id)")
    conn.execute("DELETE FROM charge_spans")
    spans = conn.execute(_SPANS, {"after": floor, "at": at, "tariffs": tariffs,
                                  "first": accounts[0], "last": accounts[1]}).rowcount
    spans += suspension.cut_spans(conn)
    if spans >= ANALYZE_FROM:
        conn.execute("ANALYZE charge_spans")
    starts = dict(conn.execute(
        "SELECT tariff_id, min(started_at) FROM charge_spans GROUP BY tariff_id"
    ).fetchall())
    rows: list = []
    for service in services:
        if service.tariff_id not in starts:
            continue
        if service.period.autostart:
            rows.extend(periodic.autostart_calendar(conn, service, after, at, tz))
            continue
        start = starts[service.tariff_id]
        if after is not None:
            start = max(after, start)
        if service.active_from is not None:
            start = max(start, service.active_from)
        if start <= at:
            rows.extend(periodic.shared_calendar(service, start, at, tz))
    periodic.fill_calendar(conn, rows, analyze=len(rows) >= ANALYZE_FROM)


def charge(
    conn: psycopg.Connection,
    at: datetime,
    tz: ZoneInfo,
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
    chunk_accounts: int = CHUNK_ACCOUNTS,
    workers: int = WORKERS,
) -> ChargeSummary:
    """Charge everything due up to ``at`` (aware) that is not charged yet.

    ``conn`` must be in autocommit mode (each chunk commits on its own). With ``dry_run``
    the same statements run in one transaction that is rolled back, so the summary is
    exactly what a real tick would have charged and nothing is written. ``progress`` is
    called with (chunks done, chunks total). A tick over more than ``chunk_accounts``
    accounts is shared by up to ``workers`` connections (opened like ``conn``); a dry run
    stays on ``conn``, inside its one transaction.
    """
    if at.tzinfo is None:
        raise ValueError("at must be timezone-aware")
    if not conn.autocommit:
        raise ValueError("charge() needs an autocommit connection: each chunk commits")
    after = runs.last_charged_to(conn)
    if after is not None and after > at:
        # Never reopen time a later tick has closed: what it skipped (a suspension, an
        # unmet condition) stays skipped. Only postponed one-time fees remain possible.
        after = at
    summary = ChargeSummary(at=at, after=after, dry_run=dry_run)
    try:
        with conn.transaction() if dry_run else nullcontext():
            _run(conn, summary, after, at, tz, _Progress(progress), chunk_accounts,
                 1 if dry_run else workers)
            if dry_run:
                raise Rollback
    except Rollback:
        pass
    return summary


class _Progress:
    """Chunks done / known, summed over the workers (each adds its total when known)."""

    def __init__(self, report: Callable[[int, int], None] | None) -> None:
        self.report, self.done, self.total = report, 0, 0
        self.lock = threading.Lock()

    def add(self, done: int = 0, total: int = 0) -> None:
        if self.report is None:
            return
        with self.lock:
            self.done += done
            self.total += total
            self.report(self.done, self.total)


def _account_ranges(conn: psycopg.Connection, workers: int,
                    chunk_accounts: int) -> list[tuple[int, int]]:
    """Account id ranges for the workers: equal slices of the ids in use (ids are issued
    in order, so slices hold about as many accounts); one range for a small base. The
    outer ranges are open, so an account added meanwhile still falls in one."""
    count, low, high = conn.execute(
        "SELECT count(*), min(account_id), max(account_id) FROM account_tariffs").fetchone()
    parts = max(1, min(workers, count // chunk_accounts))
    if parts == 1:
        return [(_MIN_ID, _MAX_ID)]
    step = (high - low) // parts + 1
    cuts = [low + i * step for i in range(1, parts)]
    return list(zip([_MIN_ID, *cuts], [*(c - 1 for c in cuts), _MAX_ID], strict=True))


@dataclass(frozen=True, slots=True)
class _Plan:
    """What every worker of one tick charges: the window and the services in it."""

    after: datetime | None
    at: datetime
    tz: ZoneInfo
    services: list[periodic.PeriodicService]
    packages: dict
    tariffs: list[int]
    chunk_accounts: int


def _run(conn, summary, after, at, tz, progress, chunk_accounts, workers) -> None:
    run_id = runs.start_run(conn, at, after)
    # Before the spans are built: scheduled tariff changes due by now open their
    # assignments (so this tick charges by them), and promised payments close.
    tariff_change.apply_scheduled_changes(conn, at, tz)
    promise.settle_promises(conn, at)
    suspension.expire_suspensions(conn, at)
    # An empty window (a rerun for the same moment) can only hold postponed one-time fees.
    services = periodic.load_services(conn) if after != at else []
    # Only tariffs with something to charge are looked at; a tariff change ends a span
    # whatever the next tariff is, which the lead() over all assignments still sees.
    packages = package.package_tariffs(conn) if after != at else {}
    tariffs = sorted({s.tariff_id for s in services} | set(packages) | {
        r[0] for r in conn.execute("SELECT DISTINCT tariff_id FROM onetime_services"
                                   " WHERE cost > 0")})
    plan = _Plan(after, at, tz, services, packages, tariffs, chunk_accounts)
    ranges = _account_ranges(conn, workers, chunk_accounts)
    parts = [ChargeSummary(at=at, after=after) for _ in ranges]
    if len(ranges) == 1:
        _charge_range(conn, plan, ranges[0], parts[0], progress)
    else:
        conninfo = make_conninfo(conn.info.dsn, password=conn.info.password)
        with ThreadPoolExecutor(len(ranges) - 1) as pool:
            others = [pool.submit(_charge_range_connected, conninfo, conn.prepare_threshold,
                                  plan, r, part, progress)
                      for r, part in zip(ranges[1:], parts[1:], strict=True)]
            _charge_range(conn, plan, ranges[0], parts[0], progress)
            for other in others:
                other.result()
    for part in parts:
        summary.merge(part)
    package.lift_blocks(conn, at)
    runs.finish_run(conn, run_id, summary.entries, summary.amount)


def _charge_range_connected(conninfo: str, prepare_threshold: int | None, plan: _Plan,
                            accounts: tuple[int, int], summary: ChargeSummary,
                            progress: _Progress) -> None:
    """A range on a connection of its own, opened as the tick's (through PgBouncer: no
    automatic prepare)."""
    with psycopg.connect(conninfo, autocommit=True,
                         prepare_threshold=prepare_threshold) as conn:
        _charge_range(conn, plan, accounts, summary, progress)


def _charge_range(conn: psycopg.Connection, plan: _Plan, accounts: tuple[int, int],
                  summary: ChargeSummary, progress: _Progress) -> None:
    """Everything due for the accounts with ids in ``accounts``, chunk by chunk, then the
    package checks of their period starts."""
    after, at, services = plan.after, plan.at, plan.services
    with conn.transaction():  # one transaction of temporary-table work, for SET LOCAL
        _prepare(conn, after, at, plan.tz, services, plan.tariffs, accounts)
        package.fill_calendar(conn, plan.packages, after, at, plan.tz)
        chunks = conn.execute(_CHUNKS, (plan.chunk_accounts,)).fetchall()
    summary.accounts = sum(count for _, _, count in chunks)
    summary.chunks = len(chunks)
    autostart = {s.id: s.period.autostart for s in services}
    progress.add(total=len(chunks))
    for first, last, _ in chunks:
        try:
            charged = _charge_chunk(conn, plan, first, last, autostart, guarded=False)
        except psycopg.errors.UniqueViolation:
            # Some of these charges are in the ledger already (a killed or a concurrent
            # tick): redo the chunk, skipping them.
            charged = _charge_chunk(conn, plan, first, last, autostart, guarded=True)
        for label, count, amount in charged:
            summary.add(label, count, amount)
        progress.add(done=1)
    package.check_period_starts(conn, after, at)


def _charge_chunk(conn: psycopg.Connection, plan: _Plan, first: int, last: int,
                  autostart: dict[int, bool], guarded: bool) -> list[tuple[str, int, Decimal]]:
    """One committed chunk: one-time fees, each periodic service, fill-ups; returns what
    it charged, by label. Unguarded, periodic charges meet a key already used with an
    error (see ``periodic``); one-time fees and fill-ups always skip such keys."""
    charged = []
    with conn.transaction():
        # A chunk's charges are sorted (a fixed lock order keeps concurrent ticks free of
        # deadlocks); let the sort stay in memory.
        conn.execute("SET LOCAL work_mem = '64MB'")
        charged.append(("one-time services",
                        *onetime.charge_chunk(conn, first_account=first, last_account=last,
                                              at=plan.at)))
        for service in plan.services:
            charged.append((f"{service.id}: {service.name}", *periodic.charge_chunk(
                conn, service, autostart=autostart[service.id], first_account=first,
                last_account=last, after=plan.after, at=plan.at, guarded=guarded)))
        if plan.packages:
            charged.append(("fill-up to package cost", *fillup.charge_chunk(
                conn, first_account=first, last_account=last, after=plan.after, at=plan.at)))
    return charged
