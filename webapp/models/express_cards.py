"""Express cards (``sql/migrations/202612150200_express_cards.sql``). Dealers are admin
CRUD; series, cards and sales are written by ``billing.express_cards`` only, and no model
here maps what stands for a PIN (the hashes, the sealed PINs): no page can show them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from flask_appbuilder import Model
from flask_appbuilder.security.sqla.models import User
from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, Numeric, SmallInteger, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.models.accounts import Account
from webapp.models.types import MONEY, TSTZ

PERCENT = Numeric(5, 2)


class CardDealer(Model):
    __tablename__ = "card_dealers"
    few_rows = True  # a handful of dealers: a select may offer them all
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    discount_percent: Mapped[Decimal] = mapped_column(PERCENT, default=Decimal(0))
    contact: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(TSTZ)

    def __repr__(self) -> str:
        return self.name


class CardSeries(Model):
    __tablename__ = "card_series"
    few_rows = True
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    nominal: Mapped[Decimal] = mapped_column(MONEY)
    card_count: Mapped[int] = mapped_column(Integer)
    pin_length: Mapped[int] = mapped_column(SmallInteger)
    pin_alphabet: Mapped[str] = mapped_column(Text)
    valid_until: Mapped[datetime] = mapped_column(TSTZ)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    exported_at: Mapped[datetime | None] = mapped_column(TSTZ)
    exported_by: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    created_at: Mapped[datetime] = mapped_column(TSTZ)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    comment: Mapped[str] = mapped_column(Text, default="")

    def __repr__(self) -> str:
        return f"{self.id}. {self.name}"


class CardSale(Model):
    __tablename__ = "card_sales"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("card_dealers.id"))
    series_id: Mapped[int] = mapped_column(ForeignKey("card_series.id"))
    card_count: Mapped[int] = mapped_column(Integer)
    nominal: Mapped[Decimal] = mapped_column(MONEY)
    discount_percent: Mapped[Decimal] = mapped_column(PERCENT)
    total: Mapped[Decimal] = mapped_column(MONEY)
    first_number: Mapped[str] = mapped_column(Text)
    last_number: Mapped[str] = mapped_column(Text)
    sold_at: Mapped[datetime] = mapped_column(TSTZ)
    staff_user_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))

    dealer: Mapped[CardDealer] = relationship()
    series: Mapped[CardSeries] = relationship()
    staff_user: Mapped[User | None] = relationship()


class ExpressCard(Model):
    __tablename__ = "express_cards"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    series_id: Mapped[int] = mapped_column(ForeignKey("card_series.id"))
    serial: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(Text, unique=True)
    sale_id: Mapped[int | None] = mapped_column(ForeignKey("card_sales.id"))
    activated_at: Mapped[datetime | None] = mapped_column(TSTZ)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    ledger_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"))

    series: Mapped[CardSeries] = relationship()
    sale: Mapped[CardSale | None] = relationship()
    account: Mapped[Account | None] = relationship()


class CardPinGuard(Model):
    """Wrong PINs per account and per source (the activation's throttle)."""

    __tablename__ = "card_pin_guard"
    scope: Mapped[str] = mapped_column(Text, primary_key=True)
    subject: Mapped[str] = mapped_column(Text, primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime] = mapped_column(TSTZ)
    locked_until: Mapped[datetime | None] = mapped_column(TSTZ)
