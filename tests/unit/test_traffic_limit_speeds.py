"""The speed a traffic limit leaves: absolute, added, a percentage, the slowest of several;
and the enforcement's speed due under a limit."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from billing.enforcement import SessionFacts, plan, tariff_rules
from billing.speeds import Speed
from billing.traffic_limits import limited_speed, parse_limit_speed

MOSCOW = ZoneInfo("Europe/Moscow")
NOON = datetime(2026, 12, 1, 12, tzinfo=MOSCOW)

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
                                  "add", "percent:half", "percent:NaN", "percent:Infinity"])
def test_what_is_not_a_limit_speed_is_refused(text):
    with pytest.raises(ValueError):
        parse_limit_speed(text)


# --- the enforcement's speed due under a limit (billing.enforcement.plan) --------------

def _session(**changes) -> SessionFacts:
    """A healthy subscriber on tariff 2 (10M/20M) whose login gave 10M/20M."""
    base = SessionFacts(
        account_id=1, status="active", blocked_by_balance=False, blocked_by_limit=False,
        balance=Decimal("100"), credit=Decimal(0), allow_at_zero=False,
        allow_negative=False, allow_when_blocked=False, tariff_id=2, tariff_active=True,
        access_type="pppoe", guest_pool_id=None, in_guest_pool=False, vendor="mikrotik",
        started_at=NOON - timedelta(hours=1), given_state="speed:10M/20M")
    return replace(base, **changes)


def _plan(facts: SessionFacts):
    rules = tariff_rules([], [(2, 21, "10M/20M", None, None, None, None)])
    return plan(facts, NOON, MOSCOW, rules)


def test_a_limit_in_force_is_the_speed_due():
    wanted = _plan(_session(limit_speeds=("percent:50",)))
    assert (wanted.desired_state, wanted.reason) == ("speed:5M/10M", "traffic_limit")
    assert wanted.change == (("Mikrotik-Rate-Limit", "5M/10M"),)
    assert _plan(_session(limit_speeds=("percent:50",), given_state="speed:5M/10M")) is None


def test_a_login_that_did_not_say_is_sent_the_limited_speed_once():
    wanted = _plan(_session(limit_speeds=("absolute:1M/1M",), given_state=None))
    assert (wanted.desired_state, wanted.reason) == ("speed:1M/1M", "traffic_limit")
    answered = _session(limit_speeds=("absolute:1M/1M",), given_state=None,
                        last_desired="speed:1M/1M", last_kind="coa", last_result="ACK")
    assert _plan(answered) is None


def test_an_unreadable_limit_speed_sends_nothing():
    assert _plan(_session(limit_speeds=("absolute:very fast",))) is None


def test_lifted_the_tariffs_speed_comes_back():
    wanted = _plan(_session(given_state="speed:5M/10M"))
    assert (wanted.desired_state, wanted.reason) == ("speed:10M/20M", "speed_changed")
