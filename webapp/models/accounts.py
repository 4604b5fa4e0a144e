"""Subscribers: accounts, their subaccounts (the network logins), tariff assignments and
account state (status history, self-suspensions).

Balances are read-only here: money moves only through the ledger. Status, suspensions,
assignments and credentials change through their ``billing`` services (the admin's
action forms call them); the history and suspension rows are written by those services
and by the database's triggers.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from flask_appbuilder import Model
from flask_appbuilder.security.sqla.models import User
from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, LargeBinary, Text
from sqlalchemy.dialects.postgresql import INET, MACADDR
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.models.network import IpPool, Nas
from webapp.models.tariffs import Tariff
from webapp.models.types import MONEY, TSTZ


class Account(Model):
    __tablename__ = "accounts"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    contract: Mapped[str] = mapped_column(Text, unique=True)
    login: Mapped[str] = mapped_column(Text, unique=True)
    password_hash: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(Text, default="active")
    blocked_by_balance: Mapped[bool] = mapped_column(Boolean, default=False)
    blocked_by_limit: Mapped[bool] = mapped_column(Boolean, default=False)
    balance: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0))
    credit: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0))
    full_name: Mapped[str] = mapped_column(Text, default="")
    phone: Mapped[str] = mapped_column(Text, default="")
    email: Mapped[str] = mapped_column(Text, default="")
    city: Mapped[str] = mapped_column(Text, default="")
    street: Mapped[str] = mapped_column(Text, default="")
    house: Mapped[str] = mapped_column(Text, default="")
    flat: Mapped[str] = mapped_column(Text, default="")
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(TSTZ)

    subaccounts: Mapped[list[Subaccount]] = relationship(back_populates="account")

    def __str__(self) -> str:
        return f"{self.contract} {self.full_name}".strip()


class AccountTariff(Model):
    __tablename__ = "account_tariffs"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    tariff_id: Mapped[int] = mapped_column(ForeignKey("tariffs.id"))
    assigned_at: Mapped[datetime] = mapped_column(TSTZ)

    account: Mapped[Account] = relationship()
    tariff: Mapped[Tariff] = relationship()


class Subaccount(Model):
    __tablename__ = "subaccounts"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    username: Mapped[str | None] = mapped_column(Text, unique=True)
    nt_password_hash: Mapped[str | None] = mapped_column(Text)
    chap_password_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    ip_address: Mapped[str | None] = mapped_column(INET)
    mac_address: Mapped[str | None] = mapped_column(MACADDR)
    ip_pool_id: Mapped[int | None] = mapped_column(ForeignKey("ip_pools.id"))
    nas_id: Mapped[int | None] = mapped_column(ForeignKey("nas.id"))
    option82_remote_id: Mapped[str | None] = mapped_column(Text)
    option82_circuit_id: Mapped[str | None] = mapped_column(Text)
    bind_to_mac: Mapped[bool] = mapped_column(Boolean, default=False)
    bind_to_ip: Mapped[bool] = mapped_column(Boolean, default=False)
    simultaneous_use: Mapped[int] = mapped_column(Integer, default=1)
    allow_at_zero: Mapped[bool] = mapped_column(Boolean, default=False)
    allow_negative: Mapped[bool] = mapped_column(Boolean, default=False)
    allow_when_blocked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(TSTZ)

    account: Mapped[Account] = relationship(back_populates="subaccounts")
    ip_pool: Mapped[IpPool | None] = relationship()
    nas: Mapped[Nas | None] = relationship()

    def __str__(self) -> str:
        return self.username or f"#{self.id}"


class AccountStatusHistory(Model):
    __tablename__ = "account_status_history"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    changed_at: Mapped[datetime] = mapped_column(TSTZ)
    what: Mapped[str] = mapped_column(Text)
    old_value: Mapped[str] = mapped_column(Text)
    new_value: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(Text)
    staff_user_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    reason: Mapped[str] = mapped_column(Text, default="")
    recorded_at: Mapped[datetime] = mapped_column(TSTZ)

    account: Mapped[Account] = relationship()
    staff_user: Mapped[User | None] = relationship()


class AccountSuspension(Model):
    __tablename__ = "account_suspensions"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    tariff_id: Mapped[int | None] = mapped_column(ForeignKey("tariffs.id"))
    starts_at: Mapped[datetime] = mapped_column(TSTZ)
    planned_until: Mapped[datetime | None] = mapped_column(TSTZ)
    ended_at: Mapped[datetime | None] = mapped_column(TSTZ)
    end_reason: Mapped[str | None] = mapped_column(Text)
    cost: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0))
    requested_by: Mapped[str] = mapped_column(Text)
    staff_user_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    ended_by_staff_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(TSTZ)

    account: Mapped[Account] = relationship()
    tariff: Mapped[Tariff | None] = relationship()
