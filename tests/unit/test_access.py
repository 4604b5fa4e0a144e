"""The RADIUS access decision: every reason, the precedence, overrides, guest pool, window."""

import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.access import (
    AccessFacts,
    Decision,
    Reason,
    RequestAccess,
    count_live_sessions,
    decide,
    normalize_mac,
    request_access,
    tariff_access,
)
from billing.time_windows import Repeat, TimeNode

MOSCOW = ZoneInfo("Europe/Moscow")
NOON = datetime(2026, 11, 24, 12, tzinfo=MOSCOW)

# Everything fine: an active, paid-up PPPoE subscriber on an active tariff.
GOOD = AccessFacts(now=NOON, tz=MOSCOW, balance=Decimal("100.00"), request_nas_id=1)


def facts(**changes) -> AccessFacts:
    return dataclasses.replace(GOOD, **changes)


def test_a_good_subscriber_is_accepted_without_a_timeout():
    assert decide(GOOD) == Decision(accepted=True, reason=Reason.OK)


# One change per reason: each of these alone makes the decision fail with that reason.
FAILURES = {
    Reason.UNKNOWN_LOGIN: {"subaccount_found": False},
    Reason.ACCOUNT_SUSPENDED: {"account_status": "suspended"},
    Reason.ACCOUNT_DISABLED: {"account_status": "inactive_charged"},
    Reason.TARIFF_INACTIVE: {"tariff_active": False},
    Reason.WRONG_ACCESS_TYPE: {"request_access": RequestAccess.HOTSPOT},
    Reason.CHAP_NOT_ENABLED: {"chap_requested": True, "chap_available": False},
    Reason.WRONG_NAS: {"bound_nas_id": 2},
    Reason.MAC_MISMATCH: {
        "bind_to_mac": True,
        "mac_address": "aa:bb:cc:dd:ee:ff",
        "calling_station_id": "AA-BB-CC-DD-EE-00",
    },
    Reason.IP_MISMATCH: {"bind_to_ip": True, "ip_address": "10.0.0.5", "framed_ip": "10.0.0.6"},
    Reason.OUTSIDE_ACCESS_WINDOW: {
        "access_window": (
            TimeNode(datetime(2026, 1, 1, 1, tzinfo=MOSCOW), timedelta(hours=2), Repeat.DAY),
        )
    },
    Reason.BLOCKED_BY_LIMIT: {"blocked_by_limit": True},
    Reason.BLOCKED_BY_BALANCE: {"blocked_by_balance": True},
    Reason.BALANCE_NEGATIVE: {"balance": Decimal("-0.01")},
    Reason.BALANCE_ZERO: {"balance": Decimal("0.00")},
    Reason.SIMULTANEOUS_USE: {"live_sessions": 1},
    Reason.POOL_EXHAUSTED: {"pool_has_free_address": False},
}
PRECEDENCE = list(FAILURES)  # the module docstring's order


@pytest.mark.parametrize("reason", PRECEDENCE)
def test_each_reason_alone(reason):
    decision = decide(facts(**FAILURES[reason]))
    assert decision == Decision(accepted=False, reason=reason)


def test_every_reason_code_is_reachable():
    outside = {Reason.OK, Reason.WRONG_PASSWORD, Reason.DB_UNAVAILABLE, Reason.DEGRADED,
               Reason.BAD_REQUEST, Reason.INTERNAL_ERROR}  # the adapter's, never from facts
    assert set(Reason) == set(FAILURES) | outside
    assert Decision.reject(Reason.WRONG_PASSWORD) == Decision(False, Reason.WRONG_PASSWORD)
    assert Decision.reject("db_unavailable") == Decision(False, Reason.DB_UNAVAILABLE)


def test_inactive_uncharged_is_disabled_too_and_no_tariff_is_inactive():
    assert decide(facts(account_status="inactive_uncharged")).reason is Reason.ACCOUNT_DISABLED
    assert decide(facts(tariff_access_type=None)).reason is Reason.TARIFF_INACTIVE


@pytest.mark.parametrize(("index", "winner"), list(enumerate(PRECEDENCE)))
def test_the_earliest_failing_check_wins(index, winner):
    changes = {}
    for reason in PRECEDENCE[index:]:
        changes.update(FAILURES[reason])
    # BALANCE_ZERO and BALANCE_NEGATIVE both set "balance": keep the winner's value.
    changes.update(FAILURES[winner])
    assert decide(facts(**changes)).reason is winner


@given(st.sets(st.sampled_from(PRECEDENCE), min_size=1))
def test_any_combination_fails_with_the_first_in_precedence(reasons):
    changes = {}
    for reason in sorted(reasons, key=PRECEDENCE.index, reverse=True):
        changes.update(FAILURES[reason])
    winner = min(reasons, key=PRECEDENCE.index)
    assert decide(facts(**changes)).reason is winner


# ---------------------------------------------------------------------------------------
# Balance rules and overrides


@pytest.mark.parametrize(
    ("balance", "credit", "at_zero", "negative", "expected"),
    [
        ("0.01", "0", False, False, Reason.OK),
        ("0", "0", False, False, Reason.BALANCE_ZERO),
        ("0", "0", True, False, Reason.OK),
        ("0", "0", False, True, Reason.OK),  # allow_negative implies zero
        ("-50", "50", False, False, Reason.BALANCE_ZERO),  # the credit counts
        ("-50", "50.01", False, False, Reason.OK),
        ("-0.01", "0", False, False, Reason.BALANCE_NEGATIVE),
        ("-0.01", "0", True, False, Reason.BALANCE_NEGATIVE),  # at-zero does not admit minus
        ("-0.01", "0", False, True, Reason.OK),
        ("-1000", "10", True, True, Reason.OK),
    ],
)
def test_balance_plus_credit_and_its_overrides(balance, credit, at_zero, negative, expected):
    decision = decide(
        facts(
            balance=Decimal(balance),
            credit=Decimal(credit),
            allow_at_zero=at_zero,
            allow_negative=negative,
        )
    )
    assert decision.reason is expected
    assert decision.accepted is (expected is Reason.OK)


def test_allow_when_blocked_lifts_both_blocks_but_not_the_balance_rules():
    blocked = {"blocked_by_balance": True, "blocked_by_limit": True}
    assert decide(facts(**blocked, allow_when_blocked=True)).reason is Reason.OK
    assert (
        decide(facts(**blocked, allow_when_blocked=True, balance=Decimal(0))).reason
        is Reason.BALANCE_ZERO
    )
    lenient = {"allow_at_zero": True, "allow_negative": True}
    assert decide(facts(blocked_by_balance=True, **lenient)).reason is Reason.BLOCKED_BY_BALANCE


# ---------------------------------------------------------------------------------------
# Guest pool for debtors


@pytest.mark.parametrize(
    "reason", [Reason.BLOCKED_BY_BALANCE, Reason.BALANCE_NEGATIVE, Reason.BALANCE_ZERO]
)
def test_a_debtor_is_accepted_into_the_guest_pool_with_the_money_reason(reason):
    decision = decide(facts(**FAILURES[reason], guest_pool_id=7))
    assert decision == Decision(accepted=True, reason=reason, guest=True)


def test_guest_pool_is_not_for_limit_blocks_nor_non_money_reasons():
    assert decide(facts(blocked_by_limit=True, guest_pool_id=7)) == Decision(
        False, Reason.BLOCKED_BY_LIMIT
    )
    debtor = {"balance": Decimal(-5), "guest_pool_id": 7}
    assert decide(facts(**debtor, account_status="suspended")).reason is Reason.ACCOUNT_SUSPENDED
    assert decide(facts(**debtor, bound_nas_id=9)).reason is Reason.WRONG_NAS


def test_a_guest_needs_a_free_guest_address_and_a_free_session_slot():
    debtor = {"balance": Decimal(-5), "guest_pool_id": 7}
    # The subscriber's own pool being full does not matter to a guest...
    assert decide(facts(**debtor, pool_has_free_address=False)).guest
    # ...the guest pool being full does.
    assert decide(facts(**debtor, guest_pool_has_free_address=False)) == Decision(
        False, Reason.POOL_EXHAUSTED
    )
    assert decide(facts(**debtor, live_sessions=1)) == Decision(False, Reason.SIMULTANEOUS_USE)


# ---------------------------------------------------------------------------------------
# Access window (now explicit) and Session-Timeout

# Nights 22:00-07:00 Moscow time, every day: the window crosses midnight.
NIGHTS = (TimeNode(datetime(2026, 1, 1, 22, tzinfo=MOSCOW), timedelta(hours=9), Repeat.DAY),)


def _msk(*args):
    return datetime(*args, tzinfo=MOSCOW)


@pytest.mark.parametrize(
    ("now", "timeout"),
    [
        (_msk(2026, 11, 24, 22, 0), 9 * 3600),
        (_msk(2026, 11, 24, 23, 30), 7 * 3600 + 1800),
        (_msk(2026, 11, 25, 0, 0), 7 * 3600),  # after midnight, still the same night
        (_msk(2026, 11, 25, 6, 59, 59), 1),
        (_msk(2026, 11, 25, 6, 59, 59, 500_000), 1),  # a fraction rounds up, never to 0
    ],
)
def test_inside_a_window_crossing_midnight_the_timeout_is_its_end(now, timeout):
    decision = decide(facts(now=now, access_window=NIGHTS))
    assert decision == Decision(accepted=True, reason=Reason.OK, session_timeout=timeout)
    # The same instant given in UTC decides the same.
    assert decide(facts(now=now.astimezone(UTC), access_window=NIGHTS)) == decision


@pytest.mark.parametrize(
    "now", [_msk(2026, 11, 25, 7, 0), _msk(2026, 11, 24, 12), _msk(2026, 11, 24, 21, 59, 59)]
)
def test_outside_the_window_is_rejected(now):
    assert decide(facts(now=now, access_window=NIGHTS)) == Decision(
        False, Reason.OUTSIDE_ACCESS_WINDOW
    )


def test_a_window_that_never_closes_gives_no_timeout():
    always = (TimeNode(datetime(2026, 1, 1, tzinfo=MOSCOW), timedelta(days=1), Repeat.DAY),)
    assert decide(facts(access_window=always)).session_timeout is None


def test_a_guest_inside_the_window_also_gets_the_window_timeout():
    decision = decide(
        facts(now=_msk(2026, 11, 25, 6), access_window=NIGHTS, balance=Decimal(0), guest_pool_id=3)
    )
    assert decision == Decision(True, Reason.BALANCE_ZERO, guest=True, session_timeout=3600)


# ---------------------------------------------------------------------------------------
# Simultaneous use counts live sessions only


def test_only_sessions_heard_from_recently_count():
    now = datetime(2026, 11, 24, 12, tzinfo=UTC)
    last_updates = [
        now - timedelta(minutes=1),  # live
        now - timedelta(minutes=15),  # exactly 3 interims of 300 s: still live
        now - timedelta(minutes=15, seconds=1),  # stale: the sweep will close it
        now - timedelta(days=2),  # stale
    ]
    assert count_live_sessions(last_updates, now, interim_interval=300) == 2
    live = count_live_sessions(last_updates, now, interim_interval=300)
    assert decide(facts(live_sessions=live, simultaneous_use=2)).reason is Reason.SIMULTANEOUS_USE
    assert decide(facts(live_sessions=live, simultaneous_use=3)).reason is Reason.OK
    stale_only = count_live_sessions(last_updates[2:], now, interim_interval=300)
    assert decide(facts(live_sessions=stale_only)).reason is Reason.OK


# ---------------------------------------------------------------------------------------
# Bindings and the request's kind


def test_mac_binding_accepts_any_spelling_and_rejects_a_missing_mac():
    bound = {"bind_to_mac": True, "mac_address": "aa:bb:cc:dd:ee:ff"}
    for spelling in ("AA:BB:CC:DD:EE:FF", "aa-bb-cc-dd-ee-ff", "aabb.ccdd.eeff"):
        assert decide(facts(**bound, calling_station_id=spelling)).accepted, spelling
    for other in (None, "", "192.0.2.1", "aa:bb:cc:dd:ee"):
        assert decide(facts(**bound, calling_station_id=other)).reason is Reason.MAC_MISMATCH
    # Not bound: any Calling-Station-Id will do.
    assert decide(facts(mac_address="aa:bb:cc:dd:ee:ff", calling_station_id="x")).accepted


def test_ip_binding_compares_addresses_not_strings():
    bound = {"bind_to_ip": True, "ip_address": "10.0.0.5"}
    assert decide(facts(**bound, framed_ip="10.0.0.5")).accepted
    assert decide(facts(**bound, framed_ip=" 10.0.0.5")).accepted
    assert decide(facts(**bound, framed_ip="garbage")).reason is Reason.IP_MISMATCH
    # PPP requests carry no Framed-IP-Address: the static address goes into the reply.
    assert decide(facts(**bound, framed_ip=None)).accepted


def test_wrong_nas_only_when_bound():
    assert decide(facts(bound_nas_id=1, request_nas_id=1)).accepted
    assert decide(facts(bound_nas_id=1, request_nas_id=None)).reason is Reason.WRONG_NAS
    assert decide(facts(bound_nas_id=None, request_nas_id=5)).accepted


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        (
            {"service_type": "Framed-User", "framed_protocol": "PPP", "nas_port_type": "Ethernet"},
            RequestAccess.PPP,
        ),
        (
            {"service_type": "Framed-User", "framed_protocol": "PPP", "nas_port_type": "Virtual"},
            RequestAccess.PPP,
        ),
        ({"service_type": "Login-User", "nas_port_type": "Ethernet"}, RequestAccess.HOTSPOT),
        ({"nas_port_type": "Wireless-802.11"}, RequestAccess.HOTSPOT),
        ({"service_type": "Framed-User", "nas_port_type": "Ethernet"}, RequestAccess.DHCP_IPOE),
        ({"service_type": "Outbound-User"}, RequestAccess.DHCP_IPOE),
        ({}, RequestAccess.DHCP_IPOE),
    ],
)
def test_request_kind_from_attributes(attributes, expected):
    assert request_access(**attributes) is expected


@pytest.mark.parametrize(
    ("tariff", "kind", "ok"),
    [
        ("pppoe", RequestAccess.PPP, True),
        ("pptp", RequestAccess.PPP, True),
        ("l2tp", RequestAccess.PPP, True),
        ("hotspot", RequestAccess.HOTSPOT, True),
        ("dhcp", RequestAccess.DHCP_IPOE, True),
        ("ipoe", RequestAccess.DHCP_IPOE, True),
        ("pppoe", RequestAccess.DHCP_IPOE, False),
        ("hotspot", RequestAccess.PPP, False),
        ("ipoe", RequestAccess.HOTSPOT, False),
    ],
)
def test_tariff_access_type_against_request_kind(tariff, kind, ok):
    decision = decide(facts(tariff_access_type=tariff, request_access=kind))
    assert decision.accepted is ok
    assert decision.reason is (Reason.OK if ok else Reason.WRONG_ACCESS_TYPE)


def test_unknown_values_are_programming_errors():
    with pytest.raises(ValueError, match="unknown tariff access type"):
        tariff_access("dialup")
    with pytest.raises(ValueError):
        decide(facts(account_status="deleted"))


def test_normalize_mac():
    assert normalize_mac("AABB.CCDD.EEFF") == "aa:bb:cc:dd:ee:ff"
    assert normalize_mac("zz:bb:cc:dd:ee:ff") is None
    assert normalize_mac(None) is None
