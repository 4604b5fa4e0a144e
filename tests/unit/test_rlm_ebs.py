"""rlm_ebs without FreeRADIUS: attribute lists as rlm_python3 passes them, in and out."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from billing.credentials import CredentialCipher
from billing.enforcement import speed_state
from billing.speeds import Speed
from billing.traffic_limits import LimitSpeed, limited_speed
from rlm_ebs import core, hooks
from rlm_ebs.facts import parse_pairs, stored_facts
from rlm_ebs.request import VALUE_LIMIT, lists

TZ = ZoneInfo("Europe/Moscow")
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # 15:00 in Moscow
KEY = secrets.token_bytes(32)
FACTS = (
    "v=1;sid=7;st=active;bb=0;bl=0;bal=10.00;cr=0.00;az=0;an=0;aw=0;bnas=;bm=0;mac=;bi=0;"
    "ip=;su=1;live=0;ta=1;at=pppoe;chap=0;pool=main%3Bpool;gp=;gpool=;nas=1;"
    "vendor=mikrotik;aii=300"
)
REQUEST = (("User-Name", "alice"), ("User-Password", "pw"), ("NAS-IP-Address", "127.0.0.1"),
           ("Framed-Protocol", "PPP"))


def settings(**kw) -> core.Settings:
    return core.Settings(tz=TZ, cipher=CredentialCipher(KEY), clock=lambda: NOW, **kw)


def call(config=(("NT-Password", "AB" * 16), ("EBS-Facts", FACTS)), request=REQUEST,
         facts: str | None = None, extra=()):
    if facts is not None:
        config = (("EBS-Facts", facts),)
    p = {"request": request, "reply": (), "config": tuple(config) + tuple(extra),
         "session-state": (), "proxy-request": None, "proxy-reply": None}
    logged = []
    return core.authorize(p, settings(), logged.append), logged


def control(result) -> dict[str, str]:
    return dict(result[1]["config"])


def test_accept_replies_with_interim_pool_and_speed():
    (code, updates), _ = call(extra=(("EBS-Speed", "10M/20M"),))
    assert code == core.UPDATED
    assert updates["reply"] == (("Acct-Interim-Interval", "300"),
                                ("Mikrotik-Rate-Limit", "10M/20M"))
    # The address is leased in post-auth (rlm_sql) from the pool named here.
    assert updates["config"] == (("EBS-Reason", "ok"), ("EBS-Decision", "accept"),
                                 ("EBS-Subaccount", "7"), ("EBS-Lease-Pool", "main;pool"),
                                 ("EBS-Given", "speed:10M/20M"))
    # Real tuples, as rlm_python3 requires (lists are silently ignored).
    assert all(isinstance(v, tuple) for v in updates.values())


def test_access_window_gives_the_session_timeout_and_night_speed_applies():
    # A daily window 14:00-16:00 Moscow (11:00 UTC start); night speed 22:00-07:00.
    window = ("EBS-Access-Node", f"{int(datetime(2026, 1, 1, 11, 0, tzinfo=UTC).timestamp())}"
                                 ",7200,DAY")
    night = f"{int(datetime(2026, 1, 1, 19, 0, tzinfo=UTC).timestamp())},32400,DAY"
    day_only = f"{int(datetime(2026, 1, 1, 9, 0, tzinfo=UTC).timestamp())},14400,DAY"
    (code, updates), _ = call(extra=(window, ("EBS-Speed", "1M/2M"),
                                     ("EBS-Speed", f"50M/50M;{night}"),
                                     ("EBS-Speed", f"5M/5M;{day_only}")))
    assert code == core.UPDATED
    reply = dict(updates["reply"])
    assert reply["Session-Timeout"] == "3600"
    assert reply["Mikrotik-Rate-Limit"] == "5M/5M"


@pytest.mark.parametrize(("change", "reason"), [
    ("st=active", "st=suspended"), ("bal=10.00", "bal=-1.00"), ("ta=1", "ta=0"),
])
def test_rejects_carry_the_reason_in_control(change, reason):
    (code, updates), _ = call(facts=FACTS.replace(*[change, reason]))
    assert code == core.REJECT
    assert "reply" not in updates
    expected = {"st=suspended": "account_suspended", "bal=-1.00": "balance_negative",
                "ta=0": "tariff_inactive"}[reason]
    assert control((code, updates)) == {"EBS-Reason": expected, "EBS-Decision": "reject"}


def test_debtor_with_guest_pool_is_a_guest_without_speed():
    facts = FACTS.replace("bal=10.00", "bal=-1.00").replace("gp=;gpool=", "gp=3;gpool=guests")
    (code, updates), _ = call(facts=facts, extra=(("EBS-Speed", "10M/20M"),))
    assert code == core.UPDATED
    assert dict(updates["reply"]) == {"Acct-Interim-Interval": "300"}
    assert control((code, updates)) == {"EBS-Reason": "balance_negative", "EBS-Decision": "guest",
                                        "EBS-Subaccount": "7", "EBS-Lease-Pool": "guests",
                                        "EBS-Given": "guest"}


def test_unknown_login_when_rlm_sql_found_nothing():
    result, _ = call(config=())
    assert result[0] == core.REJECT and control(result)["EBS-Reason"] == "unknown_login"


def test_cleartext_only_for_chap_requests_on_chap_tariffs():
    sealed = CredentialCipher(KEY).seal("chap-secret", 7).hex()
    chap_facts = FACTS.replace("chap=0", "chap=1")
    chap_request = (("User-Name", "alice"), ("CHAP-Password", "0x" + "00" * 17),
                    ("Framed-Protocol", "PPP"))
    result, _ = call(facts=chap_facts, request=chap_request,
                     extra=(("EBS-Chap-Sealed", sealed),))
    assert control(result)["Cleartext-Password"] == "chap-secret"
    pap_result, _ = call(facts=chap_facts, extra=(("EBS-Chap-Sealed", sealed),))
    assert "Cleartext-Password" not in control(pap_result)
    off, _ = call(request=chap_request, extra=(("EBS-Chap-Sealed", sealed),))
    assert "Cleartext-Password" not in control(off)


def test_a_sealed_password_under_another_key_is_an_internal_error_not_a_crash():
    sealed = CredentialCipher(secrets.token_bytes(32)).seal("x", 7).hex()
    chap_request = (("User-Name", "alice"), ("CHAP-Password", "0x00"), ("Framed-Protocol", "PPP"))
    result, logged = call(facts=FACTS.replace("chap=0", "chap=1"), request=chap_request,
                          extra=(("EBS-Chap-Sealed", sealed),))
    assert result[0] == core.REJECT and control(result)["EBS-Reason"] == "internal_error"
    assert "Traceback" in logged[0]


@pytest.mark.parametrize("facts", [
    "v=2;sid=1", "v=1;sid=1;bal=lots", "v=1;garbage", "v=1;sid=x", "v=1;sid=1;bal=1;" + "x" * 2000,
])
def test_unreadable_facts_are_a_bad_request(facts):
    result, logged = call(facts=facts)
    assert result[0] == core.REJECT and control(result)["EBS-Reason"] == "bad_request"
    assert logged and "Traceback" not in logged[0]


def test_a_value_at_rlm_python3s_buffer_limit_is_refused():
    result, _ = call(extra=(("EBS-Speed", "1M/1M;" + "1,60,DAY;" * (VALUE_LIMIT // 9)),))
    assert control(result)["EBS-Reason"] == "bad_request"


def test_no_user_name_is_a_bad_request():
    result, _ = call(request=(("NAS-IP-Address", "127.0.0.1"),))
    assert control(result)["EBS-Reason"] == "bad_request"


def test_the_six_tuple_form_is_understood_too():
    six = (REQUEST, (), (("EBS-Facts", FACTS),), (), None, None)
    assert set(lists(six)) >= {"request", "config"}
    code, _ = core.authorize(six, settings(), print)
    assert code == core.UPDATED


def test_percent_encoding_round_trip():
    assert parse_pairs("a=x%3By%3Dz%25;b=") == {"a": "x;y=z%", "b": ""}
    facts = stored_facts({"EBS-Facts": [FACTS]})
    assert facts is not None and facts.pool == "main;pool" and facts.nas_vendor == "mikrotik"


def test_hooks_import_without_freeradius_and_refuse_before_instantiate():
    assert hooks.radiusd is None
    code, updates = hooks.authorize({"request": REQUEST})
    assert code == core.REJECT
    assert dict(updates["config"])["EBS-Reason"] == "internal_error"


def test_the_hook_package_loads_no_database_driver():
    """Zero round trips inside the python mutex: rlm_ebs cannot even reach a database."""
    import subprocess
    import sys

    code = ("import sys, rlm_ebs.hooks, rlm_ebs.core; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('psycopg', 'psycopg2', 'sqlalchemy', 'socket')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_a_mac_match_admits_dhcp_only_and_skips_the_password_check():
    facts = FACTS.replace("sid=7;", "sid=7;by=mac;").replace("at=pppoe", "at=dhcp")
    dhcp = (("User-Name", "02:00:00:00:00:01"), ("NAS-IP-Address", "127.0.0.1"))
    result, _ = call(facts=facts, request=dhcp)
    assert result[0] == core.UPDATED and control(result)["Auth-Type"] == "Accept"
    ppp = (("User-Name", "02:00:00:00:00:01"), ("User-Password", "x"),
           ("Framed-Protocol", "PPP"))
    result, _ = call(facts=facts.replace("at=dhcp", "at=pppoe"), request=ppp)
    assert result[0] == core.REJECT and control(result)["EBS-Reason"] == "unknown_login"


def test_chap_the_subscriber_cannot_use_has_its_own_reason():
    chap_request = (("User-Name", "alice"), ("CHAP-Password", "0x" + "00" * 17),
                    ("Framed-Protocol", "PPP"))
    sealed = CredentialCipher(KEY).seal("chap-secret", 7).hex()
    off, _ = call(request=chap_request, extra=(("EBS-Chap-Sealed", sealed),))
    assert off[0] == core.REJECT and control(off)["EBS-Reason"] == "chap_not_enabled"
    nothing_sealed, _ = call(facts=FACTS.replace("chap=0", "chap=1"), request=chap_request)
    assert control(nothing_sealed)["EBS-Reason"] == "chap_not_enabled"


def test_chap_sealed_for_another_subaccount_does_not_open():
    chap_request = (("User-Name", "alice"), ("CHAP-Password", "0x" + "00" * 17),
                    ("Framed-Protocol", "PPP"))
    sealed = CredentialCipher(KEY).seal("chap-secret", 8).hex()  # the facts say sid=7
    result, logged = call(facts=FACTS.replace("chap=0", "chap=1"), request=chap_request,
                          extra=(("EBS-Chap-Sealed", sealed),))
    assert result[0] == core.REJECT and control(result)["EBS-Reason"] == "internal_error"
    assert "Cleartext-Password" not in control(result)
    assert "another subaccount" in logged[0]


# --- traffic limits' speeds at login (EBS-Limit-Speed, billing.traffic_limits) ----------

def test_limit_speeds_are_read_from_control():
    facts = stored_facts({"EBS-Facts": [FACTS], "EBS-Speed": ["10M/20M"],
                          "EBS-Limit-Speed": ["absolute:1M/2M", "add:512k/1M", "percent:50.00"]})
    assert facts is not None and facts.limit_speeds == (
        LimitSpeed("absolute", speed=Speed(1_000_000, 2_000_000)),
        LimitSpeed("add", speed=Speed(512_000, 1_000_000)),
        LimitSpeed("percent", percent=Decimal("50.00")))
    assert stored_facts({"EBS-Facts": [FACTS]}).limit_speeds == ()


@pytest.mark.parametrize(("tariff", "limits", "given"), [
    ("10M/20M", ["absolute:1M/2M"], "1M/2M"),
    ("10M/20M", ["add:512k/1M"], "10512k/21M"),
    ("10M/20M 20M/40M 8M/16M 10/10", ["percent:25.00"], "2500k/5M 5M/10M 2M/4M 10/10"),
    # Several in force: the slowest wins, whichever mode gives it.
    ("10M/20M", ["absolute:8M/8M", "percent:25.00"], "2500k/5M"),
    ("10M/20M", ["absolute:1M/2M", "percent:25.00"], "1M/2M"),
    # An unlimited tariff: an absolute limit gives its speed, a percentage nothing.
    (None, ["absolute:1M/2M"], "1M/2M"),
    (None, ["percent:50.00"], None),
])
def test_a_login_gets_the_speed_its_limits_leave(tariff, limits, given):
    speeds = (("EBS-Speed", tariff),) if tariff else ()
    (code, updates), _ = call(extra=speeds + tuple(("EBS-Limit-Speed", v) for v in limits))
    assert code == core.UPDATED
    assert dict(updates["reply"]).get("Mikrotik-Rate-Limit") == given
    # The Class names the limited speed: what the enforcement holds due, so no CoA.
    assert control((code, updates))["EBS-Given"] == f"speed:{given or 'none'}"
    assert control((code, updates))["EBS-Given"] == speed_state(
        limited_speed(Speed.parse(tariff) if tariff else None, limits))


def test_a_guest_gets_no_limit_speed():
    facts = FACTS.replace("bal=10.00", "bal=-1.00").replace("gp=;gpool=", "gp=3;gpool=guests")
    (code, updates), _ = call(facts=facts, extra=(("EBS-Speed", "10M/20M"),
                                                  ("EBS-Limit-Speed", "absolute:1M/2M")))
    assert code == core.UPDATED
    assert "Mikrotik-Rate-Limit" not in dict(updates["reply"])
    assert control((code, updates))["EBS-Given"] == "guest"


@pytest.mark.parametrize("value", ["percent:lots", "percent:0", "fast:1M", "absolute:",
                                   "absolute:1M/nope", "add", "percent:1" + "0" * VALUE_LIMIT])
def test_a_malformed_limit_speed_is_a_bad_request(value):
    result, logged = call(extra=(("EBS-Speed", "10M/20M"), ("EBS-Limit-Speed", "absolute:1M/2M"),
                                 ("EBS-Limit-Speed", value)))
    assert result[0] == core.REJECT and control(result)["EBS-Reason"] == "bad_request"
    assert "reply" not in result[1]
    assert logged and "EBS-Limit-Speed" in logged[0] and "Traceback" not in logged[0]


DEGRADED = (("EBS-Degraded", "yes"),)


def test_degraded_accepts_on_the_remembered_facts_without_a_lease():
    (code, updates), logged = call(extra=(*DEGRADED, ("EBS-Speed", "10M/20M")))
    assert code == core.UPDATED
    # No pool: post-auth leases nothing while the database is away; the Class names the
    # subaccount and the address comes from the site's lease memory.
    assert updates["config"] == (("EBS-Reason", "degraded"), ("EBS-Decision", "accept"),
                                 ("EBS-Subaccount", "7"), ("EBS-Given", "speed:10M/20M"))
    assert dict(updates["reply"])["Mikrotik-Rate-Limit"] == "10M/20M"
    assert "database unavailable" in logged[0]


@pytest.mark.parametrize("change", ["bal=10.00:bal=-1.00", "st=active:st=suspended",
                                    "bl=0:bl=1"])
def test_degraded_rejects_what_the_facts_would_not_allow(change):
    facts = FACTS.replace(*change.split(":"))
    (code, updates), _ = call(config=(("NT-Password", "AB" * 16), ("EBS-Facts", facts)),
                              extra=DEGRADED)
    assert code == core.REJECT
    assert control((code, updates)) == {"EBS-Reason": "db_unavailable",
                                        "EBS-Decision": "reject"}


def test_degraded_gives_a_debtor_no_guest_pool():
    facts = FACTS.replace("bal=10.00", "bal=-1.00").replace("gp=;gpool=", "gp=3;gpool=guests")
    (code, updates), _ = call(config=(("EBS-Facts", facts),), extra=DEGRADED)
    assert code == core.REJECT and control((code, updates))["EBS-Reason"] == "db_unavailable"
