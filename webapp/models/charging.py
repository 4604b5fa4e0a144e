"""The charging engine's own tables: the tick's runs and the package-cost blocks
(``charge_runs``, ``package_blocks``). Read-only in the admin, written by
``billing.charging.tick``."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from flask_appbuilder import Model
from sqlalchemy import BigInteger, ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from webapp.models.types import MONEY, TSTZ


class ChargeRun(Model):
    __tablename__ = "charge_runs"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    charged_to: Mapped[datetime] = mapped_column(TSTZ)
    charged_from: Mapped[datetime | None] = mapped_column(TSTZ)
    started_at: Mapped[datetime] = mapped_column(TSTZ)
    finished_at: Mapped[datetime | None] = mapped_column(TSTZ)
    entries: Mapped[int] = mapped_column(Integer)
    amount: Mapped[Decimal] = mapped_column(MONEY)


class PackageBlock(Model):
    __tablename__ = "package_blocks"
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("account_tariffs.id"))
    period_start: Mapped[datetime] = mapped_column(TSTZ)
    required: Mapped[Decimal] = mapped_column(MONEY)
    blocked_at: Mapped[datetime] = mapped_column(TSTZ)
