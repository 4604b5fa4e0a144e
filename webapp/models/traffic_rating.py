"""What a tariff charges for traffic and what the rater keeps of it
(sql/migrations/202612082000_traffic_rating.sql): prices per MB and prepaid MB of a
group (admin CRUD on the tariff's form), and, read by the account card's traffic tab and
the traffic reports, the usage per settlement period, the hourly statistics (and the
daily ones they are rolled up to, flow/stats_rollup.py) and the rows nobody could be
charged for. The rater (flow/) alone writes the last four."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from flask_appbuilder import Model
from sqlalchemy import (
    BigInteger,
    Boolean,
    Computed,
    Date,
    ForeignKey,
    Integer,
    Numeric,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.models.periods import TimePeriod
from webapp.models.tariffs import Tariff
from webapp.models.traffic import TrafficGroup
from webapp.models.types import MONEY, TSTZ

PRICE = Numeric(14, 6)  # a price per megabyte carries more decimals than an amount
MEGABYTES = Numeric(14, 3)


class TariffTrafficPrice(Model):
    __tablename__ = "tariff_traffic_prices"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tariff_id: Mapped[int] = mapped_column(ForeignKey("tariffs.id", ondelete="CASCADE"))
    group_id: Mapped[int] = mapped_column(ForeignKey("traffic_groups.id",
                                                     ondelete="CASCADE"))
    time_period_id: Mapped[int | None] = mapped_column(ForeignKey("time_periods.id"))
    price_per_mb: Mapped[Decimal] = mapped_column(PRICE)

    tariff: Mapped[Tariff] = relationship()
    group: Mapped[TrafficGroup] = relationship()
    time_period: Mapped[TimePeriod | None] = relationship()


class TariffTrafficPrepaid(Model):
    __tablename__ = "tariff_traffic_prepaid"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tariff_id: Mapped[int] = mapped_column(ForeignKey("tariffs.id", ondelete="CASCADE"))
    group_id: Mapped[int] = mapped_column(ForeignKey("traffic_groups.id",
                                                     ondelete="CASCADE"))
    megabytes: Mapped[Decimal] = mapped_column(MEGABYTES)
    rollover: Mapped[bool] = mapped_column(Boolean, default=False)
    prorate_first_period: Mapped[bool] = mapped_column(Boolean, default=False)

    tariff: Mapped[Tariff] = relationship()
    group: Mapped[TrafficGroup] = relationship()


class TrafficUsage(Model):
    __tablename__ = "traffic_usage"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    group_id: Mapped[int] = mapped_column(ForeignKey("traffic_groups.id",
                                                     ondelete="CASCADE"))
    assignment_id: Mapped[int] = mapped_column(ForeignKey("account_tariffs.id",
                                                          ondelete="CASCADE"))
    period_start: Mapped[datetime] = mapped_column(TSTZ)
    period_end: Mapped[datetime] = mapped_column(TSTZ)
    prepaid_bytes: Mapped[Decimal] = mapped_column(Numeric, default=0)
    used_bytes: Mapped[Decimal] = mapped_column(Numeric, default=0)
    billed_bytes: Mapped[Decimal] = mapped_column(Numeric, default=0)
    cost: Mapped[Decimal] = mapped_column(Numeric, default=0)
    charged: Mapped[Decimal] = mapped_column(MONEY, default=0)
    postings: Mapped[int] = mapped_column(Integer, default=0)


class TrafficStatsHourly(Model):
    __tablename__ = "traffic_stats_hourly"
    hour: Mapped[datetime] = mapped_column(TSTZ, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"),
                                            primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("traffic_groups.id",
                                                     ondelete="CASCADE"), primary_key=True)
    bytes_in: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_out: Mapped[int] = mapped_column(BigInteger, default=0)


class TrafficStatsDaily(Model):
    __tablename__ = "traffic_stats_daily"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"),
                                            primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("traffic_groups.id",
                                                     ondelete="CASCADE"), primary_key=True)
    bytes_in: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_out: Mapped[int] = mapped_column(BigInteger, default=0)


class TrafficStatsMonthly(Model):
    """Read by the top-consumers report only (written by flow/, never by a form)."""

    __tablename__ = "traffic_stats_monthly"
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"),
                                            primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("traffic_groups.id",
                                                     ondelete="CASCADE"), primary_key=True)
    bytes_in: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_out: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_total: Mapped[int | None] = mapped_column(BigInteger, Computed("bytes_in + bytes_out"))


class TrafficStatsMonthlyZone(Model):
    __tablename__ = "traffic_stats_monthly_zone"
    only_row: Mapped[bool] = mapped_column(Boolean, primary_key=True, default=True)
    zone: Mapped[str] = mapped_column(Text)
    built_at: Mapped[datetime] = mapped_column(TSTZ)


class TrafficReject(Model):
    __tablename__ = "traffic_rejects"
    bin: Mapped[datetime] = mapped_column(TSTZ, primary_key=True)
    reason: Mapped[str] = mapped_column(Text, primary_key=True)
    row_count: Mapped[int] = mapped_column(BigInteger)
    bytes: Mapped[int] = mapped_column(BigInteger)
