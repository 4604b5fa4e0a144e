"""Demo data for ``make demo``: a small ISP you can click through.

One NAS (127.0.0.1), an IPv4 pool and a guest pool, three tariffs (monthly AT_START with a
connection fee, daily GRADUAL, night-only with an access window), ten subscribers among
them a debtor and a suspended one, and staff ``admin`` and ``cashier``. Loading twice
changes nothing.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg

from billing import ledger
from billing.credentials import nt_password_hash
from billing.passwords import hash_password
from billing.staff import ensure_staff

DEMO_NAS_NAME = "demo-nas"

SUBSCRIBERS = [
    # contract, login, full name, phone, street, house, flat, tariff, payment, state
    ("10001", "ivanov", "Иванов Иван Иванович", "+79161234501", "ул. Ленина", "1", "10",
     "Домашний 100", "1500.00", "active"),
    ("10002", "petrova", "Петрова Анна Сергеевна", "+79161234502", "ул. Ленина", "1", "11",
     "Домашний 100", "900.00", "active"),
    ("10003", "sidorov", "Сидоров Пётр Алексеевич", "+79161234503", "ул. Мира", "5", "3",
     "Посуточный", "300.00", "active"),
    ("10004", "kuznetsova", "Кузнецова Мария Петровна", "+79161234504", "ул. Мира", "5", "7",
     "Посуточный", "120.00", "active"),
    ("10005", "smirnov", "Смирнов Алексей Викторович", "+79161234505", "пр. Победы", "12", "44",
     "Ночной", "400.00", "active"),
    ("10006", "popov", "Попов Дмитрий Олегович", "+79161234506", "пр. Победы", "12", "45",
     "Домашний 100", "2000.00", "active"),
    ("10007", "vasilieva", "Васильева Елена Игоревна", "+79161234507", "ул. Садовая", "3", "1",
     "Посуточный", "60.00", "active"),
    ("10008", "morozov", "Морозов Сергей Андреевич", "+79161234508", "ул. Садовая", "3", "2",
     "Ночной", "250.00", "active"),
    ("10009", "debtor", "Должников Олег Павлович", "+79161234509", "ул. Заречная", "8", "16",
     "Домашний 100", "100.00", "debtor"),
    ("10010", "suspended", "Отпускова Ольга Николаевна", "+79161234510", "ул. Заречная", "8", "17",
     "Домашний 100", "700.00", "suspended"),
]


@dataclass(frozen=True)
class DemoInfo:
    nas_secret: str
    staff: list[tuple[str, str, str]]
    subscribers: list[tuple[str, str]]


def _id(conn: psycopg.Connection, sql: str, params: tuple) -> int:
    return conn.execute(sql, params).fetchone()[0]


def load(conn: psycopg.Connection, now: datetime | None = None) -> DemoInfo:
    now = now or datetime.now(UTC)
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    with conn.transaction():
        existing = conn.execute(
            "SELECT secret FROM nas WHERE name = %s", (DEMO_NAS_NAME,)
        ).fetchone()
        if existing:
            secret = existing[0]
        else:
            secret = secrets.token_urlsafe(12)
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
        month = _id(conn, upsert_period, ("Месяц с 1-го числа", "MONTH", False, month_start))
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
            (night, datetime(2026, 1, 1, 22, 0, tzinfo=UTC), night),
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
        admin_id = ensure_staff(conn, "admin", "admin", "Admin", "Администратор")
        ensure_staff(conn, "cashier", "cashier", "Cashier", "Кассир")
        subscribers = []
        for i, (contract, login, name, phone, street, house, flat, tariff, pay, state) in enumerate(
            SUBSCRIBERS
        ):
            password = f"demo{contract[-2:]}"
            subscribers.append((login, password))
            if conn.execute("SELECT 1 FROM accounts WHERE contract = %s", (contract,)).fetchone():
                continue
            account = _id(
                conn,
                "INSERT INTO accounts (contract, login, password_hash, status, full_name, phone, "
                "city, street, house, flat, credit) VALUES (%s, %s, %s, %s, %s, %s, 'Москва', "
                "%s, %s, %s, %s) RETURNING id",
                (contract, login, hash_password(password, iterations=50_000),
                 "suspended" if state == "suspended" else "active", name, phone, street, house,
                 flat, Decimal("0.00")),
            )
            conn.execute(
                "INSERT INTO account_tariffs (account_id, tariff_id, assigned_at) "
                "VALUES (%s, %s, %s)",
                (account, tariffs[tariff], now - timedelta(days=40)),
            )
            conn.execute(
                "INSERT INTO subaccounts (account_id, username, nt_password_hash, ip_address) "
                "VALUES (%s, %s, %s, %s)",
                (account, login, nt_password_hash(password),
                 f"10.10.0.{10 + i}" if i % 2 == 0 else None),
            )
            ledger.post(conn, ledger.Entry(
                account, "payment", Decimal(pay), f"demo:payment:{contract}",
                now - timedelta(days=35), staff_user_id=admin_id, description="Демо: оплата",
            ))
            if state == "debtor":
                ledger.post(conn, ledger.Entry(
                    account, "charge_periodic", Decimal("-600.00"), f"demo:charge:{contract}",
                    now - timedelta(days=5), description="Абонентская плата",
                ))
    return DemoInfo(
        nas_secret=secret,
        staff=[("admin", "admin", "Admin"), ("cashier", "cashier", "Cashier")],
        subscribers=subscribers,
    )
