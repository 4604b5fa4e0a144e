"""However the collector's rows arrive (late, in any order) and however often the rater
runs, the result is what one run over all of them gives: the same bytes per group, the
same usage, and entries summing to the rounded cumulative cost."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from billing.money import round_money
from billing.traffic_pricing import BYTE_PRICE_FACTOR
from flow.rater import rate
from tests.integration.charging_helpers import account, assign, settlement_period, tariff
from tests.integration.traffic_helpers import (
    MB,
    flow,
    group_bytes,
    minute,
    prepaid,
    price,
    session,
    traffic_charges,
    traffic_class,
    traffic_group,
)

IP = "10.20.0.5"
PRICE = Decimal("1.7")
PREPAID_MB = 2

ROWS = st.lists(
    st.tuples(st.integers(0, 9),                       # bin
              st.sampled_from(["a", "b"]),             # class
              st.sampled_from(["in", "out"]),          # direction
              st.integers(1, 3 * MB),                  # bytes
              st.integers(0, 3)),                      # the run after which it arrives
    min_size=1, max_size=25)


@settings(max_examples=20)
@given(rows=ROWS)
def test_any_arrival_order_and_run_schedule_rates_as_one_run(fresh_conn, rows):
    with fresh_conn() as conn:
        a, b = traffic_class(conn), traffic_class(conn)
        total = traffic_group(conn, [a, b], "both", "sum")
        largest = traffic_group(conn, [a, b], "both", "max")
        plan = tariff(conn)
        period = settlement_period(conn, "MONTH", datetime(2026, 1, 1, tzinfo=UTC))
        conn.execute("UPDATE tariffs SET settlement_period_id = %s WHERE id = %s",
                     (period, plan))
        price(conn, plan, total, str(PRICE))
        prepaid(conn, plan, total, str(PREPAID_MB))
        alice = account(conn)
        assign(conn, alice, plan, datetime(2026, 1, 1, tzinfo=UTC))
        session(conn, alice, IP, datetime(2026, 1, 1, tzinfo=UTC))
        classes = {"a": a, "b": b}
        for step in range(4):
            for k, cls, direction, nbytes, arrives in rows:
                if arrives == step:
                    flow(conn, IP, classes[cls], direction, nbytes, minute(k))
            rate(conn, minute(10 + step), ZoneInfo("UTC"))

        sums: dict[tuple[int, str, str], int] = {}
        for k, cls, direction, nbytes, _ in rows:
            sums[k, cls, direction] = sums.get((k, cls, direction), 0) + nbytes
        expected_in = sum(v for (_, _, d), v in sums.items() if d == "in")
        expected_out = sum(v for (_, _, d), v in sums.items() if d == "out")
        assert group_bytes(conn, alice, total) == (expected_in, expected_out)
        largest_in = sum(max(sums.get((k, c, "in"), 0) for c in "ab") for k in range(10))
        largest_out = sum(max(sums.get((k, c, "out"), 0) for c in "ab") for k in range(10))
        assert group_bytes(conn, alice, largest) == (largest_in, largest_out)

        used = expected_in + expected_out
        cost = max(used - PREPAID_MB * MB, 0) * PRICE * BYTE_PRICE_FACTOR
        assert conn.execute("SELECT used_bytes, cost FROM traffic_usage"
                            " WHERE group_id = %s", (total,)).fetchone() == (used, cost)
        assert traffic_charges(conn, alice) == round_money(cost)
