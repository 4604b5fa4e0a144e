"""Tariffs and what they are made of: periodic and one-time services, speeds, the tariff
change matrix and its journal.

``speed`` is MikroTik's rate-limit text; billing/speeds.py parses and renders it, so the
admin form validates with ``billing.speeds.Speed.parse`` before saving. The change rules
are admin CRUD; the journal (``tariff_changes``) is written by ``billing.tariff_change``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from flask_appbuilder import Model
from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, Interval, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.models.network import IpPool
from webapp.models.periods import SettlementPeriod, TimePeriod
from webapp.models.types import MONEY, TSTZ


class Tariff(Model):
    __tablename__ = "tariffs"
    few_rows = True  # a catalogue: a form or a search offers every row in one select
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


class TariffSpeed(Model):
    __tablename__ = "tariff_speeds"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tariff_id: Mapped[int] = mapped_column(ForeignKey("tariffs.id", ondelete="CASCADE"))
    time_period_id: Mapped[int | None] = mapped_column(ForeignKey("time_periods.id"))
    speed: Mapped[str] = mapped_column(Text)

    tariff: Mapped[Tariff] = relationship()
    time_period: Mapped[TimePeriod | None] = relationship()

    def __str__(self) -> str:
        period = self.time_period.name if self.time_period is not None else "default"
        return f"{period}: {self.speed}"


class TariffChangeRule(Model):
    __tablename__ = "tariff_change_rules"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    from_tariff_id: Mapped[int] = mapped_column(ForeignKey("tariffs.id"))
    to_tariff_id: Mapped[int] = mapped_column(ForeignKey("tariffs.id"))
    allowed: Mapped[bool] = mapped_column(Boolean, default=True)
    cost: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0))
    min_balance: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0))
    min_time_on_tariff: Mapped[timedelta] = mapped_column(Interval, default=timedelta(0))
    effective: Mapped[str] = mapped_column(Text, default="NOW")

    from_tariff: Mapped[Tariff] = relationship(foreign_keys=[from_tariff_id])
    to_tariff: Mapped[Tariff] = relationship(foreign_keys=[to_tariff_id])


class TariffChange(Model):
    __tablename__ = "tariff_changes"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    from_tariff_id: Mapped[int | None] = mapped_column(ForeignKey("tariffs.id"))
    to_tariff_id: Mapped[int] = mapped_column(ForeignKey("tariffs.id"))
    effective_at: Mapped[datetime] = mapped_column(TSTZ)
    requested_at: Mapped[datetime] = mapped_column(TSTZ)
    cost: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0))
    source: Mapped[str] = mapped_column(Text)
    staff_user_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    status: Mapped[str] = mapped_column(Text, default="pending")
    settled_at: Mapped[datetime | None] = mapped_column(TSTZ)
    assignment_id: Mapped[int | None] = mapped_column(ForeignKey("account_tariffs.id"))
    reason: Mapped[str] = mapped_column(Text, default="")
