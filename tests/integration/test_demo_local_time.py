"""The demo's clock is the ISP's: its monthly settlement period starts at local midnight
of the 1st and its night at 01:00 local time, whatever TIME_ZONE is (Yekaterinburg here,
five hours ahead of UTC), so the charges it makes fall on local month boundaries."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from cli import demo

TZ = ZoneInfo("Asia/Yekaterinburg")


def test_demo_months_start_at_local_midnight_and_its_night_at_local_0100(conn):
    demo.load(conn, now=datetime(2026, 11, 17, 14, 20, tzinfo=TZ), tz=TZ)
    anchor = conn.execute("SELECT anchor FROM settlement_periods WHERE unit = 'MONTH'"
                          ).fetchone()[0]
    assert anchor.astimezone(TZ).replace(tzinfo=None) == datetime(2020, 1, 1)
    starts = conn.execute("SELECT starts_at FROM time_period_nodes").fetchone()[0]
    assert (starts.astimezone(TZ).hour, starts.astimezone(TZ).minute) == (1, 0)
    monthly = [datetime.fromisoformat(row[0]).astimezone(TZ) for row in conn.execute(
        """
        SELECT DISTINCT e.details->>'period_start'
          FROM ledger_entries e JOIN accounts a ON a.id = e.account_id
          JOIN account_tariffs at ON at.account_id = a.id
          JOIN tariffs t ON t.id = at.tariff_id
          JOIN settlement_periods p ON p.id = t.settlement_period_id AND p.unit = 'MONTH'
         WHERE e.kind = 'charge_periodic'
        """)]
    assert monthly, "the demo's history charges monthly tariffs"
    assert {(m.day, m.hour, m.minute) for m in monthly} == {(1, 0, 0)}
