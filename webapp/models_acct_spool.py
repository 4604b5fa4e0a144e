"""SQLAlchemy model of the accounting spool's read positions (``*_acct_spool.sql``):
written by the drain (``stack.acct_spool``) only; read-only in the admin."""

from __future__ import annotations

from datetime import datetime

from flask_appbuilder import Model
from sqlalchemy import BigInteger, Boolean, Text
from sqlalchemy.orm import Mapped, mapped_column

from webapp.models import TSTZ


class AcctSpoolFile(Model):
    __tablename__ = "acct_spool_files"
    host: Mapped[str] = mapped_column(Text, primary_key=True)
    work_file: Mapped[str] = mapped_column(Text, primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, default=0)
    applied: Mapped[int] = mapped_column(BigInteger, default=0)
    skipped: Mapped[int] = mapped_column(BigInteger, default=0)
    done: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(TSTZ)
