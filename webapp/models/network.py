"""The network the subscribers reach us through: NAS, IP pools and their leases, and the
access switches of DHCP option 82 (sql/functions/ebs_radius_subaccount.sql).

Leases are written by FreeRADIUS (rlm_sql calls ``ebs_radius_lease`` in post-auth) and by
accounting; the admin reads them. A switch is known by the remote id it inserts, written
as ``ebs_option82_remote_id()`` reads the relay's value: a switch MAC as
aa:bb:cc:dd:ee:ff, a printable id as text, anything else as hex. RADIUS authorize finds a
DHCP/IPoE subscriber by the switch and port bound to its subaccount.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from flask_appbuilder import Model
from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, Text
from sqlalchemy.dialects.postgresql import INET
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.models.types import TSTZ

if TYPE_CHECKING:
    from webapp.models.accounts import Subaccount


class IpPool(Model):
    __tablename__ = "ip_pools"
    few_rows = True  # a catalogue: a form or a search offers every row in one select
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    kind: Mapped[str] = mapped_column(Text, default="ipv4_vpn")
    range_start: Mapped[str] = mapped_column(INET)
    range_end: Mapped[str] = mapped_column(INET)
    next_pool_id: Mapped[int | None] = mapped_column(ForeignKey("ip_pools.id"))

    def __str__(self) -> str:
        return self.name


class Nas(Model):
    __tablename__ = "nas"
    few_rows = True  # a catalogue: a form or a search offers every row in one select
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    vendor: Mapped[str] = mapped_column(Text, default="mikrotik")
    ip_address: Mapped[str] = mapped_column(INET, unique=True)
    secret: Mapped[str] = mapped_column(Text)
    dhcp_ipoe: Mapped[bool] = mapped_column(Boolean, default=False)
    # The NAS shows an Access-Reject's Reply-Message to the subscriber (rlm_ebs/reject_reply.py).
    reject_reply_message: Mapped[bool] = mapped_column(Boolean, default=False)
    coa_port: Mapped[int] = mapped_column(Integer, default=3799)
    coa_timeout_ms: Mapped[int] = mapped_column(Integer, default=3000)
    coa_attempts: Mapped[int] = mapped_column(Integer, default=3)
    acct_interim_interval: Mapped[int] = mapped_column(Integer, default=300)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(TSTZ)
    updated_at: Mapped[datetime] = mapped_column(TSTZ)

    def __str__(self) -> str:
        return self.name


class IpLease(Model):
    __tablename__ = "ip_leases"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    pool_id: Mapped[int] = mapped_column(ForeignKey("ip_pools.id"))
    address: Mapped[str] = mapped_column(INET)
    state: Mapped[str] = mapped_column(Text)  # reserved / offered / active / free
    subaccount_id: Mapped[int | None] = mapped_column(ForeignKey("subaccounts.id"))
    session_key: Mapped[str | None] = mapped_column(Text)
    nas_ip: Mapped[str | None] = mapped_column(INET)
    leased_at: Mapped[datetime] = mapped_column(TSTZ)
    expires_at: Mapped[datetime] = mapped_column(TSTZ)
    # The FreeRADIUS node ("<name>/<incarnation>") holding a reserved address.
    node: Mapped[str | None] = mapped_column(Text)

    pool: Mapped[IpPool] = relationship()
    subaccount: Mapped[Subaccount | None] = relationship("Subaccount")


class IpPoolFilled(Model):
    """A pool every address of which has a lease row (maintained by ebs_pool_hole)."""

    __tablename__ = "ip_pools_filled"
    pool_id: Mapped[int] = mapped_column(ForeignKey("ip_pools.id"), primary_key=True)
    filled_at: Mapped[datetime] = mapped_column(TSTZ)


class RadiusNode(Model):
    """A FreeRADIUS node holding reserved addresses, and the incarnation it reserves under
    (ebs_radius_reserve releases an earlier incarnation's holdings once)."""

    __tablename__ = "radius_nodes"
    name: Mapped[str] = mapped_column(Text, primary_key=True)
    incarnation: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(TSTZ)


class Switch(Model):
    __tablename__ = "switches"
    few_rows = True  # a catalogue: a form or a search offers every row in one select
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

    subaccount: Mapped[Subaccount] = relationship("Subaccount")
    switch: Mapped[Switch] = relationship()

    def __str__(self) -> str:
        return f"{self.switch.name if self.switch else self.switch_id}:{self.port}"
