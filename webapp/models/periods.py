"""Settlement periods (how tariffs are charged) and time periods (time-of-day windows
for access and speeds)."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask_appbuilder import Model
from sqlalchemy import Boolean, ForeignKey, Integer, Interval, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.models.types import TSTZ


class SettlementPeriod(Model):
    __tablename__ = "settlement_periods"
    few_rows = True  # a catalogue: a form or a search offers every row in one select
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
    few_rows = True  # a catalogue: a form or a search offers every row in one select
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
