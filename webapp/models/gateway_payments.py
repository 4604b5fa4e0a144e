"""Payments through the gateways (billing/gateway_payments.py writes them; the admin
reads them and moves their state through that module, never by editing a row): the
provider's transaction, each move of its state with its ledger entry, and every
notification as it arrived (sql/migrations/202612150100_gateway_payments.sql)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from flask_appbuilder import Model
from flask_appbuilder.security.sqla.models import User
from sqlalchemy import BigInteger, ForeignKey, Integer, LargeBinary, Text
from sqlalchemy.dialects.postgresql import INET, JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.models.accounts import Account
from webapp.models.ledger import LedgerEntry
from webapp.models.types import MONEY, TSTZ


class GatewayPayment(Model):
    __tablename__ = "gateway_payments"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    backend: Mapped[str] = mapped_column(Text)
    provider_txn_id: Mapped[str] = mapped_column(Text)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(Text)
    changes: Mapped[int] = mapped_column(Integer)
    provider_at: Mapped[datetime | None] = mapped_column(TSTZ)
    created_at: Mapped[datetime] = mapped_column(TSTZ)
    updated_at: Mapped[datetime] = mapped_column(TSTZ)
    details: Mapped[dict] = mapped_column(JSONB)

    account: Mapped[Account] = relationship()
    moves: Mapped[list[GatewayPaymentChange]] = relationship(
        order_by="GatewayPaymentChange.change_no", viewonly=True)
    notifications: Mapped[list[GatewayNotification]] = relationship(
        order_by="GatewayNotification.id", viewonly=True)


class GatewayNotification(Model):
    __tablename__ = "gateway_notifications"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    backend: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(TSTZ)
    peer: Mapped[str | None] = mapped_column(INET)
    source: Mapped[str | None] = mapped_column(INET)
    method: Mapped[str] = mapped_column(Text)
    path: Mapped[str] = mapped_column(Text)
    query: Mapped[str] = mapped_column(Text)
    headers: Mapped[dict] = mapped_column(JSONB)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    outcome: Mapped[str | None] = mapped_column(Text)
    answer_status: Mapped[int | None] = mapped_column(Integer)
    answer: Mapped[str | None] = mapped_column(Text)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("gateway_payments.id"))

    payment: Mapped[GatewayPayment | None] = relationship(viewonly=True)

    @property
    def body_text(self) -> str:
        """The body as text for the page (bytes that are not UTF-8 shown escaped)."""
        return (self.body or b"").decode("utf-8", errors="backslashreplace")


class GatewayPaymentChange(Model):
    __tablename__ = "gateway_payment_changes"
    payment_id: Mapped[int] = mapped_column(ForeignKey("gateway_payments.id"),
                                            primary_key=True)
    change_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    from_state: Mapped[str] = mapped_column(Text)
    to_state: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(TSTZ)
    staff_user_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    notification_id: Mapped[int | None] = mapped_column(
        ForeignKey("gateway_notifications.id"))
    reason: Mapped[str] = mapped_column(Text)
    ledger_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"),
                                                        unique=True)

    payment: Mapped[GatewayPayment] = relationship(viewonly=True)
    staff_user: Mapped[User | None] = relationship()
    ledger_entry: Mapped[LedgerEntry | None] = relationship()
