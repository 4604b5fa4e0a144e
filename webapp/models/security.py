"""Staff security: the audit log the admin views write after each add, edit and delete
(``staff_audit_log``; read-only in the admin) and the networks a
staff member or role may log in from (edited in the admin)."""

from __future__ import annotations

from datetime import datetime

from flask_appbuilder import Model
from flask_appbuilder.security.sqla.models import Role, User
from sqlalchemy import BigInteger, ForeignKey, Integer, Text
from sqlalchemy.dialects.postgresql import CIDR, JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.models.types import TSTZ


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

    @property
    def changes(self) -> tuple[str, dict, dict]:
        """What the entry changed, read by the audit pages as field: was → became."""
        return self.object_type, self.old_values or {}, self.new_values or {}


class StaffNetwork(Model):
    __tablename__ = "staff_networks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id", ondelete="CASCADE"))
    role_id: Mapped[int | None] = mapped_column(ForeignKey("ab_role.id", ondelete="CASCADE"))
    network: Mapped[str] = mapped_column(CIDR)
    comment: Mapped[str] = mapped_column(Text, default="")

    user: Mapped[User | None] = relationship()
    role: Mapped[Role | None] = relationship()

    def __repr__(self) -> str:
        return str(self.network)
