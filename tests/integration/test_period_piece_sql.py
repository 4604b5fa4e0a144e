"""SQL ``ebs_period_piece``, which every partial charge, refund and package share asks,
is the twin of ``billing.charging.schedule.piece_amount`` on generated periods and
pieces, across DST days."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from billing.charging.schedule import day_bounds_of_period, piece_amount

ZONES = [ZoneInfo("UTC"), ZoneInfo("Europe/Moscow"), ZoneInfo("Europe/Berlin")]


@given(
    tz=st.sampled_from(ZONES),
    start=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31)),
    days=st.integers(min_value=1, max_value=40),
    cost=st.decimals(min_value=0, max_value=100_000, places=2),
    cuts=st.lists(st.floats(min_value=-0.1, max_value=1.1), min_size=2, max_size=2),
)
def test_sql_piece_is_the_twin_of_python(conn, tz, start, days, cost, cuts):
    begin = start.replace(tzinfo=tz).astimezone(UTC)
    end = (start + timedelta(days=days)).replace(tzinfo=tz).astimezone(UTC)
    bounds = day_bounds_of_period(begin, end, tz)
    a, b = sorted(begin + (end - begin) * cut for cut in cuts)
    sql = conn.execute("SELECT ebs_period_piece(%s, %s, %s, %s)",
                       (cost, a, b, list(bounds))).fetchone()[0]
    assert sql == piece_amount(Decimal(cost), a, b, bounds)
