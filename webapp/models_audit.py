"""The model of the staff audit log (sql/migrations/202611282330_webapp.sql), written by
the admin views after each add, edit and delete; read-only in the admin."""

from __future__ import annotations

from datetime import datetime

from flask_appbuilder import Model
from flask_appbuilder.security.sqla.models import User
from sqlalchemy import BigInteger, ForeignKey, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.models import TSTZ


class StaffAuditLog(Model):
    __tablename__ = "staff_audit_log"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    logged_at: Mapped[datetime] = mapped_column(TSTZ)
    staff_user_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    action: Mapped[str] = mapped_column(Text)
    object_type: Mapped[str] = mapped_column(Text)
    object_id: Mapped[str] = mapped_column(Text)
    old_values: Mapped[dict] = mapped_column(JSONB, default=dict)
    new_values: Mapped[dict] = mapped_column(JSONB, default=dict)

    staff_user: Mapped[User | None] = relationship()
