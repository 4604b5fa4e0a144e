"""The speed a traffic limit leaves: absolute, added, a percentage, the slowest of several."""

from __future__ import annotations

import pytest

from billing.speeds import Speed
from billing.traffic_limits import limited_speed, parse_limit_speed

TARIFF = Speed.parse("10M/20M 20M/40M 8M/16M 10/10 5 1M/2M")


def test_no_limit_leaves_the_speed_in_force():
    assert limited_speed(TARIFF, []) is TARIFF
    assert limited_speed(None, ()) is None


def test_absolute_replaces_even_an_unlimited_speed():
    assert limited_speed(TARIFF, ["absolute:1M/2M"]) == Speed.parse("1M/2M")
    assert limited_speed(None, ["absolute:1M/2M"]) == Speed.parse("1M/2M")


def test_added_goes_to_maximum_and_burst_rates():
    assert limited_speed(TARIFF, ["add:1M/1M"]).mikrotik() == (
        "11M/21M 21M/41M 8M/16M 10/10 5 1M/2M")
    assert limited_speed(None, ["add:1M/1M"]) is None


def test_percentage_scales_every_rate_and_keeps_times_and_priority():
    assert limited_speed(TARIFF, ["percent:50"]).mikrotik() == (
        "5M/10M 10M/20M 4M/8M 10/10 5 500k/1M")
    assert limited_speed(Speed.parse("3/3"), ["percent:10"]) == Speed(1, 1)
    assert limited_speed(None, ["percent:50"]) is None


def test_the_slowest_of_several_wins():
    assert limited_speed(TARIFF, ["percent:50", "absolute:2M/2M", "add:1M/1M"]) == (
        Speed.parse("2M/2M"))


@pytest.mark.parametrize("text", ["fast:1M", "percent:", "percent:0", "absolute:nope",
                                  "add"])
def test_what_is_not_a_limit_speed_is_refused(text):
    with pytest.raises(ValueError):
        parse_limit_speed(text)
