"""What the reports and the dashboard read (``account_stats_deltas``, ``ledger_totals``):
rows appended by triggers (sql/functions/ebs_account_stats_track.sql,
ebs_ledger_add_totals.sql) in the change's transaction and folded by ``ebs.fold_totals``;
only read here."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from flask_appbuilder import Model
from sqlalchemy import BigInteger, ForeignKey, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column

from webapp.models.types import TOTAL, TSTZ


class AccountStatsDelta(Model):
    __tablename__ = "account_stats_deltas"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    total: Mapped[int] = mapped_column(BigInteger, default=0)
    active: Mapped[int] = mapped_column(BigInteger, default=0)
    blocked: Mapped[int] = mapped_column(BigInteger, default=0)
    suspended: Mapped[int] = mapped_column(BigInteger, default=0)
    debtors: Mapped[int] = mapped_column(BigInteger, default=0)
    debt: Mapped[Decimal] = mapped_column(TOTAL, default=0)


class LedgerTotal(Model):
    __tablename__ = "ledger_totals"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    bucket: Mapped[datetime] = mapped_column(TSTZ)
    kind: Mapped[str] = mapped_column(Text, ForeignKey("ledger_entry_kinds.code"))
    source: Mapped[str] = mapped_column(Text)
    staff_user_id: Mapped[int] = mapped_column(Integer)
    entries: Mapped[int] = mapped_column(BigInteger, default=0)
    amount: Mapped[Decimal] = mapped_column(TOTAL, default=0)


class AssignmentTotal(Model):
    """Assignment spans started and ended per 15-minute bucket and tariff (appended by
    account_tariffs' triggers, folded by ebs.fold_totals)."""

    __tablename__ = "assignment_totals"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    bucket: Mapped[datetime] = mapped_column(TSTZ)
    tariff_id: Mapped[int] = mapped_column(Integer)
    starts: Mapped[int] = mapped_column(Integer)
    ends: Mapped[int] = mapped_column(Integer)


class AssignmentTotalDaily(Model):
    """The same per UTC day, so a range over years sums a few thousand rows."""

    __tablename__ = "assignment_totals_daily"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    day: Mapped[datetime] = mapped_column(TSTZ)
    tariff_id: Mapped[int] = mapped_column(Integer)
    starts: Mapped[int] = mapped_column(Integer)
    ends: Mapped[int] = mapped_column(Integer)
