"""SQLAlchemy model of the auth log (``*_radius_authorize.sql``): written by FreeRADIUS's
rlm_sql in post-auth, one row per answered Access-Request; read-only in the admin."""

from __future__ import annotations

from datetime import datetime

from flask_appbuilder import Model
from sqlalchemy import BigInteger, Boolean, Text
from sqlalchemy.dialects.postgresql import INET
from sqlalchemy.orm import Mapped, mapped_column

from webapp.models import TSTZ


class AuthLog(Model):
    __tablename__ = "auth_log"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    logged_at: Mapped[datetime] = mapped_column(TSTZ, primary_key=True)
    username: Mapped[str] = mapped_column(Text, default="")
    nas_ip: Mapped[str | None] = mapped_column(INET)
    calling_station_id: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str] = mapped_column(Text)
    accepted: Mapped[bool] = mapped_column(Boolean)
    guest: Mapped[bool] = mapped_column(Boolean, default=False)
