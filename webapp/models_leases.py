"""SQLAlchemy models of address leases and custom reply attributes (``*_ip_leases.sql``).

Leases are written by FreeRADIUS (rlm_sql calls ``ebs_radius_lease`` in post-auth) and by
accounting; the admin reads them. Custom reply attributes are the admin's to edit.
"""

from __future__ import annotations

from datetime import datetime

from flask_appbuilder import Model
from sqlalchemy import BigInteger, ForeignKey, Integer, Text
from sqlalchemy.dialects.postgresql import INET
from sqlalchemy.orm import Mapped, mapped_column

from webapp.models import TSTZ


class IpLease(Model):
    __tablename__ = "ip_leases"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    pool_id: Mapped[int] = mapped_column(ForeignKey("ip_pools.id"))
    address: Mapped[str] = mapped_column(INET)
    state: Mapped[str] = mapped_column(Text)  # offered / active / free
    subaccount_id: Mapped[int | None] = mapped_column(ForeignKey("subaccounts.id"))
    session_key: Mapped[str | None] = mapped_column(Text)
    nas_ip: Mapped[str | None] = mapped_column(INET)
    leased_at: Mapped[datetime] = mapped_column(TSTZ)
    expires_at: Mapped[datetime] = mapped_column(TSTZ)


class IpPoolFilled(Model):
    """A pool every address of which has a lease row (maintained by ebs_pool_hole)."""

    __tablename__ = "ip_pools_filled"
    pool_id: Mapped[int] = mapped_column(ForeignKey("ip_pools.id"), primary_key=True)
    filled_at: Mapped[datetime] = mapped_column(TSTZ)


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

    def __str__(self) -> str:
        return f"{self.attribute} {self.op} {self.value}"
