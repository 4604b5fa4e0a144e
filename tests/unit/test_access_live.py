"""decide_live: the login rules for a session that is already up, never a second copy."""

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from billing.access import AccessFacts, AccountStatus, Decision, Reason, decide, decide_live
from billing.time_windows import Repeat, TimeNode

MOSCOW = ZoneInfo("Europe/Moscow")
NOON = datetime(2026, 11, 24, 12, tzinfo=MOSCOW)
NIGHTS = (TimeNode(datetime(2026, 1, 1, 22, tzinfo=MOSCOW), timedelta(hours=9), Repeat.DAY),)

amounts = st.decimals(min_value=-100, max_value=100, places=2)

account_facts = st.builds(
    AccessFacts,
    now=st.just(NOON),
    tz=st.just(MOSCOW),
    account_status=st.sampled_from(list(AccountStatus)),
    blocked_by_balance=st.booleans(),
    blocked_by_limit=st.booleans(),
    balance=amounts,
    credit=st.decimals(min_value=0, max_value=50, places=2),
    allow_at_zero=st.booleans(),
    allow_negative=st.booleans(),
    allow_when_blocked=st.booleans(),
    tariff_active=st.booleans(),
    tariff_access_type=st.sampled_from(["pppoe", None]),
    access_window=st.sampled_from([(), NIGHTS]),
    guest_pool_id=st.sampled_from([None, 7]),
)


@given(account_facts)
def test_live_sessions_get_the_login_decision(facts):
    """With the request's own checks passing (defaults: PPPoE, no bindings, no other
    session, free pools), login and live decisions are the same for every account."""
    assert decide_live(facts) == decide(facts)


@given(account_facts)
def test_the_enforcement_prefilter_only_skips_allowed_sessions(facts):
    """worker.live_sessions skips, in SQL, sessions of active, unblocked accounts with a
    positive total on an active tariff without a window: all of them must be allowed."""
    healthy = (
        facts.account_status == AccountStatus.ACTIVE
        and not facts.blocked_by_balance
        and not facts.blocked_by_limit
        and facts.balance + facts.credit > 0
        and facts.tariff_active
        and facts.tariff_access_type is not None
        and not facts.access_window
    )
    if healthy:
        assert decide_live(facts) == Decision(accepted=True, reason=Reason.OK)


def test_a_debtor_with_a_guest_pool_may_stay_only_as_a_guest():
    facts = AccessFacts(now=NOON, tz=MOSCOW, balance=Decimal("-1"), guest_pool_id=3,
                        live_sessions=1)
    assert decide_live(facts) == Decision(True, Reason.BALANCE_NEGATIVE, guest=True)


def test_a_live_session_does_not_count_against_itself():
    facts = AccessFacts(now=NOON, tz=MOSCOW, balance=Decimal("5"), live_sessions=1,
                        pool_has_free_address=False, bind_to_mac=True,
                        mac_address="aa:bb:cc:dd:ee:ff")
    assert decide_live(facts) == Decision(True, Reason.OK)
