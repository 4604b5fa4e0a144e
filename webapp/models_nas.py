"""Models of the DHCP option 82 bindings (sql/migrations/202611282305_radius_lookup.sql):
access switches known by the remote id they insert, and a subaccount bound to a port.

RADIUS authorize finds a DHCP/IPoE subscriber by these (ebs_radius_check); the admin
edits them. ``remote_id`` is written as ``ebs_option82_remote_id()`` reads the relay's
value: a switch MAC as aa:bb:cc:dd:ee:ff, a printable id as text, anything else as hex.
"""

from __future__ import annotations

from datetime import datetime

from flask_appbuilder import Model
from sqlalchemy import BigInteger, ForeignKey, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.models import TSTZ, Subaccount


class Switch(Model):
    __tablename__ = "switches"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    remote_id: Mapped[str] = mapped_column(Text, unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(TSTZ)

    def __str__(self) -> str:
        return self.name


class SubaccountSwitchPort(Model):
    __tablename__ = "subaccount_switch_ports"
    subaccount_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("subaccounts.id", ondelete="CASCADE"), primary_key=True)
    switch_id: Mapped[int] = mapped_column(ForeignKey("switches.id", ondelete="CASCADE"))
    port: Mapped[int] = mapped_column(Integer)

    subaccount: Mapped[Subaccount] = relationship()
    switch: Mapped[Switch] = relationship()

    def __str__(self) -> str:
        return f"{self.switch.name if self.switch else self.switch_id}:{self.port}"
