"""The ledger: every balance change is an entry, posted by ``billing.ledger`` and never
edited (a correction is a new, reversing entry). Read-only in the admin."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from flask_appbuilder import Model
from flask_appbuilder.security.sqla.models import User
from sqlalchemy import BigInteger, ForeignKey, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.models.accounts import Account
from webapp.models.types import MONEY, TSTZ


class LedgerEntryKind(Model):
    __tablename__ = "ledger_entry_kinds"
    few_rows = True  # a catalogue: a form or a search offers every row in one select
    code: Mapped[str] = mapped_column(Text, primary_key=True)
    title_en: Mapped[str] = mapped_column(Text)
    title_ru: Mapped[str] = mapped_column(Text)


class LedgerEntry(Model):
    __tablename__ = "ledger_entries"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # The account and the kind are checked once per statement by the ledger's triggers
    # (sql/functions/ebs_ledger_apply_balances.sql, ebs_ledger_accept_kinds.sql), not by
    # foreign keys: the joins are declared here.
    account_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(Text)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    idempotency_key: Mapped[str] = mapped_column(Text, unique=True)
    effective_at: Mapped[datetime] = mapped_column(TSTZ)
    created_at: Mapped[datetime] = mapped_column(TSTZ)
    staff_user_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict] = mapped_column(JSONB, default=dict)

    account: Mapped[Account] = relationship(
        primaryjoin="foreign(LedgerEntry.account_id) == Account.id")
    entry_kind: Mapped[LedgerEntryKind] = relationship(
        primaryjoin="foreign(LedgerEntry.kind) == LedgerEntryKind.code")
    staff_user: Mapped[User | None] = relationship()
