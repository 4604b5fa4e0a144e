"""Demo data for ``make demo``: a small ISP you can click through.

One NAS (127.0.0.1), an IPv4 pool and a guest pool, three tariffs (monthly AT_START with a
connection fee, daily GRADUAL, night-only with an access window), ten subscribers among
them a debtor and a suspended one, and staff ``admin`` and ``cashier``. Loading twice
changes nothing.

The history is made through the same doors as real life, never written around them: the
subscribers connected ``HISTORY_DAYS`` ago and paid through ``billing.payments``, the
charge tick (``billing.charging.tick``) charged the connection fees then and the months
up to ``SUSPENDED_DAYS`` ago, one of them suspended the service then
(``billing.suspension``), the tick charged the rest up to now, and those who keep their
balance up paid again today. So every charge carries the
engine's own key and the worker's next tick starts where the demo's last one ended: a
demo left running keeps its banner (one debtor, one suspended, the rest in credit).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, Decimal
from zoneinfo import ZoneInfo

import psycopg

from billing import nas_secrets
from billing import settings as settings_mod
from billing.charging import tick
from billing.credentials import nt_password_hash
from billing.passwords import hash_password
from billing.payments import post_payment
from billing.staff import ensure_staff
from billing.suspension import suspend_account

DEMO_NAS_NAME = "demo-nas"

HISTORY_DAYS = 40  # the subscribers connected this long before the demo starts
SUSPENDED_DAYS = 10  # the suspended one froze the service this long ago

SUBSCRIBERS = [
    # contract, login, full name, phone, street, house, flat, tariff, paid at connection,
    # the balance the subscriber keeps up by paying again today (None: does not pay), state
    ("10001", "ivanov", "Иванов Иван Иванович", "+79161234501", "ул. Ленина", "1", "10",
     "Домашний 100", "1100.00", "900.00", "active"),
    ("10002", "petrova", "Петрова Анна Сергеевна", "+79161234502", "ул. Ленина", "1", "11",
     "Домашний 100", "1100.00", "650.00", "active"),
    ("10003", "sidorov", "Сидоров Пётр Алексеевич", "+79161234503", "ул. Мира", "5", "3",
     "Посуточный", "300.00", "280.00", "active"),
    ("10004", "kuznetsova", "Кузнецова Мария Петровна", "+79161234504", "ул. Мира", "5", "7",
     "Посуточный", "120.00", "100.00", "active"),
    ("10005", "smirnov", "Смирнов Алексей Викторович", "+79161234505", "пр. Победы", "12", "44",
     "Ночной", "400.00", "300.00", "active"),
    ("10006", "popov", "Попов Дмитрий Олегович", "+79161234506", "пр. Победы", "12", "45",
     "Домашний 100", "2000.00", "1400.00", "active"),
    ("10007", "vasilieva", "Васильева Елена Игоревна", "+79161234507", "ул. Садовая", "3", "1",
     "Посуточный", "60.00", "60.00", "active"),
    ("10008", "morozov", "Морозов Сергей Андреевич", "+79161234508", "ул. Садовая", "3", "2",
     "Ночной", "250.00", "260.00", "active"),
    ("10009", "debtor", "Должников Олег Павлович", "+79161234509", "ул. Заречная", "8", "16",
     "Домашний 100", "100.00", None, "debtor"),
    ("10010", "suspended", "Отпускова Ольга Николаевна", "+79161234510", "ул. Заречная", "8", "17",
     "Домашний 100", "1800.00", None, "suspended"),
]
# Each kept balance covers the largest charge a day can bring (a month's fee at the 1st, a
# day of the daily tariff), so the banner holds for a demo left running over a month end.
TOP_UP_STEP = Decimal("50.00")


@dataclass(frozen=True)
class DemoInfo:
    nas_secret: str
    staff: list[tuple[str, str, str]]
    subscribers: list[tuple[str, str]]


def _id(conn: psycopg.Connection, sql: str, params: tuple) -> int:
    return conn.execute(sql, params).fetchone()[0]


def load(conn: psycopg.Connection, now: datetime | None = None,
         tz: ZoneInfo | None = None) -> DemoInfo:
    """Load the demo into the database behind ``conn`` (autocommit: the charge tick commits
    per chunk). ``now`` is the demo's present, ``tz`` the ISP's (default: the settings')."""
    now = now or datetime.now(UTC)
    tz = tz or ZoneInfo(settings_mod.load().TIME_ZONE)
    with conn.transaction():
        existing = conn.execute(
            "SELECT secret FROM nas WHERE name = %s", (DEMO_NAS_NAME,)
        ).fetchone()
        if existing:
            secret = existing[0]
        else:
            secret = nas_secrets.generate()
            conn.execute(
                "INSERT INTO nas (name, vendor, ip_address, secret, description) "
                "VALUES (%s, 'mikrotik', '127.0.0.1', %s, 'Демо NAS')",
                (DEMO_NAS_NAME, secret),
            )
        upsert_pool = (
            "INSERT INTO ip_pools (name, kind, range_start, range_end) "
            "VALUES (%s, 'ipv4_vpn', %s, %s) "
            "ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id"
        )
        pool = _id(conn, upsert_pool, ("Абоненты", "10.10.0.2", "10.10.3.254"))
        guest = _id(conn, upsert_pool, ("Должники (гостевой)", "10.99.0.2", "10.99.0.254"))
        upsert_period = (
            "INSERT INTO settlement_periods (name, unit, autostart, anchor) "
            "VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id"
        )
        month = _id(conn, upsert_period, ("Месяц с 1-го числа", "MONTH", False,
                                           datetime(2020, 1, 1, tzinfo=tz)))
        day = _id(conn, upsert_period, ("Сутки от подключения", "DAY", True, None))
        night = _id(
            conn,
            "INSERT INTO time_periods (name) VALUES ('Ночь 01:00–07:00') "
            "ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id",
            (),
        )
        conn.execute(
            "INSERT INTO time_period_nodes (time_period_id, name, starts_at, length, repeat) "
            "SELECT %s, 'ночь', %s, interval '6 hours', 'DAY' "
            "WHERE NOT EXISTS (SELECT 1 FROM time_period_nodes WHERE time_period_id = %s)",
            (night, datetime(2026, 1, 1, 1, 0, tzinfo=tz), night),  # 01:00 on the ISP's clock
        )
        tariffs = {}
        for name, period, cost, window, desc in [
            ("Домашний 100", month, Decimal("600.00"), None, "100 Мбит/с, оплата в начале месяца"),
            ("Посуточный", day, Decimal("20.00"), None, "Списание каждые сутки"),
            ("Ночной", month, Decimal("250.00"), night, "Доступ только ночью"),
        ]:
            tariffs[name] = _id(
                conn,
                "INSERT INTO tariffs (name, description, settlement_period_id, package_cost, "
                "ip_pool_id, guest_pool_id, access_time_period_id, allow_self_suspension, "
                "suspension_max_days) VALUES (%s, %s, %s, %s, %s, %s, %s, true, 30) "
                "ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id",
                (name, desc, period, cost, pool, guest, window),
            )
            if not conn.execute(
                "SELECT 1 FROM periodic_services WHERE tariff_id = %s", (tariffs[name],)
            ).fetchone():
                method = "GRADUAL" if period == day else "AT_START"
                conn.execute(
                    "INSERT INTO periodic_services (tariff_id, name, settlement_period_id, cost, "
                    "charge_method, condition) "
                    "VALUES (%s, 'Абонентская плата', %s, %s, %s, 'ALWAYS')",
                    (tariffs[name], period, cost, method),
                )
        if not conn.execute(
            "SELECT 1 FROM onetime_services WHERE tariff_id = %s", (tariffs["Домашний 100"],)
        ).fetchone():
            conn.execute(
                "INSERT INTO onetime_services (tariff_id, name, cost) "
                "VALUES (%s, 'Подключение', 500.00)",
                (tariffs["Домашний 100"],),
            )
        ensure_staff(conn, "admin", "admin", "Admin", "Администратор")
        cashier_id = ensure_staff(conn, "cashier", "cashier", "Cashier", "Кассир")
        subscribers = []
        created: dict[str, int] = {}
        connected = now - timedelta(days=HISTORY_DAYS)
        for i, (contract, login, name, phone, street, house, flat, tariff, *_) in enumerate(
            SUBSCRIBERS
        ):
            password = f"demo{contract[-2:]}"
            subscribers.append((login, password))
            if conn.execute("SELECT 1 FROM accounts WHERE contract = %s", (contract,)).fetchone():
                continue
            account = _id(
                conn,
                "INSERT INTO accounts (contract, login, password_hash, full_name, phone, city,"
                " street, house, flat, credit, created_at)"
                " VALUES (%s, %s, %s, %s, %s, 'Москва', %s, %s, %s, 0, %s) RETURNING id",
                (contract, login, hash_password(password, iterations=50_000), name, phone,
                 street, house, flat, connected),
            )
            conn.execute(
                "INSERT INTO account_tariffs (account_id, tariff_id, assigned_at) "
                "VALUES (%s, %s, %s)",
                (account, tariffs[tariff], connected),
            )
            conn.execute(
                "INSERT INTO subaccounts (account_id, username, nt_password_hash, ip_address) "
                "VALUES (%s, %s, %s, %s)",
                (account, login, nt_password_hash(password),
                 f"10.10.0.{10 + i}" if i % 2 == 0 else None),
            )
            created[contract] = account
    if created:
        _history(conn, created, cashier_id, now, tz)
    return DemoInfo(
        nas_secret=secret,
        staff=[("admin", "admin", "Admin"), ("cashier", "cashier", "Cashier")],
        subscribers=subscribers,
    )


def _history(conn: psycopg.Connection, accounts: dict[str, int], cashier_id: int,
             now: datetime, tz: ZoneInfo) -> None:
    """The new subscribers' last ``HISTORY_DAYS``, each step through its service."""
    connected = now - timedelta(days=HISTORY_DAYS)
    suspended_at = now - timedelta(days=SUSPENDED_DAYS)
    for contract, *_, paid, _keeps, _state in SUBSCRIBERS:
        if contract in accounts:
            post_payment(conn, accounts[contract], Decimal(paid), source="demo",
                         unique_id=f"{contract}:connection", staff_user_id=cashier_id,
                         comment="Демо: оплата при подключении",
                         at=connected - timedelta(minutes=10))
    tick.charge(conn, connected + timedelta(minutes=5), tz)  # the connection fees
    tick.charge(conn, suspended_at, tz)
    for contract, *_, state in SUBSCRIBERS:
        if state == "suspended" and contract in accounts:
            suspend_account(conn, accounts[contract], at=suspended_at + timedelta(minutes=1),
                            tz=tz, reason="Демо: отпуск")
    tick.charge(conn, now, tz)
    for contract, *_, keeps, _state in SUBSCRIBERS:
        if keeps is None or contract not in accounts:
            continue
        balance = conn.execute("SELECT balance FROM accounts WHERE id = %s",
                               (accounts[contract],)).fetchone()[0]
        short = Decimal(keeps) - balance
        if short > 0:
            amount = (short / TOP_UP_STEP).to_integral_value(ROUND_CEILING) * TOP_UP_STEP
            post_payment(conn, accounts[contract], amount, source="demo",
                         unique_id=f"{contract}:top-up", staff_user_id=cashier_id,
                         comment="Демо: оплата", at=now)
