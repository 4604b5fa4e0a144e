"""Models of the tables the reports, the dashboard and the login's network check read
(sql/migrations/202611291100_reports.sql, *_ledger_totals_append.sql). The first two are
appended to by triggers and only read; staff networks are edited in the admin."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from flask_appbuilder import Model
from flask_appbuilder.security.sqla.models import Role, User
from sqlalchemy import BigInteger, ForeignKey, Integer, Numeric, Text
from sqlalchemy.dialects.postgresql import CIDR
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.models import TSTZ

TOTAL = Numeric(16, 2)


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


class StaffNetwork(Model):
    __tablename__ = "staff_networks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id", ondelete="CASCADE"))
    role_id: Mapped[int | None] = mapped_column(ForeignKey("ab_role.id", ondelete="CASCADE"))
    network: Mapped[str] = mapped_column(CIDR)
    comment: Mapped[str] = mapped_column(Text, default="")

    user: Mapped[User | None] = relationship()
    role: Mapped[Role | None] = relationship()

    def __repr__(self) -> str:
        return str(self.network)
