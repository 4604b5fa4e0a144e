"""SQLAlchemy models of tariff change rules and journal, and of promised payments
(``*_tariff_change_promise_transfer.sql``). The rules and settings are admin CRUD; the
journals are written by ``billing.tariff_change`` and ``billing.promise``."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from flask_appbuilder import Model
from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, Interval, Text
from sqlalchemy.orm import Mapped, mapped_column

from webapp.models import MONEY, TSTZ


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


class PromiseSettings(Model):
    __tablename__ = "promise_settings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tariff_id: Mapped[int | None] = mapped_column(ForeignKey("tariffs.id"))
    allowed: Mapped[bool] = mapped_column(Boolean, default=True)
    max_sum: Mapped[Decimal] = mapped_column(MONEY)
    min_balance: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0))
    days: Mapped[int] = mapped_column(Integer)
    cooldown_days: Mapped[int] = mapped_column(Integer, default=0)


class PromisedPayment(Model):
    __tablename__ = "promised_payments"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    taken_at: Mapped[datetime] = mapped_column(TSTZ)
    expires_at: Mapped[datetime] = mapped_column(TSTZ)
    staff_user_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    closed_at: Mapped[datetime | None] = mapped_column(TSTZ)
    close_reason: Mapped[str | None] = mapped_column(Text)
