"""A tariff's traffic limits and the limits in force per account
(sql/migrations/202612082100_traffic_limits.sql): the limits are edited with the tariff,
the rows in force are written by flow/limits.py alone and shown on the account's card."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from flask_appbuilder import Model
from sqlalchemy import BigInteger, ForeignKey, Integer, Numeric, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.models.tariffs import Tariff
from webapp.models.traffic import TrafficGroup
from webapp.models.types import TSTZ


class TariffTrafficLimit(Model):
    """``window_seconds`` None: per settlement period. ``action`` 'block' or 'speed';
    a speed is 'absolute' or 'add' with ``speed`` (MikroTik's form) or 'percent' with
    ``percent`` of the speed in force (the table's CHECK holds the combinations)."""

    __tablename__ = "tariff_traffic_limits"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tariff_id: Mapped[int] = mapped_column(ForeignKey("tariffs.id", ondelete="CASCADE"))
    group_id: Mapped[int] = mapped_column(ForeignKey("traffic_groups.id",
                                                     ondelete="CASCADE"))
    megabytes: Mapped[Decimal] = mapped_column(Numeric(14, 3))
    window_seconds: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(Text)
    speed_mode: Mapped[str | None] = mapped_column(Text)
    speed: Mapped[str | None] = mapped_column(Text)
    percent: Mapped[Decimal | None] = mapped_column(Numeric(6, 2))

    tariff: Mapped[Tariff] = relationship()
    group: Mapped[TrafficGroup] = relationship()


class AccountTrafficLimit(Model):
    __tablename__ = "account_traffic_limits"
    account_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    limit_id: Mapped[int] = mapped_column(
        ForeignKey("tariff_traffic_limits.id", ondelete="CASCADE"), primary_key=True)
    since: Mapped[datetime] = mapped_column(TSTZ)
    used_bytes: Mapped[Decimal] = mapped_column(Numeric)

    limit: Mapped[TariffTrafficLimit] = relationship()
