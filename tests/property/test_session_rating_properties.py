"""However a session's interims come and however often the session rater runs, the
result is what one run after the Stop gives: the session's seconds rounded up to the
step once, each minute at the price in force then, prepaid minutes first, the octets
whole, and entries summing to the rounded cumulative totals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from billing.money import round_money
from flow.session_rater import rate_sessions
from tests.integration.charging_helpers import account, assign, tariff
from tests.integration.session_rating_helpers import acct, username
from tests.integration.traffic_helpers import (
    MB,
    charges,
    price,
    time_period,
    traffic_class,
    traffic_group,
)

START = datetime(2026, 3, 10, 21, 50, tzinfo=UTC)  # night (22:00-06:00) comes inside
DAY, NIGHT = Decimal("0.7"), Decimal("0.3")  # per minute
PER_MB = Decimal("1.3")
PREPAID_SECONDS = 150

# Interims: (seconds since the previous one, MiB more down, a run after it or not).
INTERIMS = st.lists(st.tuples(st.integers(1, 400), st.integers(0, 5), st.booleans()),
                    min_size=1, max_size=12)


def _expected_time(seconds: int, step: int) -> Decimal:
    """The session's cost by hand: its rounded seconds, one by one, prepaid first."""
    rounded = -(-seconds // step) * step
    price_seconds = Decimal(0)
    for k in range(PREPAID_SECONDS, rounded):
        moment = START + timedelta(seconds=k)
        price_seconds += NIGHT if moment.hour >= 22 or moment.hour < 6 else DAY
    return round_money(price_seconds / 60)


@settings(max_examples=20, deadline=None)
@given(interims=INTERIMS, step=st.sampled_from([1, 30, 60]))
def test_any_interim_and_run_schedule_charges_as_one_run(fresh_conn, interims, step):
    zone = ZoneInfo("UTC")
    with fresh_conn() as conn:
        plan = tariff(conn)
        group = traffic_group(conn, [traffic_class(conn)], "both")
        conn.execute("INSERT INTO tariff_accounting_traffic (tariff_id, group_id)"
                     " VALUES (%s, %s)", (plan, group))
        price(conn, plan, group, str(PER_MB))
        night = time_period(conn, [(datetime(2026, 1, 1, 22, 0, tzinfo=UTC),
                                    timedelta(hours=8), "DAY")])
        conn.execute("INSERT INTO tariff_time_prices (tariff_id, time_period_id,"
                     " price_per_minute) VALUES (%s, NULL, %s), (%s, %s, %s)",
                     (plan, DAY, plan, night, NIGHT))
        conn.execute("INSERT INTO tariff_time_service (tariff_id, step_seconds,"
                     " prepaid_minutes) VALUES (%s, %s, %s)",
                     (plan, step, Decimal(PREPAID_SECONDS) / 60))
        alice = account(conn)
        assign(conn, alice, plan, datetime(2026, 1, 1, tzinfo=UTC))
        user = username(conn, alice)

        acct(conn, "Start", "prop", user, START, 0)
        seconds, down = 0, 0
        for gap, more, run_after in interims:
            seconds, down = seconds + gap, down + more * MB
            acct(conn, "Interim-Update", "prop", user, START + timedelta(seconds=seconds),
                 seconds, out_octets=down)
            if run_after:
                rate_sessions(conn, START + timedelta(seconds=seconds + 1), zone)
        acct(conn, "Stop", "prop", user, START + timedelta(seconds=seconds), seconds,
             out_octets=down)
        rate_sessions(conn, START + timedelta(seconds=seconds + 1), zone)

        assert charges(conn, alice, "charge_time") == _expected_time(seconds, step)
        assert charges(conn, alice, "charge_traffic") == round_money(
            PER_MB * down / MB)
        used = conn.execute("SELECT coalesce(sum(used_seconds), 0) FROM time_usage"
                            ).fetchone()[0]
        assert used == -(-seconds // step) * step
