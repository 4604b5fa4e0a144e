"""``ebs seed``: realistic subscribers, tariffs and history for demos and benchmarks.

Reference data (settlement periods, tariffs with their periodic services, an IP pool, a
NAS) is created when absent; then accounts are generated in chunks by
:mod:`cli.seed_data` and loaded with COPY, one transaction per chunk, while a worker
thread already generates the next chunk. Ledger entries go through the ledger's own
balance trigger, so ``ebs ledger verify`` holds afterwards without any special case.

With the history come traffic statistics (:mod:`cli.seed_traffic`): hourly rows for the
last 30 local days and daily rows before, in two traffic groups the seed creates when
absent, loaded with each chunk and analysed at the end.

The history ends where the charging engine takes over, at the seed's moment: on a base
the engine has never charged, the seed records that moment as settled once the chunks are
in (``billing.charging.runs``), so the first tick starts there instead of charging every
seeded subscriber from the connection; on a base it charges already, the seed first runs
the tick up to that moment. Either way the engine's next tick charges the seeded
subscribers from the seed's moment on, never a period the seeded history charged.
"""

from __future__ import annotations

import ipaddress
import queue
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import click
import psycopg

from billing import nas_secrets
from billing.charging import runs, tick
from cli import seed_data as data
from cli import seed_traffic
from cli.common import load_settings, open_db
from flow import stats_monthly

# One advisory lock for "a seed is running": two seeds at once would pick the same numbers.
_LOCK_ID = 0x0EB5_5EED
CHUNK_SIZE = 10_000
# Loading is PostgreSQL's work (row-by-row foreign-key checks and six ledger indexes), so
# two connections load side by side; more than the cores only adds contention.
LOADERS = 2

PERIODS = (
    # name, unit, autostart, anchor (ISP-local) or None
    ("Календарный месяц", "MONTH", False, (2020, 1, 1)),
    ("Месяц от подключения", "MONTH", True, None),
    ("Сутки", "DAY", False, (2020, 1, 1)),
    ("Неделя", "WEEK", False, (2020, 1, 6)),
)


@dataclass(frozen=True)
class TariffSpec:
    name: str
    description: str
    access_type: str
    period: str
    package_cost: str
    require_package_cost: bool
    services: tuple[tuple[str, str, str, str, int], ...]  # name, period, cost, method, per day
    weight: int  # share of seeded subscribers
    static_ip_share: float
    mac_share: float


MONTH, AUTOSTART, DAILY = "Календарный месяц", "Месяц от подключения", "Сутки"
TARIFFS = (
    TariffSpec("Домашний 100", "100 Мбит/с, абонентская плата 1-го числа", "pppoe", MONTH,
               "500.00", False, (("Абонентская плата", MONTH, "500.00", "AT_START", 1),),
               34, 0.05, 0.1),
    TariffSpec("Домашний 300", "300 Мбит/с и роутер в аренду", "pppoe", MONTH, "750.00", False,
               (("Абонентская плата", MONTH, "750.00", "AT_START", 1),
                ("Аренда роутера", MONTH, "99.00", "AT_START", 1)),
               28, 0.08, 0.1),
    TariffSpec("Посуточный", "25 ₽ в сутки, списание каждый час", "pppoe", DAILY, "25.00",
               False, (("Суточная плата", DAILY, "25.00", "GRADUAL", 24),), 12, 0.0, 0.05),
    TariffSpec("Эконом 50", "50 Мбит/с, оплата в конце месяца", "ipoe", MONTH, "349.90", False,
               (("Абонентская плата", MONTH, "349.90", "AT_END", 1),), 16, 0.1, 0.9),
    TariffSpec("Бизнес 500", "500 Мбит/с, статический IP, период от даты подключения", "ipoe",
               AUTOSTART, "2500.00", True,
               (("Абонентская плата", AUTOSTART, "2500.00", "AT_START", 1),
                ("Статический IP", AUTOSTART, "150.00", "AT_START", 1)),
               10, 0.9, 0.6),
)
POOL = ("Абоненты: динамические адреса", "10.64.0.1", "10.127.255.254")
NAS = ("BRAS-1", "mikrotik", "10.255.0.1")


@dataclass(frozen=True)
class SeedResult:
    accounts: int
    entries: int
    sessions: int
    first_number: int
    last_number: int
    seconds: float
    traffic_rows: int = 0


# --- reference data ----------------------------------------------------------------------

def _ensure_reference(conn: psycopg.Connection, tz: str) -> tuple[list[data.Plan], data.Network]:
    zone = ZoneInfo(tz)
    with conn.transaction():
        for name, unit, autostart, anchor in PERIODS:
            conn.execute(
                "INSERT INTO settlement_periods (name, unit, autostart, anchor) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT (name) DO NOTHING",
                (name, unit, autostart, datetime(*anchor, tzinfo=zone) if anchor else None),
            )
        period_ids = dict(conn.execute(
            "SELECT name, id FROM settlement_periods WHERE name = ANY(%s)",
            ([p[0] for p in PERIODS],),
        ).fetchall())
        conn.execute(
            "INSERT INTO ip_pools (name, range_start, range_end) VALUES (%s, %s, %s) "
            "ON CONFLICT (name) DO NOTHING", POOL,
        )
        pool_id, pool_start, pool_end = conn.execute(
            "SELECT id, host(range_start), host(range_end) FROM ip_pools WHERE name = %s",
            (POOL[0],),
        ).fetchone()
        conn.execute(
            "INSERT INTO nas (name, vendor, ip_address, secret, description) "
            "VALUES (%s, %s, %s, %s, 'created by ebs seed') ON CONFLICT DO NOTHING",
            (*NAS, nas_secrets.generate()),
        )
        nas_id, nas_ip = conn.execute(
            "SELECT id, host(ip_address) FROM nas WHERE name = %s OR ip_address = %s "
            "ORDER BY name = %s DESC LIMIT 1",
            (NAS[0], NAS[2], NAS[0]),
        ).fetchone()
        for spec in TARIFFS:
            created = conn.execute(
                """
                INSERT INTO tariffs (name, description, access_type, settlement_period_id,
                                     package_cost, require_package_cost, ip_pool_id)
                VALUES (%s, %s, %s, %s, %s, %s, %s)
                ON CONFLICT (name) DO NOTHING RETURNING id
                """,
                (spec.name, spec.description, spec.access_type, period_ids[spec.period],
                 Decimal(spec.package_cost), spec.require_package_cost, pool_id),
            ).fetchone()
            if created is None:
                continue  # an existing tariff keeps its own services
            for name, period, cost, method, per_day in spec.services:
                conn.execute(
                    "INSERT INTO periodic_services (tariff_id, name, settlement_period_id, cost, "
                    "charge_method, charges_per_day) VALUES (%s, %s, %s, %s, %s, %s)",
                    (created[0], name, period_ids[period], Decimal(cost), method, per_day),
                )
        rows = conn.execute(
            """
            SELECT t.id, t.name, s.name, p.unit, p.length_seconds, p.autostart, s.cost,
                   s.charge_method
              FROM tariffs t
              LEFT JOIN periodic_services s ON s.tariff_id = t.id
              LEFT JOIN settlement_periods p ON p.id = s.settlement_period_id
             WHERE t.name = ANY(%s)
             ORDER BY t.id, s.id
            """,
            ([t.name for t in TARIFFS],),
        ).fetchall()
    services: dict[str, list[data.Service]] = {}
    tariff_ids: dict[str, int] = {}
    for tariff_id, tariff, name, unit, length, autostart, cost, method in rows:
        tariff_ids[tariff] = tariff_id
        bucket = services.setdefault(tariff, [])
        if name is not None:
            bucket.append(data.Service(name, unit, length, autostart, int(cost * 100), method))
    plans = [
        data.Plan(tariff_ids[t.name], t.name, t.weight, tuple(services[t.name]),
                  t.static_ip_share, t.mac_share)
        for t in TARIFFS
    ]
    network = data.Network(
        nas_id=nas_id, nas_ip=nas_ip, pool_id=pool_id,
        pool_first=int(ipaddress.IPv4Address(pool_start)),
        pool_last=int(ipaddress.IPv4Address(pool_end)),
    )
    return plans, network


def _ensure_traffic_groups(conn: psycopg.Connection) -> tuple[int, ...]:
    """The ids of the groups the seeded statistics count in (created when absent)."""
    with conn.transaction():
        for name, direction, rule in seed_traffic.GROUPS:
            conn.execute(
                "INSERT INTO traffic_groups (name, direction, rule) VALUES (%s, %s, %s) "
                "ON CONFLICT (name) DO NOTHING", (name, direction, rule),
            )
        ids = dict(conn.execute(
            "SELECT name, id FROM traffic_groups WHERE name = ANY(%s)",
            ([g[0] for g in seed_traffic.GROUPS],),
        ).fetchall())
    return tuple(ids[g[0]] for g in seed_traffic.GROUPS)


def _next_number(conn: psycopg.Connection) -> int:
    """The first account number no existing contract, login or username has taken."""
    row = conn.execute(
        r"""
        SELECT coalesce(max(n), 0) + 1 FROM (
            SELECT max(contract::numeric) AS n FROM accounts WHERE contract ~ '^\d{1,15}$'
            UNION ALL
            SELECT max(substr(login, 2)::numeric) FROM accounts WHERE login ~ '^u\d{1,15}$'
            UNION ALL
            SELECT max(substr(username, 2)::numeric) FROM subaccounts
             WHERE username ~ '^u\d{1,15}$'
        ) s
        """
    ).fetchone()
    return int(row[0])


def _reserve_ids(conn: psycopg.Connection, table: str, count: int) -> list[int]:
    rows = conn.execute(
        "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
        (table, count),
    ).fetchall()
    return [r[0] for r in rows]


def _copy(cur: psycopg.Cursor, table: str, columns: str, payload: bytes) -> None:
    if payload:
        with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            copy.write(payload)


def _load(conn: psycopg.Connection, chunk: data.Chunk) -> None:
    """One chunk, one transaction: a run stopped half-way leaves whole chunks behind."""
    with conn.transaction(), conn.cursor() as cur:
        _copy(cur, "accounts", data.ACCOUNT_COLUMNS, chunk.accounts)
        _copy(cur, "subaccounts", data.SUBACCOUNT_COLUMNS, chunk.subaccounts)
        _copy(cur, "account_tariffs", data.ASSIGNMENT_COLUMNS, chunk.account_tariffs)
        _copy(cur, "ledger_entries", data.LEDGER_COLUMNS, chunk.ledger)
        _copy(cur, "sessions_history", data.SESSION_COLUMNS, chunk.sessions)
        _copy(cur, "traffic_stats_hourly", seed_traffic.HOURLY_COLUMNS, chunk.traffic_hourly)
        _copy(cur, "traffic_stats_daily", seed_traffic.DAILY_COLUMNS, chunk.traffic_daily)


# --- the run -----------------------------------------------------------------------------

def _connect_like(conn: psycopg.Connection) -> psycopg.Connection:
    """Another autocommit connection to the same database as ``conn``."""
    params = conn.info.get_parameters()
    if conn.info.password:
        params["password"] = conn.info.password
    other = psycopg.connect(**params, autocommit=True)
    other.execute("SET synchronous_commit = off")
    return other


class _Loaders:
    """Connections that load chunks side by side, one chunk (one transaction) each.

    A loader thread generates its chunk first and then takes an idle connection: while one
    thread waits on PostgreSQL (the GIL released), the other builds the next chunk. Two
    chunks never touch the same account, so parallel transactions do not wait on each
    other.
    """

    def __init__(self, conn: psycopg.Connection, count: int) -> None:
        self.idle: queue.SimpleQueue[psycopg.Connection] = queue.SimpleQueue()
        self.all: list[psycopg.Connection] = []
        for _ in range(count):
            other = _connect_like(conn)
            self.all.append(other)
            self.idle.put(other)

    def run(self, generator: data.Generator, numbers: range, account_ids: list[int],
            subaccount_ids: list[int], history: bool) -> tuple[int, int, int, int]:
        chunk = generator.chunk(numbers, account_ids, subaccount_ids, history)
        conn = self.idle.get()
        try:
            _load(conn, chunk)
        finally:
            self.idle.put(conn)
        return len(numbers), chunk.entries, chunk.session_count, chunk.traffic_rows

    def close(self) -> None:
        for conn in self.all:
            conn.close()


def run_seed(
    conn: psycopg.Connection,
    *,
    accounts: int,
    history: bool = False,
    months: int = 6,
    seed: int = 1,
    tz: str = "Europe/Moscow",
    now: datetime | None = None,
    chunk_size: int = CHUNK_SIZE,
    loaders: int = LOADERS,
    progress: Callable[[int], None] | None = None,
) -> SeedResult:
    """Add ``accounts`` subscribers (and their history) to the database behind ``conn``.

    ``conn`` must be in autocommit mode; it holds the seed's advisory lock and reserves
    ids, while ``loaders`` more connections load the chunks, each chunk committing on its
    own. ``progress`` is called with the number of accounts of each chunk once it is in.
    """
    if not conn.autocommit:
        raise ValueError("run_seed needs an autocommit connection (it commits per chunk)")
    started = time.monotonic()
    now = now or datetime.now(UTC)
    conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_ID,))
    try:
        plans, network = _ensure_reference(conn, tz)
        first_handover = runs.last_charged_to(conn) is None
        if not first_handover:
            tick.charge(conn, now, ZoneInfo(tz))
        clock = data.Clock(now, months, tz)
        traffic = None
        if history:
            traffic = seed_traffic.TrafficShape(_ensure_traffic_groups(conn), clock.zone,
                                                clock.window_start, clock.now)
        generator = data.Generator(seed, plans, network, clock, traffic)
        first = _next_number(conn)
        if history:
            conn.execute(
                "SELECT ebs_ensure_month_partitions('sessions_history', %s, %s)",
                (datetime.fromtimestamp(clock.window_start, UTC),
                 datetime.fromtimestamp(clock.month_starts[-1], UTC)),
            )
        ranges = iter([range(s, min(s + chunk_size, first + accounts))
                       for s in range(first, first + accounts, chunk_size)])
        entries = sessions = traffic_rows = 0
        pool_of = _Loaders(conn, loaders)
        try:
            with ThreadPoolExecutor(max_workers=loaders, thread_name_prefix="ebs-seed") as pool:
                pending: set[Future] = set()

                def submit() -> None:
                    numbers = next(ranges, None)
                    if numbers is None:
                        return
                    account_ids = _reserve_ids(conn, "accounts", len(numbers))
                    subaccount_ids = _reserve_ids(conn, "subaccounts", len(numbers))
                    pending.add(pool.submit(pool_of.run, generator, numbers, account_ids,
                                            subaccount_ids, history))

                for _ in range(loaders):
                    submit()
                while pending:
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        pending.discard(future)
                        if future.exception() is not None:
                            for other in pending:
                                other.cancel()
                            raise future.exception()
                        count, chunk_entries, chunk_sessions, chunk_traffic = future.result()
                        entries += chunk_entries
                        sessions += chunk_sessions
                        traffic_rows += chunk_traffic
                        if progress:
                            progress(count)
                        submit()
        finally:
            pool_of.close()
        if first_handover:
            run = runs.start_run(conn, now, None)
            runs.finish_run(conn, run, 0, Decimal("0.00"))
        # Each chunk's COPY appended its own ledger_totals rows for every bucket it touched;
        # a live system's beat (ebs.fold_totals) merges them every five minutes, so the
        # seeded data is left as the beat would leave it: unmerged, a month of buckets
        # holds a row per key per chunk, and the dashboard and reports sum every one.
        conn.execute("SELECT ebs_ledger_totals_fold()")
        conn.execute("VACUUM (ANALYZE) ledger_totals")
        # Likewise the tariff assignments' tracked moves (the tariffs report's counts).
        conn.execute("SELECT ebs_assignment_totals_fold()")
        conn.execute("VACUUM (ANALYZE) assignment_totals, assignment_totals_daily")
        if traffic is not None:
            # The months, as the rater keeps them beside the hours it writes.
            with conn.transaction():
                stats_monthly.rebuild(conn, ZoneInfo(tz))
            conn.execute("VACUUM (ANALYZE) traffic_stats_monthly")
        # Fresh statistics, and the accounts' dead versions (one per balance update) gone.
        conn.execute("VACUUM (ANALYZE) accounts")
        conn.execute("ANALYZE subaccounts, account_tariffs, ledger_entries, sessions_history, "
                     "traffic_stats_hourly, traffic_stats_daily")
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_ID,))
    return SeedResult(accounts, entries, sessions, first, first + accounts - 1,
                      time.monotonic() - started, traffic_rows)


# --- the command -------------------------------------------------------------------------

def _int_option(name: str, low: int, high: int | None = None):
    """Parse an integer option; a bad value fails with one line (no usage block)."""
    bounds = f"from {low} to {high}" if high is not None else f"of at least {low}"

    def parse(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
        if value is None:
            return None
        try:
            number = int(value.strip())
        except ValueError:
            number = None
        if number is None or number < low or (high is not None and number > high):
            raise click.ClickException(f"{name} must be a whole number {bounds}, got {value!r}")
        return number

    return parse


def _duration(seconds: float) -> str:
    minutes, secs = divmod(seconds, 60)
    return f"{int(minutes)}m{secs:04.1f}s" if minutes else f"{secs:.1f}s"


@click.command()
@click.option("--accounts", "count", required=True, metavar="N",
              callback=_int_option("--accounts", 1),
              help="How many subscribers to add (numbering continues after existing ones).")
@click.option("--history", is_flag=True,
              help="Also add months of payments, periodic charges, closed sessions and "
                   "traffic statistics (hourly for 30 days, daily before).")
@click.option("--months", default="6", show_default=True, metavar="M",
              callback=_int_option("--months", 1, 60),
              help="Whole months of history before the current one (1-60).")
@click.option("--seed", "seed_value", default="1", show_default=True, metavar="S",
              callback=_int_option("--seed", 0),
              help="Random seed: the same seed gives the same people and amounts.")
def seed(count: int, history: bool, months: int, seed_value: int) -> None:
    """Create N realistic subscribers with tariffs (and history) for demos and benchmarks."""
    settings = load_settings()
    bar = click.progressbar(length=count, label="seeding accounts", show_pos=True)
    with open_db() as conn, bar:
        try:
            result = run_seed(conn, accounts=count, history=history, months=months,
                              seed=seed_value, tz=settings.TIME_ZONE, progress=bar.update)
        except psycopg.errors.CheckViolation as exc:  # a rule of the data said no
            raise click.ClickException(str(exc).splitlines()[0]) from None
    click.echo(
        f"seeded {result.accounts} accounts (numbers {result.first_number}-"
        f"{result.last_number}), {result.entries} ledger entries, {result.sessions} sessions, "
        f"{result.traffic_rows} traffic statistics rows in {_duration(result.seconds)}"
    )
