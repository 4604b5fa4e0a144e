"""A fake clock walks 400 days through monthly AT_START, AT_END and GRADUAL tariffs, with a
one-time connection fee, a tariff change at 13:37 mid-month, two self-suspensions and a
debtor.

The suspensions go through ``billing.suspension`` as a subscriber would ask for them:
one is resumed on request, the other ends by itself when the tick reaches the tariff's
day limit; each costs the tariff's suspension fee. After every tick (each run three
times) the ledger of every account must equal, in count and sum, what an independent
model built on the pure rule (``schedule.due_charges``) says, the suspended time cut out
of the assignment; and the walk, written in local wall time, gives the same money in UTC,
Europe/Moscow and Europe/Berlin.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from billing import ledger, suspension
from billing.charging.schedule import ChargeMethod, due_charges
from billing.charging.tick import charge
from billing.periods import PeriodUnit, SettlementPeriod
from tests.integration.charging_helpers import (
    account,
    assign,
    onetime_service,
    pay,
    periodic_service,
    settlement_period,
    tariff,
    walked_in_every_zone,
)

DAYS = 400
SUSPENSION_FEE = Decimal("50.00")
SUSPENSION_MAX_DAYS = 15

# tariff name -> (one-time fee, [(method, cost, charges a day, condition, condition sum)])
TARIFFS = {
    "start": (Decimal("100.00"), [(ChargeMethod.AT_START, Decimal("300.00"), 1, "ALWAYS", 0)]),
    "end": (None, [(ChargeMethod.AT_END, Decimal("250.00"), 1, "ALWAYS", 0)]),
    "gradual": (None, [(ChargeMethod.GRADUAL, Decimal("310.00"), 1, "ALWAYS", 0)]),
    "no_debtors": (None, [(ChargeMethod.GRADUAL, Decimal("93.00"), 3, "GE", 0)]),
}


@dataclass
class Model:
    """What the ledger must hold, per account, computed from the pure rule."""

    tz: ZoneInfo
    period: SettlementPeriod
    spans: dict[str, list[tuple[str, datetime, datetime | None]]]
    balance: dict[str, Decimal] = field(default_factory=dict)
    entries: dict[str, int] = field(default_factory=dict)
    fees_charged: set = field(default_factory=set)

    def pay(self, who: str, amount: Decimal) -> None:
        self.balance[who] = self.balance.get(who, Decimal(0)) + amount

    def charge_once(self, who: str, amount: Decimal) -> None:
        self.pay(who, -amount)
        self.entries[who] = self.entries.get(who, 0) + 1

    def tick(self, after: datetime | None, at: datetime) -> None:
        for who, spans in self.spans.items():
            start_balance = self.balance.get(who, Decimal(0))
            moved = Decimal(0)
            for n, (name, start, end) in enumerate(spans):
                fee, services = TARIFFS[name]
                current = start <= at and (end is None or end > at)
                if fee and current and (who, n) not in self.fees_charged and start_balance > 0:
                    self.fees_charged.add((who, n))
                    moved -= fee
                    self.entries[who] = self.entries.get(who, 0) + 1
                for method, cost, per_day, condition, limit in services:
                    if condition == "GE" and not start_balance >= limit:
                        continue
                    for due in due_charges(self.period, method, cost, per_day, start, end,
                                           after, at, self.tz):
                        moved -= due.amount
                        self.entries[who] = self.entries.get(who, 0) + 1
            self.balance[who] = start_balance + moved


def charged(conn, account_id) -> tuple[int, Decimal]:
    return conn.execute(
        "SELECT count(*), coalesce(sum(amount), 0) FROM ledger_entries"
        " WHERE account_id = %s AND kind LIKE 'charge%%'", (account_id,)).fetchone()


def walk(conn, tz_name: str) -> dict[str, tuple[int, Decimal]]:
    tz = ZoneInfo(tz_name)

    def local(*args) -> datetime:
        return datetime(*args, tzinfo=tz)

    sp = settlement_period(conn, anchor=local(2026, 1, 1))
    tariffs = {}
    for name, (fee, services) in TARIFFS.items():
        tariffs[name] = tariff(conn)
        if fee:
            onetime_service(conn, tariffs[name], str(fee))
        for method, cost, per_day, condition, limit in services:
            periodic_service(conn, tariffs[name], sp, str(cost), method.value, per_day=per_day,
                             condition=condition, condition_sum=str(limit))
    change = local(2026, 3, 15, 13, 37)
    # Suspended on request for up to SUSPENSION_MAX_DAYS: resumed early on 20 June; for 5
    # days from 5 September, ended by the tick at its planned end.
    first_suspension = (local(2026, 6, 10, 10), local(2026, 6, 20, 18))
    second_start = local(2026, 9, 5, 12)
    second_suspension = (second_start, suspension.add_local_days(second_start, 5, tz))
    spans = {
        "at_start": [("start", local(2026, 1, 10, 9, 15), None)],
        "at_end": [("end", local(2026, 1, 20, 18), None)],
        "gradual": [("gradual", local(2026, 1, 1), None)],
        "changer": [("start", local(2026, 1, 1), change), ("gradual", change, None)],
        "suspender": [("gradual", local(2026, 2, 1), first_suspension[0]),
                      ("gradual", first_suspension[1], second_suspension[0]),
                      ("gradual", second_suspension[1], None)],
        "debtor": [("no_debtors", local(2026, 1, 5, 12), None)],
    }
    conn.execute(
        "UPDATE tariffs SET allow_self_suspension = true, suspension_cost = %s,"
        " suspension_max_days = %s WHERE id = %s",
        (SUSPENSION_FEE, SUSPENSION_MAX_DAYS, tariffs["gradual"]))
    ids = {}
    for who, who_spans in spans.items():
        ids[who] = account(conn)
        assigned = None
        for name, start, _ in who_spans:  # the change at 13:37 is scheduled in advance
            if name != assigned:  # the suspender's parts are one assignment
                assign(conn, ids[who], tariffs[name], start)
                assigned = name
    model = Model(tz, SettlementPeriod(PeriodUnit.MONTH, anchor=local(2026, 1, 1)), spans)
    payments = {
        local(2026, 1, 1): {"at_start": 5000, "at_end": 5000, "gradual": 5000, "changer": 5000,
                            "suspender": 5000, "debtor": 20},
        local(2026, 4, 2, 10): {"debtor": 100},
    }
    # Requests made at a moment, before that moment's tick.
    requests = {
        first_suspension[0]: lambda at: suspension.suspend_account(
            conn, ids["suspender"], at=at, tz=tz),
        first_suspension[1]: lambda at: suspension.resume_account(
            conn, ids["suspender"], at=at),
        second_suspension[0]: lambda at: suspension.suspend_account(
            conn, ids["suspender"], at=at, tz=tz, days=5),
    }

    moments = [local(2026, 1, 1) + timedelta(days=n, minutes=30) for n in range(DAYS)]
    chosen = {change, *first_suspension, *second_suspension, local(2026, 1, 31, 23, 59, 59),
              local(2026, 3, 29, 3), local(2026, 10, 25, 2, 30)}
    moments += chosen
    after = None
    for at in sorted(set(moments)):
        for when, amounts in list(payments.items()):
            if when <= at:
                for who, amount in amounts.items():
                    pay(conn, ids[who], str(amount), when)
                    model.pay(who, Decimal(amount))
                del payments[when]
        if at in requests:
            done = requests.pop(at)(at)
            if done.ended_at is None:
                model.charge_once("suspender", SUSPENSION_FEE)
        for run in range(3):
            summary = charge(conn, at, tz)
            if run:
                assert summary.entries == 0, (at, run)
        model.tick(after, at)
        for who, account_id in ids.items():
            want = (model.entries.get(who, 0), model.balance[who])
            got_count, got_sum = charged(conn, account_id)
            paid = conn.execute(
                "SELECT coalesce(sum(amount), 0) FROM ledger_entries"
                " WHERE account_id = %s AND kind = 'payment'", (account_id,)).fetchone()[0]
            assert (got_count, paid + got_sum) == want, (tz_name, at, who)
        status = conn.execute("SELECT status FROM accounts WHERE id = %s",
                              (ids["suspender"],)).fetchone()[0]
        running = any(start <= at < end for start, end in (first_suspension, second_suspension))
        assert status == ("suspended" if running else "active"), (tz_name, at)
        after = at
    assert requests == {}
    ends = conn.execute(
        "SELECT ended_at, end_reason FROM account_suspensions WHERE account_id = %s"
        " ORDER BY starts_at", (ids["suspender"],)).fetchall()
    assert ends == [(first_suspension[1], "requested"), (second_suspension[1], "max_days")]
    assert ledger.verify(conn) == []
    return {who: charged(conn, account_id) for who, account_id in ids.items()}


ZONES = ["UTC", "Europe/Moscow", "Europe/Berlin"]


@pytest.mark.parametrize("tz_name", ZONES)
def test_a_year_of_ticks_charges_exactly_the_model(conn, tz_name, zone_results):
    got = zone_results[tz_name] = walk(conn, tz_name)
    # Spot figures a person can check by hand (the model agrees after every tick anyway):
    # one GRADUAL charge a day for 400 days; the fee, a partial January and 13 months.
    assert got["gradual"][0] == DAYS
    assert got["at_start"][0] == 1 + 14


def test_the_same_walk_costs_the_same_in_every_timezone(zone_results, fresh_conn):
    utc, moscow, berlin = walked_in_every_zone(zone_results, ZONES, walk, fresh_conn)
    assert utc == moscow == berlin
