"""Notifications (sql/migrations/202612170000_notifications.sql): the templates the
operator edits, mailings, each message with what its provider answered, and the
subscribers who want only essential messages. billing/notifications/outbox.py alone moves
a message's state; the admin shows them and asks that module to act."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from flask_appbuilder import Model
from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, Numeric, Text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.models.accounts import Account
from webapp.models.tariffs import Tariff
from webapp.models.types import MONEY, TSTZ


class MessageTemplate(Model):
    __tablename__ = "message_templates"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    essential: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(TSTZ)


class MessageBatch(Model):
    __tablename__ = "message_batches"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    template_code: Mapped[str] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(Text)
    selection: Mapped[dict] = mapped_column(JSONB)
    due_at: Mapped[datetime] = mapped_column(TSTZ)
    total: Mapped[int] = mapped_column(Integer)
    queued: Mapped[int] = mapped_column(Integer)
    skipped: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(Text)
    staff_user_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    created_at: Mapped[datetime] = mapped_column(TSTZ)
    request_key: Mapped[str | None] = mapped_column(Text)
    walked_to: Mapped[int] = mapped_column(BigInteger)
    # a lazy batch's accounts not made into messages yet (50,000 ids for a day's
    # balance alerts): never loaded with the list
    waiting: Mapped[list[int]] = mapped_column(ARRAY(BigInteger), deferred=True)
    made: Mapped[int] = mapped_column(Integer)


class Message(Model):
    __tablename__ = "messages"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(Text)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("message_batches.id"))
    template_code: Mapped[str] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(Text)
    backend: Mapped[str] = mapped_column(Text)
    recipient: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    essential: Mapped[bool] = mapped_column(Boolean)
    state: Mapped[str] = mapped_column(Text)
    due_at: Mapped[datetime] = mapped_column(TSTZ)
    attempts: Mapped[int] = mapped_column(Integer)
    sending_since: Mapped[datetime | None] = mapped_column(TSTZ)
    sent_at: Mapped[datetime | None] = mapped_column(TSTZ)
    provider_id: Mapped[str | None] = mapped_column(Text)
    provider_status: Mapped[str] = mapped_column(Text)
    cost: Mapped[Decimal | None] = mapped_column(Numeric(12, 4))
    parts: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(TSTZ)

    account: Mapped[Account | None] = relationship()
    batch: Mapped[MessageBatch | None] = relationship()
    attempts_made: Mapped[list[MessageAttempt]] = relationship(
        order_by="MessageAttempt.id", viewonly=True)


class MessageAttempt(Model):
    __tablename__ = "message_attempts"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"))
    at: Mapped[datetime] = mapped_column(TSTZ)
    outcome: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    error: Mapped[str] = mapped_column(Text)


class BalanceAlert(Model):
    __tablename__ = "balance_alerts"
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    times: Mapped[int] = mapped_column(Integer)
    last_at: Mapped[datetime] = mapped_column(TSTZ)

    account: Mapped[Account] = relationship()


class NotificationOptout(Model):
    __tablename__ = "notification_optouts"
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    since: Mapped[datetime] = mapped_column(TSTZ)

    account: Mapped[Account] = relationship()


class TariffNotificationSettings(Model):
    __tablename__ = "tariff_notification_settings"
    tariff_id: Mapped[int] = mapped_column(ForeignKey("tariffs.id"), primary_key=True)
    balance_threshold: Mapped[Decimal | None] = mapped_column(MONEY)

    tariff: Mapped[Tariff] = relationship()
