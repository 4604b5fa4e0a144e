"""What FreeRADIUS writes: sessions (open and history), the auth log, the accounting
spool's read positions, and the custom reply attributes the admin adds to its answers.

Sessions and the auth log are written by FreeRADIUS (rlm_sql, the detail-file drain in
``stack.acct_spool``) and only read here; reply attributes are the admin's to edit.
"""

from __future__ import annotations

from datetime import datetime

from flask_appbuilder import Model
from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, Text
from sqlalchemy.dialects.postgresql import INET
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.models.network import Nas
from webapp.models.tariffs import Tariff
from webapp.models.types import TSTZ


class _SessionColumns:
    acct_session_id: Mapped[str] = mapped_column(Text)
    subaccount_id: Mapped[int | None] = mapped_column(BigInteger)
    account_id: Mapped[int | None] = mapped_column(BigInteger)
    nas_id: Mapped[int | None] = mapped_column(Integer)
    nas_ip: Mapped[str] = mapped_column(INET)
    username: Mapped[str] = mapped_column(Text, default="")
    framed_ip: Mapped[str | None] = mapped_column(INET)
    calling_station_id: Mapped[str] = mapped_column(Text, default="")
    called_station_id: Mapped[str] = mapped_column(Text, default="")
    nas_port_id: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[datetime] = mapped_column(TSTZ)
    input_octets: Mapped[int] = mapped_column(BigInteger, default=0)
    output_octets: Mapped[int] = mapped_column(BigInteger, default=0)
    session_time: Mapped[int] = mapped_column(Integer, default=0)


class OpenSession(_SessionColumns, Model):
    __tablename__ = "sessions_open"
    acct_unique_id: Mapped[str] = mapped_column(Text, primary_key=True)
    updated_at: Mapped[datetime] = mapped_column(TSTZ)
    interim_interval: Mapped[int] = mapped_column(Integer, default=300)
    # What the login or the last ACKed CoA gave (billing/enforcement.py); NULL: unknown.
    given_state: Mapped[str | None] = mapped_column(Text)


class SessionHistory(_SessionColumns, Model):
    __tablename__ = "sessions_history"
    acct_unique_id: Mapped[str] = mapped_column(Text, primary_key=True)
    stopped_at: Mapped[datetime] = mapped_column(TSTZ, primary_key=True)
    terminate_cause: Mapped[str] = mapped_column(Text, default="")


class OnlineSample(Model):
    """Sessions online every five minutes (billing/online_samples.py), for the dashboard."""

    __tablename__ = "online_samples"
    sampled_at: Mapped[datetime] = mapped_column(TSTZ, primary_key=True)
    sessions: Mapped[int] = mapped_column(Integer)


class AuthLog(Model):
    """One row per answered Access-Request (rlm_sql in post-auth)."""

    __tablename__ = "auth_log"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    logged_at: Mapped[datetime] = mapped_column(TSTZ, primary_key=True)
    username: Mapped[str] = mapped_column(Text, default="")
    nas_ip: Mapped[str | None] = mapped_column(INET)
    calling_station_id: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str] = mapped_column(Text)
    accepted: Mapped[bool] = mapped_column(Boolean)
    guest: Mapped[bool] = mapped_column(Boolean, default=False)
    answer_us: Mapped[int | None] = mapped_column(Integer)  # arrival to this row, µs


class RadiusReplyAttribute(Model):
    __tablename__ = "radius_reply_attributes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tariff_id: Mapped[int | None] = mapped_column(ForeignKey("tariffs.id"))
    nas_id: Mapped[int | None] = mapped_column(ForeignKey("nas.id"))
    attribute: Mapped[str] = mapped_column(Text)
    op: Mapped[str] = mapped_column(Text, default="+=")
    value: Mapped[str] = mapped_column(Text)
    applies_when: Mapped[str] = mapped_column(Text, default="accept")  # accept / guest / always
    description: Mapped[str] = mapped_column(Text, default="")

    tariff: Mapped[Tariff | None] = relationship()
    nas: Mapped[Nas | None] = relationship()

    def __str__(self) -> str:
        return f"{self.attribute} {self.op} {self.value}"


class AcctSpoolFile(Model):
    """The drain's read position per spool file (``stack.acct_spool``)."""

    __tablename__ = "acct_spool_files"
    host: Mapped[str] = mapped_column(Text, primary_key=True)
    work_file: Mapped[str] = mapped_column(Text, primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, default=0)
    applied: Mapped[int] = mapped_column(BigInteger, default=0)
    skipped: Mapped[int] = mapped_column(BigInteger, default=0)
    done: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(TSTZ)
