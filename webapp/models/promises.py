"""Promised payments and their per-tariff settings
(``sql/migrations/202612060900_baseline.sql``). The settings are admin CRUD; a promise is
taken and closed by ``billing.promise`` only."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from flask_appbuilder import Model
from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.models.accounts import Account
from webapp.models.tariffs import Tariff
from webapp.models.types import MONEY, TSTZ


class PromiseSettings(Model):
    __tablename__ = "promise_settings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tariff_id: Mapped[int | None] = mapped_column(ForeignKey("tariffs.id"))
    allowed: Mapped[bool] = mapped_column(Boolean, default=True)
    max_sum: Mapped[Decimal] = mapped_column(MONEY)
    min_balance: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0))
    days: Mapped[int] = mapped_column(Integer)
    cooldown_days: Mapped[int] = mapped_column(Integer, default=0)

    tariff: Mapped[Tariff | None] = relationship()


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

    account: Mapped[Account] = relationship()
