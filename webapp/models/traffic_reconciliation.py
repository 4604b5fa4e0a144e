"""What the RADIUS-against-NetFlow reconciliation found (flow/reconcile.py writes it,
sql/migrations/202612090100_traffic_reconciliation.sql): a session whose accounting and
flows differ, or an exporter's hour. Only read here (the "Traffic reconciliation" page)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from flask_appbuilder import Model
from sqlalchemy import BigInteger, Boolean, ForeignKey, Text, literal_column
from sqlalchemy.orm import Mapped, column_property, mapped_column, relationship

from webapp.models.accounts import Account
from webapp.models.network import Nas
from webapp.models.types import TSTZ


class TrafficReconciliation(Model):
    __tablename__ = "traffic_reconciliation"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(Text)
    acct_unique_id: Mapped[str | None] = mapped_column(Text)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id",
                                                              ondelete="CASCADE"))
    nas_id: Mapped[int | None] = mapped_column(ForeignKey("nas.id", ondelete="CASCADE"))
    period_start: Mapped[datetime] = mapped_column(TSTZ)
    period_end: Mapped[datetime | None] = mapped_column(TSTZ)
    accounting_bytes: Mapped[int] = mapped_column(BigInteger)
    flow_bytes: Mapped[int] = mapped_column(BigInteger)
    difference: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(Text)
    checked_at: Mapped[datetime] = mapped_column(TSTZ)

    account: Mapped[Account | None] = relationship()
    nas: Mapped[Nas | None] = relationship()
    # The states an operator acts on, which the page lists first: spelled as the index
    # spells it (sql/migrations/202612100101_reconciliation_attention.sql), so the
    # planner walks that index.
    attention: Mapped[bool] = column_property(literal_column(
        "(traffic_reconciliation.state IN ('mismatch', 'silent'))", Boolean))

    @property
    def difference_percent(self) -> Decimal | None:
        """The difference as a percent of the larger figure (the tolerance's measure),
        to a tenth."""
        larger = max(self.accounting_bytes or 0, self.flow_bytes or 0)
        if larger == 0:
            return None
        return (Decimal(self.difference) * 100 / larger).quantize(Decimal("0.1"))
