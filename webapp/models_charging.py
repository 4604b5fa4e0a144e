"""SQLAlchemy model of the charging engine's own table (``*_charging.sql``); read-only in
the admin, written by ``billing.charging.tick``."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from flask_appbuilder import Model
from sqlalchemy import BigInteger, Integer
from sqlalchemy.orm import Mapped, mapped_column

from webapp.models import MONEY, TSTZ


class ChargeRun(Model):
    __tablename__ = "charge_runs"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    charged_to: Mapped[datetime] = mapped_column(TSTZ)
    charged_from: Mapped[datetime | None] = mapped_column(TSTZ)
    started_at: Mapped[datetime] = mapped_column(TSTZ)
    finished_at: Mapped[datetime | None] = mapped_column(TSTZ)
    entries: Mapped[int] = mapped_column(Integer)
    amount: Mapped[Decimal] = mapped_column(MONEY)
