"""The model of ``tariff_speeds`` (sql/migrations/202611232030_tariff_speeds.sql).

``speed`` is MikroTik's rate-limit text; billing/speeds.py parses and renders it, so the
admin form can validate with ``billing.speeds.Speed.parse`` before saving.
"""

from __future__ import annotations

from flask_appbuilder import Model
from sqlalchemy import ForeignKey, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.models import Tariff, TimePeriod


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
