"""SQLAlchemy models of account state: status history, self-suspensions and package-cost
blocks (``*_package_suspension.sql``). Read-only in the admin: ``billing.accounts``,
``billing.suspension`` and the charge tick write them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from flask_appbuilder import Model
from sqlalchemy import BigInteger, ForeignKey, Text
from sqlalchemy.orm import Mapped, mapped_column

from webapp.models import MONEY, TSTZ


class AccountStatusHistory(Model):
    __tablename__ = "account_status_history"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    changed_at: Mapped[datetime] = mapped_column(TSTZ)
    what: Mapped[str] = mapped_column(Text)
    old_value: Mapped[str] = mapped_column(Text)
    new_value: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(Text)
    staff_user_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    reason: Mapped[str] = mapped_column(Text, default="")
    recorded_at: Mapped[datetime] = mapped_column(TSTZ)


class AccountSuspension(Model):
    __tablename__ = "account_suspensions"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    tariff_id: Mapped[int | None] = mapped_column(ForeignKey("tariffs.id"))
    starts_at: Mapped[datetime] = mapped_column(TSTZ)
    planned_until: Mapped[datetime | None] = mapped_column(TSTZ)
    ended_at: Mapped[datetime | None] = mapped_column(TSTZ)
    end_reason: Mapped[str | None] = mapped_column(Text)
    cost: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0))
    requested_by: Mapped[str] = mapped_column(Text)
    staff_user_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    ended_by_staff_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(TSTZ)


class PackageBlock(Model):
    __tablename__ = "package_blocks"
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("account_tariffs.id"))
    period_start: Mapped[datetime] = mapped_column(TSTZ)
    required: Mapped[Decimal] = mapped_column(MONEY)
    blocked_at: Mapped[datetime] = mapped_column(TSTZ)
