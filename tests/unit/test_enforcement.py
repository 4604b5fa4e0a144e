"""billing.enforcement: what a live session must become, decided without a database."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from billing.enforcement import (
    DISCONNECTED,
    GUEST,
    SPEED_CHANGED,
    TIME_OF_DAY_SPEED,
    Request,
    SessionFacts,
    TariffRules,
    Wanted,
    given_state,
    healthy,
    login_speed_states,
    plan,
    speed_edges,
    speed_state,
    speed_states,
    tariff_rules,
)
from billing.speeds import Speed

MOSCOW = ZoneInfo("Europe/Moscow")
NOON = datetime(2026, 12, 1, 12, tzinfo=MOSCOW)
NIGHT_START = datetime(2026, 1, 1, 23, tzinfo=MOSCOW)

# Tariff 1: 10M/20M by day, 50M/100M from 23:00 for 8 hours; tariff 2: 10M/20M always;
# tariff 3: a speed that does not parse; tariff 4: no speed rows (unlimited).
RULES = tariff_rules(
    [],
    [(1, 11, "10M/20M", None, None, None, None),
     (1, 12, "50M/100M", 7, NIGHT_START, timedelta(hours=8), "DAY"),
     (2, 21, "10M/20M", None, None, None, None),
     (3, 31, "fast please", None, None, None, None)],
)
DAY_STATE, NIGHT_STATE = "speed:10M/20M", "speed:50M/100M"
DAY_CHANGE = (("Mikrotik-Rate-Limit", "10M/20M"),)


def session(**changes) -> SessionFacts:
    """A healthy subscriber on tariff 2, on a normal address of a MikroTik, whose login
    gave 10M/20M and who was never sent anything."""
    base = SessionFacts(
        account_id=1, status="active", blocked_by_balance=False, blocked_by_limit=False,
        balance=Decimal("100"), credit=Decimal(0), allow_at_zero=False,
        allow_negative=False, allow_when_blocked=False, tariff_id=2, tariff_active=True,
        access_type="pppoe", guest_pool_id=None, in_guest_pool=False, vendor="mikrotik",
        started_at=NOON - timedelta(hours=1), given_state=DAY_STATE)
    return replace(base, **changes)


def decide(facts: SessionFacts, now: datetime = NOON) -> Wanted | None:
    return plan(facts, now, MOSCOW, RULES)


def test_rules_read_from_rows():
    assert RULES.speeds[3] is None
    assert RULES.speeds[2].default == Speed.parse("10M/20M")
    assert speed_states(RULES, NOON, MOSCOW) == {1: DAY_STATE, 2: DAY_STATE, 3: None}
    assert speed_states(RULES, NOON.replace(hour=23, minute=30), MOSCOW)[1] == NIGHT_STATE
    assert speed_edges(RULES, NOON, MOSCOW) == {1: datetime(2026, 12, 1, 4, tzinfo=UTC)}


def test_given_states():
    assert given_state(True, Speed.parse("1M")) == GUEST
    assert given_state(False, Speed.parse("1M/2M")) == "speed:1M/2M"
    assert given_state(False, None) == speed_state(None) == "speed:none"


def test_a_healthy_session_with_what_is_due_is_left_alone():
    assert decide(session()) is None
    assert decide(session(given_state=None)) is None  # unknown, no time-of-day speeds


def test_money_and_status_disconnect():
    for facts, reason in [
        (session(balance=Decimal("-5")), "balance_negative"),
        (session(balance=Decimal(0)), "balance_zero"),
        (session(blocked_by_balance=True), "blocked_by_balance"),
        (session(blocked_by_limit=True, guest_pool_id=9), "blocked_by_limit"),
        (session(status="suspended"), "account_suspended"),
        (session(status="inactive_charged"), "account_disabled"),
        (session(tariff_active=False), "tariff_inactive"),
        (session(tariff_id=None), "tariff_inactive"),
        (session(status=None), "unknown_login"),
    ]:
        assert decide(facts) == Wanted(DISCONNECTED, Request.DISCONNECT, reason), facts


def test_a_debtor_goes_to_the_guest_pool_and_a_guest_who_paid_comes_back():
    debtor = session(balance=Decimal("-5"), guest_pool_id=9)
    assert decide(debtor) == Wanted(GUEST, Request.DISCONNECT, "balance_negative")
    assert decide(replace(debtor, in_guest_pool=True)) is None
    assert decide(replace(debtor, given_state=GUEST)) is None
    # Paid: back through a re-authentication, whether the address or the login says guest.
    assert decide(session(in_guest_pool=True, guest_pool_id=9)) == Wanted(
        DAY_STATE, Request.DISCONNECT, "ok")
    assert decide(session(given_state=GUEST, guest_pool_id=9)) == Wanted(
        DAY_STATE, Request.DISCONNECT, "ok")


def test_a_session_given_another_speed_gets_the_one_due():
    # A tariff change, an edit of the tariff's speed: the login gave something else.
    assert decide(session(given_state="speed:1M/1M")) == Wanted(
        DAY_STATE, Request.COA, SPEED_CHANGED, DAY_CHANGE)
    # Night falls on the time-of-day tariff: the login's day speed is no longer due.
    night = decide(session(tariff_id=1), NOON.replace(hour=23, minute=30))
    assert night == Wanted(NIGHT_STATE, Request.COA, SPEED_CHANGED,
                           (("Mikrotik-Rate-Limit", "50M/100M"),))
    # accel-ppp gets its own rendering of the same speed.
    assert decide(session(given_state="speed:1M/1M", vendor="accel-ppp")).change == (
        ("Filter-Id", "20000/10000"),)


def test_nothing_to_send_for_what_a_coa_cannot_carry():
    assert decide(session(tariff_id=3, given_state="speed:1M/1M")) is None  # unreadable
    assert decide(session(tariff_id=4, given_state="speed:1M/1M")) is None  # unlimited
    assert decide(session(vendor="other", given_state="speed:1M/1M")) is None
    assert decide(session(vendor=None, given_state="speed:1M/1M")) is None


def test_an_answered_request_is_not_repeated_a_timeout_is():
    changed = session(given_state="speed:1M/1M", last_desired=DAY_STATE, last_kind="coa")
    assert decide(replace(changed, last_result="NAK")) is None
    assert decide(replace(changed, last_result="ACK")) is None
    assert decide(replace(changed, last_result="timeout")).desired_state == DAY_STATE


def test_after_a_refused_disconnect_the_speed_is_restored():
    refused = session(given_state=None, last_desired=DISCONNECTED, last_kind="disconnect",
                      last_result="NAK")
    assert decide(refused) == Wanted(DAY_STATE, Request.COA, "ok", DAY_CHANGE)
    assert decide(replace(refused, last_result="ACK")) is None  # gone: its Stop will come
    assert decide(replace(refused, nas_known=False)) is None


def test_an_unknown_login_speed_is_inferred_from_the_start():
    """Without a given state, a session on a time-of-day tariff is sent the speed in force
    when it differs from any its login may have rendered (LOGIN_SLACK before the start)."""
    night = NOON.replace(hour=23, minute=30)
    day_login = session(tariff_id=1, given_state=None, started_at=NOON)
    assert decide(day_login, night) == Wanted(NIGHT_STATE, Request.COA, TIME_OF_DAY_SPEED,
                                              (("Mikrotik-Rate-Limit", "50M/100M"),))
    night_login = replace(day_login, started_at=NOON.replace(hour=23, minute=5))
    assert decide(night_login, night) is None
    edge = replace(day_login, started_at=NOON.replace(hour=23, minute=0, second=20))
    assert login_speed_states(edge, MOSCOW, RULES) == {DAY_STATE, NIGHT_STATE}
    assert decide(edge, night).desired_state == NIGHT_STATE


amounts = st.decimals(min_value=-10, max_value=10, places=2)
sessions = st.builds(
    session,
    status=st.sampled_from(["active", "suspended", "inactive_charged", None]),
    blocked_by_balance=st.booleans(), blocked_by_limit=st.booleans(),
    balance=amounts, credit=st.decimals(min_value=0, max_value=5, places=2),
    allow_at_zero=st.booleans(), allow_negative=st.booleans(),
    allow_when_blocked=st.booleans(),
    tariff_id=st.sampled_from([1, 2, 3, 4, None]),
    guest_pool_id=st.sampled_from([None, 9]),
    vendor=st.sampled_from(["mikrotik", "cisco", "other"]),
    given_state=st.sampled_from([None, DAY_STATE, NIGHT_STATE, GUEST, "speed:none"]),
    started_at=st.sampled_from([NOON - timedelta(hours=20), NOON - timedelta(minutes=1)]),
)


@given(sessions)
def test_the_candidate_query_skips_only_sessions_left_alone(facts):
    """What worker.live_sessions skips in SQL: a healthy account on an active tariff
    without a window, a normal address, never sent anything, given what is due now (or
    given nothing said, on a tariff whose speed has not changed since the start)."""
    states = speed_states(RULES, NOON, MOSCOW)
    due = states.get(facts.tariff_id, "speed:none") if facts.tariff_id else None
    edge = speed_edges(RULES, NOON, MOSCOW).get(facts.tariff_id)
    skipped = (
        healthy(facts) and facts.tariff_id is not None and facts.tariff_active
        and not facts.in_guest_pool and facts.last_desired is None
        and (facts.given_state == due if facts.given_state is not None
             else edge is None or facts.started_at >= edge + timedelta(minutes=1))
    )
    if skipped:
        assert decide(facts) is None


def test_rules_default_to_nothing():
    assert TariffRules().speeds == {} and TariffRules().windows == {}
