"""When a block by traffic limits ends: only when every block limit in force has lifted,
and not known when one of them cannot say."""

from datetime import UTC, datetime
from decimal import Decimal

from billing.allowances import ActiveLimit, limit_lifts_at

SINCE = datetime(2026, 3, 1, tzinfo=UTC)
APRIL = datetime(2026, 4, 1, tzinfo=UTC)
NOON = datetime(2026, 3, 10, 12, tzinfo=UTC)


def _limit(action: str, until: datetime | None) -> ActiveLimit:
    return ActiveLimit(1, "internet", Decimal(10), action,
                       "percent:50" if action == "speed" else None, SINCE, until)


def test_the_latest_block_decides_and_speed_limits_do_not_count():
    limits = (_limit("block", NOON), _limit("block", APRIL), _limit("speed", None))
    assert limit_lifts_at(limits, "block") == APRIL
    assert limit_lifts_at(limits[:1], "block") == NOON


def test_no_block_or_an_unknown_end_says_nothing():
    assert limit_lifts_at((_limit("speed", APRIL),), "block") is None
    assert limit_lifts_at((_limit("block", APRIL), _limit("block", None)), "block") is None
