"""SQLAlchemy models for the admin CRUD, mirroring ``sql/migrations`` (the schema's one
source of truth). ``tests/integration/test_models_match_schema.py`` fails when they drift.

Balances are read-only here: money moves only through ``billing.ledger``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from flask_appbuilder import Model
from flask_appbuilder.security.sqla.models import User
from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Integer,
    Interval,
    LargeBinary,
    Numeric,
    Text,
)
from sqlalchemy.dialects.postgresql import INET, JSONB, MACADDR, TIMESTAMP
from sqlalchemy.orm import Mapped, mapped_column, relationship

MONEY = Numeric(14, 2)
TSTZ = TIMESTAMP(timezone=True)


class SettlementPeriod(Model):
    __tablename__ = "settlement_periods"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    unit: Mapped[str] = mapped_column(Text)
    length_seconds: Mapped[int | None] = mapped_column(Integer)
    autostart: Mapped[bool] = mapped_column(Boolean, default=False)
    anchor: Mapped[datetime | None] = mapped_column(TSTZ)

    def __str__(self) -> str:
        return self.name


class TimePeriod(Model):
    __tablename__ = "time_periods"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    nodes: Mapped[list[TimePeriodNode]] = relationship(back_populates="time_period")

    def __str__(self) -> str:
        return self.name


class TimePeriodNode(Model):
    __tablename__ = "time_period_nodes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    time_period_id: Mapped[int] = mapped_column(ForeignKey("time_periods.id"))
    name: Mapped[str] = mapped_column(Text, default="")
    starts_at: Mapped[datetime] = mapped_column(TSTZ)
    length: Mapped[timedelta] = mapped_column(Interval)
    repeat: Mapped[str] = mapped_column(Text)
    time_period: Mapped[TimePeriod] = relationship(back_populates="nodes")


class IpPool(Model):
    __tablename__ = "ip_pools"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    kind: Mapped[str] = mapped_column(Text, default="ipv4_vpn")
    range_start: Mapped[str] = mapped_column(INET)
    range_end: Mapped[str] = mapped_column(INET)
    next_pool_id: Mapped[int | None] = mapped_column(ForeignKey("ip_pools.id"))

    def __str__(self) -> str:
        return self.name


class Nas(Model):
    __tablename__ = "nas"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    vendor: Mapped[str] = mapped_column(Text, default="mikrotik")
    ip_address: Mapped[str] = mapped_column(INET, unique=True)
    secret: Mapped[str] = mapped_column(Text)
    coa_port: Mapped[int] = mapped_column(Integer, default=3799)
    coa_timeout_ms: Mapped[int] = mapped_column(Integer, default=3000)
    coa_attempts: Mapped[int] = mapped_column(Integer, default=3)
    acct_interim_interval: Mapped[int] = mapped_column(Integer, default=300)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(TSTZ)
    updated_at: Mapped[datetime] = mapped_column(TSTZ)

    def __str__(self) -> str:
        return self.name


class Tariff(Model):
    __tablename__ = "tariffs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    access_type: Mapped[str] = mapped_column(Text, default="pppoe")
    chap_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    settlement_period_id: Mapped[int | None] = mapped_column(ForeignKey("settlement_periods.id"))
    access_time_period_id: Mapped[int | None] = mapped_column(ForeignKey("time_periods.id"))
    package_cost: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0))
    require_package_cost: Mapped[bool] = mapped_column(Boolean, default=False)
    fill_up_to_package_cost: Mapped[bool] = mapped_column(Boolean, default=False)
    ip_pool_id: Mapped[int | None] = mapped_column(ForeignKey("ip_pools.id"))
    guest_pool_id: Mapped[int | None] = mapped_column(ForeignKey("ip_pools.id"))
    allow_express_cards: Mapped[bool] = mapped_column(Boolean, default=False)
    allow_balance_transfer: Mapped[bool] = mapped_column(Boolean, default=False)
    allow_self_suspension: Mapped[bool] = mapped_column(Boolean, default=False)
    suspension_cost: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0))
    suspension_min_balance: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0))
    suspension_max_days: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(TSTZ)

    settlement_period: Mapped[SettlementPeriod | None] = relationship()
    access_time_period: Mapped[TimePeriod | None] = relationship()
    ip_pool: Mapped[IpPool | None] = relationship(foreign_keys=[ip_pool_id])
    guest_pool: Mapped[IpPool | None] = relationship(foreign_keys=[guest_pool_id])

    def __str__(self) -> str:
        return self.name


class PeriodicService(Model):
    __tablename__ = "periodic_services"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tariff_id: Mapped[int] = mapped_column(ForeignKey("tariffs.id"))
    name: Mapped[str] = mapped_column(Text)
    settlement_period_id: Mapped[int] = mapped_column(ForeignKey("settlement_periods.id"))
    cost: Mapped[Decimal] = mapped_column(MONEY)
    charge_method: Mapped[str] = mapped_column(Text)
    charges_per_day: Mapped[int] = mapped_column(Integer, default=1)
    condition: Mapped[str] = mapped_column(Text, default="ALWAYS")
    condition_sum: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0))
    prorate_from_condition: Mapped[bool] = mapped_column(Boolean, default=False)
    active_from: Mapped[datetime | None] = mapped_column(TSTZ)
    active_until: Mapped[datetime | None] = mapped_column(TSTZ)

    tariff: Mapped[Tariff] = relationship()
    settlement_period: Mapped[SettlementPeriod] = relationship()


class OnetimeService(Model):
    __tablename__ = "onetime_services"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tariff_id: Mapped[int] = mapped_column(ForeignKey("tariffs.id"))
    name: Mapped[str] = mapped_column(Text)
    cost: Mapped[Decimal] = mapped_column(MONEY)

    tariff: Mapped[Tariff] = relationship()


class Account(Model):
    __tablename__ = "accounts"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    contract: Mapped[str] = mapped_column(Text, unique=True)
    login: Mapped[str] = mapped_column(Text, unique=True)
    password_hash: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(Text, default="active")
    blocked_by_balance: Mapped[bool] = mapped_column(Boolean, default=False)
    blocked_by_limit: Mapped[bool] = mapped_column(Boolean, default=False)
    balance: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0))
    credit: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0))
    full_name: Mapped[str] = mapped_column(Text, default="")
    phone: Mapped[str] = mapped_column(Text, default="")
    email: Mapped[str] = mapped_column(Text, default="")
    city: Mapped[str] = mapped_column(Text, default="")
    street: Mapped[str] = mapped_column(Text, default="")
    house: Mapped[str] = mapped_column(Text, default="")
    flat: Mapped[str] = mapped_column(Text, default="")
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(TSTZ)

    subaccounts: Mapped[list[Subaccount]] = relationship(back_populates="account")

    def __str__(self) -> str:
        return f"{self.contract} {self.full_name}".strip()


class AccountTariff(Model):
    __tablename__ = "account_tariffs"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    tariff_id: Mapped[int] = mapped_column(ForeignKey("tariffs.id"))
    assigned_at: Mapped[datetime] = mapped_column(TSTZ)

    account: Mapped[Account] = relationship()
    tariff: Mapped[Tariff] = relationship()


class Subaccount(Model):
    __tablename__ = "subaccounts"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    username: Mapped[str | None] = mapped_column(Text, unique=True)
    nt_password_hash: Mapped[str | None] = mapped_column(Text)
    chap_password_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    ip_address: Mapped[str | None] = mapped_column(INET)
    mac_address: Mapped[str | None] = mapped_column(MACADDR)
    ip_pool_id: Mapped[int | None] = mapped_column(ForeignKey("ip_pools.id"))
    nas_id: Mapped[int | None] = mapped_column(ForeignKey("nas.id"))
    option82_remote_id: Mapped[str | None] = mapped_column(Text)
    option82_circuit_id: Mapped[str | None] = mapped_column(Text)
    bind_to_mac: Mapped[bool] = mapped_column(Boolean, default=False)
    bind_to_ip: Mapped[bool] = mapped_column(Boolean, default=False)
    simultaneous_use: Mapped[int] = mapped_column(Integer, default=1)
    allow_at_zero: Mapped[bool] = mapped_column(Boolean, default=False)
    allow_negative: Mapped[bool] = mapped_column(Boolean, default=False)
    allow_when_blocked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(TSTZ)

    account: Mapped[Account] = relationship(back_populates="subaccounts")
    ip_pool: Mapped[IpPool | None] = relationship()
    nas: Mapped[Nas | None] = relationship()


class _SessionColumns:
    acct_session_id: Mapped[str] = mapped_column(Text)
    subaccount_id: Mapped[int | None] = mapped_column(BigInteger)
    account_id: Mapped[int | None] = mapped_column(BigInteger)
    nas_id: Mapped[int | None] = mapped_column(Integer)
    nas_ip: Mapped[str] = mapped_column(INET)
    username: Mapped[str] = mapped_column(Text, default="")
    framed_ip: Mapped[str | None] = mapped_column(INET)
    calling_station_id: Mapped[str] = mapped_column(Text, default="")
    called_station_id: Mapped[str] = mapped_column(Text, default="")
    nas_port_id: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[datetime] = mapped_column(TSTZ)
    input_octets: Mapped[int] = mapped_column(BigInteger, default=0)
    output_octets: Mapped[int] = mapped_column(BigInteger, default=0)
    session_time: Mapped[int] = mapped_column(Integer, default=0)


class OpenSession(_SessionColumns, Model):
    __tablename__ = "sessions_open"
    acct_unique_id: Mapped[str] = mapped_column(Text, primary_key=True)
    updated_at: Mapped[datetime] = mapped_column(TSTZ)
    interim_interval: Mapped[int] = mapped_column(Integer, default=300)


class SessionHistory(_SessionColumns, Model):
    __tablename__ = "sessions_history"
    acct_unique_id: Mapped[str] = mapped_column(Text, primary_key=True)
    stopped_at: Mapped[datetime] = mapped_column(TSTZ, primary_key=True)
    terminate_cause: Mapped[str] = mapped_column(Text, default="")


class LedgerEntryKind(Model):
    __tablename__ = "ledger_entry_kinds"
    code: Mapped[str] = mapped_column(Text, primary_key=True)
    title_en: Mapped[str] = mapped_column(Text)
    title_ru: Mapped[str] = mapped_column(Text)


class LedgerEntry(Model):
    """Read-only in the admin: entries are posted by ``billing.ledger`` and never edited."""

    __tablename__ = "ledger_entries"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # The account and the kind are checked once per statement by the ledger's triggers
    # (202611300900_ledger_lean.sql), not by foreign keys: the joins are declared here.
    account_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(Text)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    idempotency_key: Mapped[str] = mapped_column(Text, unique=True)
    effective_at: Mapped[datetime] = mapped_column(TSTZ)
    created_at: Mapped[datetime] = mapped_column(TSTZ)
    staff_user_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict] = mapped_column(JSONB, default=dict)

    account: Mapped[Account] = relationship(
        primaryjoin="foreign(LedgerEntry.account_id) == Account.id")
    entry_kind: Mapped[LedgerEntryKind] = relationship(
        primaryjoin="foreign(LedgerEntry.kind) == LedgerEntryKind.code")
    staff_user: Mapped[User | None] = relationship()
