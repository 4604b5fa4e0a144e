"""Seeded history and the charging engine meet without overlap: the tick after
``ebs seed --history`` charges nothing in arrears, and over the following weeks no account
pays a monthly service twice in a month."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from billing import ledger
from billing.charging import tick
from cli.seed import run_seed

TZ = ZoneInfo("Europe/Moscow")

_MONTHLY_TWICE = """
    SELECT a.contract, t.name, date_trunc('month', e.effective_at AT TIME ZONE %(tz)s),
           count(*)
      FROM ledger_entries e
      JOIN accounts a ON a.id = e.account_id
      JOIN account_tariffs x ON x.account_id = a.id
      JOIN tariffs t ON t.id = x.tariff_id
     WHERE e.kind = 'charge_periodic'
       AND NOT EXISTS (SELECT 1 FROM periodic_services s
                        WHERE s.tariff_id = t.id AND s.charge_method = 'GRADUAL')
     GROUP BY 1, 2, 3, t.id
    HAVING count(*) > (SELECT count(*) FROM periodic_services s WHERE s.tariff_id = t.id)
"""


@pytest.mark.parametrize("now", [
    datetime(2026, 11, 17, 14, 20, tzinfo=TZ),
    datetime(2026, 12, 1, 0, 7, tzinfo=TZ),  # minutes after the monthly fees fell due
], ids=["mid-month", "month-start"])
def test_the_tick_after_a_seed_charges_only_what_is_new(conn, now):
    seeded = run_seed(conn, accounts=400, history=True, months=3, seed=3, tz=str(TZ),
                      now=now, chunk_size=200)
    assert seeded.entries > 400
    before = conn.execute("SELECT max(id) FROM ledger_entries").fetchone()[0]

    first = tick.charge(conn, now + timedelta(minutes=5), TZ)
    assert first.after == now
    assert conn.execute(
        "SELECT count(*) FROM ledger_entries WHERE id > %s AND effective_at <= %s",
        (before, now)).fetchone()[0] == 0, "the first tick charged seeded time again"
    assert first.amount > -100 * 400, "five minutes cost far less than a month's fees"

    for days in range(1, 46, 4):
        tick.charge(conn, now + timedelta(days=days, hours=days % 5), TZ)
    assert ledger.verify(conn) == []
    assert conn.execute(_MONTHLY_TWICE, {"tz": str(TZ)}).fetchall() == []
    engine = conn.execute(
        "SELECT count(*), min(effective_at) FROM ledger_entries"
        " WHERE idempotency_key LIKE 'periodic:%%'").fetchone()
    assert engine[0] > 400 and engine[1] > now, "the engine took over, from the seed's moment"
