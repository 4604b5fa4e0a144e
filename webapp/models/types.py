"""Column types every model shares: money as NUMERIC(14,2), instants as timestamptz."""

from __future__ import annotations

from sqlalchemy import Numeric
from sqlalchemy.dialects.postgresql import TIMESTAMP

MONEY = Numeric(14, 2)
TOTAL = Numeric(16, 2)  # sums of many amounts (reports)
TSTZ = TIMESTAMP(timezone=True)
