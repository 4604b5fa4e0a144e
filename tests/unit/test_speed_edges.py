"""The last moment a tariff's speed may have changed (billing.speeds.last_speed_change,
billing.time_windows.last_edge): the live sessions' time-of-day speed leaves every session
that began after it alone, so it must never be earlier than the real last change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from billing.speeds import SpeedOverride, TariffSpeeds, last_speed_change, speed_for
from billing.time_windows import Repeat, TimeNode, last_edge

# The day, night and weekend tariff the speed tests already describe.
from tests.unit.test_speeds import (
    DAY,
    MOSCOW,
    NIGHT,
    TARIFF,
    WEEKEND,
    _msk,
)

BERLIN = ZoneInfo("Europe/Berlin")


def test_the_last_edge_is_the_latest_start_or_end_of_an_override():
    assert last_speed_change(TARIFF, _msk(2026, 11, 24, 12), MOSCOW) == _msk(2026, 11, 24, 7)
    assert last_speed_change(TARIFF, _msk(2026, 11, 24, 23), MOSCOW) == _msk(2026, 11, 24, 23)
    assert last_speed_change(TARIFF, _msk(2026, 11, 25, 3), MOSCOW) == _msk(2026, 11, 24, 23)
    # Saturday noon: the weekend began at midnight, the night ended at 07:00
    assert last_speed_change(TARIFF, _msk(2026, 11, 28, 12), MOSCOW) == _msk(2026, 11, 28, 7)
    # Monday noon: the weekend ended at 00:00, inside a night that ended at 07:00
    assert last_speed_change(TARIFF, _msk(2026, 11, 30, 12), MOSCOW) == _msk(2026, 11, 30, 7)
    assert last_speed_change(TARIFF, _msk(2026, 11, 30, 12), MOSCOW).tzinfo is UTC


def test_no_edge_before_the_first_override_nor_without_overrides():
    assert last_speed_change(TARIFF, _msk(2025, 12, 31), MOSCOW) is None
    assert last_speed_change(TariffSpeeds(default=DAY), _msk(2026, 11, 24), MOSCOW) is None


def test_a_once_only_node_and_a_node_covering_its_whole_step():
    once = TimeNode(_msk(2026, 3, 1, 10), timedelta(hours=2), Repeat.NEVER)
    assert last_edge([once], _msk(2026, 3, 1, 11), MOSCOW) == _msk(2026, 3, 1, 10)
    assert last_edge([once], _msk(2026, 3, 5), MOSCOW) == _msk(2026, 3, 1, 12)
    always = TimeNode(_msk(2026, 3, 1, 10), timedelta(days=1), Repeat.DAY)
    assert last_edge([always], _msk(2026, 6, 1), MOSCOW) == _msk(2026, 3, 1, 10)


_moments = st.datetimes(min_value=datetime(2026, 1, 2), max_value=datetime(2027, 12, 30),
                        timezones=st.just(UTC))


@settings(max_examples=200, deadline=None)
@given(now=_moments, back=st.integers(min_value=0, max_value=10**6),
       zone=st.sampled_from([MOSCOW, BERLIN]))
def test_the_speed_in_force_has_not_changed_since_the_last_edge(now, back, zone):
    nodes = (TimeNode(datetime(2026, 1, 1, 23, tzinfo=zone), timedelta(hours=8), Repeat.DAY),
             TimeNode(datetime(2026, 11, 21, tzinfo=zone), timedelta(days=2), Repeat.WEEK))
    speeds = TariffSpeeds(default=DAY, overrides=(SpeedOverride(WEEKEND, (nodes[1],)),
                                                  SpeedOverride(NIGHT, (nodes[0],))))
    edge = last_speed_change(speeds, now, zone)
    assert edge is not None and edge <= now
    moment = max(edge, now - timedelta(seconds=back))
    assert speed_for(speeds, moment, zone) == speed_for(speeds, now, zone)
