"""What a tariff charges from RADIUS accounting (sql/migrations/202612082300_session_rating.sql):
the price of a minute online by time period, the time service (step, prepaid minutes), the
traffic group its sessions' octet counters count in (NASes without NetFlow), all edited
with the tariff; and the time used per settlement period, written by the session rater
(flow/) alone and shown on the account's card."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from flask_appbuilder import Model
from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, Numeric
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.models.periods import TimePeriod
from webapp.models.tariffs import Tariff
from webapp.models.traffic import TrafficGroup
from webapp.models.traffic_rating import MEGABYTES, PRICE
from webapp.models.types import MONEY, TSTZ


class TariffTimePrice(Model):
    __tablename__ = "tariff_time_prices"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tariff_id: Mapped[int] = mapped_column(ForeignKey("tariffs.id", ondelete="CASCADE"))
    time_period_id: Mapped[int | None] = mapped_column(ForeignKey("time_periods.id"))
    price_per_minute: Mapped[Decimal] = mapped_column(PRICE)

    tariff: Mapped[Tariff] = relationship()
    time_period: Mapped[TimePeriod | None] = relationship()


class TariffTimeService(Model):
    """One row per tariff (its key): without it a tariff with time prices is rated by the
    second, without prepaid minutes."""

    __tablename__ = "tariff_time_service"
    tariff_id: Mapped[int] = mapped_column(ForeignKey("tariffs.id", ondelete="CASCADE"),
                                           primary_key=True)
    step_seconds: Mapped[int] = mapped_column(Integer, default=60)
    prepaid_minutes: Mapped[Decimal] = mapped_column(MEGABYTES, default=0)
    rollover: Mapped[bool] = mapped_column(Boolean, default=False)
    prorate_first_period: Mapped[bool] = mapped_column(Boolean, default=False)

    tariff: Mapped[Tariff] = relationship()


class TariffAccountingTraffic(Model):
    """One row per tariff: its sessions' octets are usage of ``group``."""

    __tablename__ = "tariff_accounting_traffic"
    tariff_id: Mapped[int] = mapped_column(ForeignKey("tariffs.id", ondelete="CASCADE"),
                                           primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("traffic_groups.id",
                                                     ondelete="CASCADE"))

    tariff: Mapped[Tariff] = relationship()
    group: Mapped[TrafficGroup] = relationship()


class TimeUsage(Model):
    __tablename__ = "time_usage"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    assignment_id: Mapped[int] = mapped_column(ForeignKey("account_tariffs.id",
                                                          ondelete="CASCADE"))
    period_start: Mapped[datetime] = mapped_column(TSTZ)
    period_end: Mapped[datetime] = mapped_column(TSTZ)
    prepaid_seconds: Mapped[Decimal] = mapped_column(Numeric, default=0)
    used_seconds: Mapped[Decimal] = mapped_column(Numeric, default=0)
    billed_seconds: Mapped[Decimal] = mapped_column(Numeric, default=0)
    price_seconds: Mapped[Decimal] = mapped_column(Numeric, default=0)
    charged: Mapped[Decimal] = mapped_column(MONEY, default=0)
    postings: Mapped[int] = mapped_column(Integer, default=0)
