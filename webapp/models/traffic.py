"""Traffic classes and groups: what the collector classifies flows by and what tariffs
price and limit (sql/migrations/202612080900_traffic_classes.sql)."""

from __future__ import annotations

from datetime import datetime

from flask_appbuilder import Model
from sqlalchemy import Boolean, Column, ForeignKey, Integer, SmallInteger, Table, Text
from sqlalchemy.dialects.postgresql import CIDR
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.models.types import TSTZ


class TrafficClass(Model):
    __tablename__ = "traffic_classes"
    few_rows = True  # a catalogue: a form or a search offers every row in one select
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    weight: Mapped[int] = mapped_column(Integer, default=100)
    passthrough: Mapped[bool] = mapped_column(Boolean, default=False)
    store: Mapped[bool] = mapped_column(Boolean, default=False)
    store_days: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(TSTZ)
    nodes: Mapped[list[TrafficClassNode]] = relationship(back_populates="traffic_class")

    def __str__(self) -> str:
        return self.name


class TrafficClassNode(Model):
    __tablename__ = "traffic_class_nodes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("traffic_classes.id"))
    network: Mapped[str] = mapped_column(CIDR)
    protocol: Mapped[int | None] = mapped_column(SmallInteger)
    port: Mapped[int | None] = mapped_column(Integer)
    traffic_class: Mapped[TrafficClass] = relationship(back_populates="nodes")


# Which classes a group sums (a plain table: the group's form picks its classes).
group_classes = Table(
    "traffic_group_classes", Model.metadata,
    Column("group_id", Integer, ForeignKey("traffic_groups.id"), primary_key=True),
    Column("class_id", Integer, ForeignKey("traffic_classes.id"), primary_key=True),
)


class TrafficGroup(Model):
    __tablename__ = "traffic_groups"
    few_rows = True  # a catalogue: a form or a search offers every row in one select
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    direction: Mapped[str] = mapped_column(Text, default="both")
    rule: Mapped[str] = mapped_column(Text, default="sum")
    classes: Mapped[list[TrafficClass]] = relationship(secondary=group_classes,
                                                       order_by=TrafficClass.weight)

    def __str__(self) -> str:
        return self.name
