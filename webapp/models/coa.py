"""The CoA/Disconnect record (``coa_requests``): one row per (session, desired state), so a
retry or a duplicate request sends nothing twice. Read-only in the admin, written by
``worker.coa_store``."""

from __future__ import annotations

from datetime import datetime

from flask_appbuilder import Model
from sqlalchemy import BigInteger, ForeignKey, Integer, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.models.accounts import Account
from webapp.models.network import Nas
from webapp.models.types import TSTZ


class CoaRequest(Model):
    __tablename__ = "coa_requests"
    __table_args__ = (UniqueConstraint("acct_unique_id", "desired_state"),)
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    acct_unique_id: Mapped[str] = mapped_column(Text)
    desired_state: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    nas_id: Mapped[int | None] = mapped_column(ForeignKey("nas.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(Text, default="")
    attributes: Mapped[list] = mapped_column(JSONB, default=list)
    state: Mapped[str] = mapped_column(Text, default="sending")
    result: Mapped[str | None] = mapped_column(Text)
    error_cause: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    requested_at: Mapped[datetime] = mapped_column(TSTZ)
    finished_at: Mapped[datetime | None] = mapped_column(TSTZ)

    account: Mapped[Account | None] = relationship()
    nas: Mapped[Nas | None] = relationship()

    def __str__(self) -> str:
        return f"{self.kind} {self.acct_unique_id} -> {self.desired_state}: {self.result}"
