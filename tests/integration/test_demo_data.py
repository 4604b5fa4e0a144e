"""The demo's data as a new user meets it: loaded, then charged by the worker's tick five
minutes later and again a day later, it still shows its banner — one debtor, one
suspended, everyone else in credit — and no period is charged twice."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from billing import ledger
from billing.charging import tick
from cli import demo

TZ = ZoneInfo("Europe/Moscow")
MOMENTS = [
    datetime(2026, 11, 17, 14, 20, tzinfo=TZ),  # mid-month
    datetime(2026, 11, 30, 23, 50, tzinfo=TZ),  # a day later is December: monthly fees due
    datetime(2026, 12, 1, 0, 3, tzinfo=TZ),  # just after the monthly fees
    datetime(2027, 3, 1, 12, 0, tzinfo=TZ),  # the history spans a short February
]


def _banner(conn) -> dict[str, list[str]]:
    rows = conn.execute(
        "SELECT login, status, balance FROM accounts ORDER BY contract").fetchall()
    return {
        "debtors": [login for login, _, balance in rows if balance < 0],
        "suspended": [login for login, status, _ in rows if status == "suspended"],
        "in_credit": [login for login, status, balance in rows
                      if status == "active" and balance > 0],
    }


BANNER = {
    "debtors": ["debtor"],
    "suspended": ["suspended"],
    "in_credit": ["ivanov", "petrova", "sidorov", "kuznetsova", "smirnov", "popov",
                  "vasilieva", "morozov"],
}


def _charges_not_made_by_the_engine(conn) -> int:
    return conn.execute(
        "SELECT count(*) FROM ledger_entries WHERE kind LIKE 'charge%%'"
        " AND idempotency_key !~ '^(periodic|onetime|fillup|suspension):'").fetchone()[0]


def _periods_charged_twice(conn) -> list[tuple]:
    return conn.execute(
        """
        SELECT account_id, details->>'service_id', details->>'period_start', count(*)
          FROM ledger_entries WHERE kind = 'charge_periodic'
         GROUP BY 1, 2, 3 HAVING count(*) > 1
        """).fetchall()


@pytest.mark.parametrize("now", MOMENTS, ids=lambda m: m.strftime("%Y-%m-%d_%H%M"))
def test_a_demo_left_running_for_a_day_keeps_its_banner(conn, now):
    demo.load(conn, now=now, tz=TZ)
    assert _banner(conn) == BANNER
    assert ledger.verify(conn) == []
    entries = conn.execute("SELECT count(*) FROM ledger_entries").fetchone()[0]
    charged = conn.execute(
        "SELECT count(*) FROM ledger_entries WHERE kind LIKE 'charge%'").fetchone()[0]
    assert charged >= 9 * 2, "the history is charged by the tick, connection fees included"

    # The worker's first tick, five minutes after `make demo`: nothing in arrears.
    before = conn.execute("SELECT max(id) FROM ledger_entries").fetchone()[0]
    first = tick.charge(conn, now + timedelta(minutes=5), TZ)
    assert first.after == now
    late = conn.execute("SELECT count(*) FROM ledger_entries WHERE id > %s"
                        " AND effective_at <= %s", (before, now)).fetchone()[0]
    assert late == 0, "the first tick charged time the demo's history had charged"
    assert _banner(conn) == BANNER

    # Left running for a day: ticks every few hours, the banner still holds.
    for hours in range(4, 25, 4):
        tick.charge(conn, now + timedelta(hours=hours), TZ)
        assert _banner(conn) == BANNER, hours
    assert ledger.verify(conn) == []
    assert _charges_not_made_by_the_engine(conn) == 0
    assert _periods_charged_twice(conn) == []
    day = conn.execute("SELECT count(*) FROM ledger_entries").fetchone()[0] - entries
    assert day <= 3 + 6, f"a day brought {day} entries: daily fees and at most monthly fees"

    # Loading again changes nothing.
    demo.load(conn, now=now + timedelta(days=1), tz=TZ)
    assert conn.execute("SELECT count(*) FROM ledger_entries").fetchone()[0] == entries + day
    assert conn.execute("SELECT count(*) FROM accounts").fetchone()[0] == 10


def test_the_demo_history_goes_through_the_doors(conn):
    now = MOMENTS[0]
    demo.load(conn, now=now, tz=TZ)
    kinds = dict(conn.execute(
        "SELECT kind, count(*) FROM ledger_entries GROUP BY kind").fetchall())
    assert kinds["payment"] >= 10 and kinds["charge_onetime"] == 5  # the connection fees
    assert kinds["charge_periodic"] > 0
    keys = [k for (k,) in conn.execute(
        "SELECT idempotency_key FROM ledger_entries WHERE kind = 'payment'")]
    assert all(k.startswith("demo:payment:") for k in keys), keys
    suspension = conn.execute(
        "SELECT a.login, s.starts_at, s.ended_at FROM account_suspensions s"
        " JOIN accounts a ON a.id = s.account_id").fetchall()
    assert suspension == [("suspended", now - timedelta(days=demo.SUSPENDED_DAYS,
                                                       minutes=-1), None)]
    # The suspended time is not charged: nothing after the suspension's start.
    assert conn.execute(
        "SELECT count(*) FROM ledger_entries e JOIN accounts a ON a.id = e.account_id"
        " WHERE a.login = 'suspended' AND e.kind = 'charge_periodic'"
        " AND e.effective_at > %s", (suspension[0][1],)).fetchone()[0] == 0
    assert _charges_not_made_by_the_engine(conn) == 0
    assert _periods_charged_twice(conn) == []
