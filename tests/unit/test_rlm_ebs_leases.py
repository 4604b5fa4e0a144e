"""rlm_ebs's part in leasing and custom replies, without FreeRADIUS: which pool it asks
post-auth to lease from, and which custom reply attributes an answer carries."""

from __future__ import annotations

import pytest

from rlm_ebs import core
from rlm_ebs.reply import custom_reply, parse
from tests.unit.test_rlm_ebs import FACTS, call, control

DEBTOR = FACTS.replace("bal=10.00", "bal=-1.00").replace("gp=;gpool=", "gp=3;gpool=guests")


def rows(*texts: str) -> tuple[tuple[str, str], ...]:
    return tuple(("EBS-Reply-Attr", t) for t in texts)


def test_static_address_is_replied_and_nothing_is_leased():
    result, _ = call(facts=FACTS.replace("ip=;", "ip=10.5.5.5;"))
    assert dict(result[1]["reply"])["Framed-IP-Address"] == "10.5.5.5"
    assert "EBS-Lease-Pool" not in control(result)
    assert control(result)["EBS-Subaccount"] == "7"


def test_a_guest_leases_from_the_guest_pool_even_with_a_static_address():
    result, _ = call(facts=DEBTOR.replace("ip=;", "ip=10.5.5.5;"))
    assert control(result)["EBS-Lease-Pool"] == "guests"
    assert "Framed-IP-Address" not in dict(result[1]["reply"])


def test_no_pool_no_lease():
    result, _ = call(facts=FACTS.replace("pool=main%3Bpool", "pool="))
    assert result[0] == core.UPDATED
    assert "EBS-Lease-Pool" not in control(result)


def test_a_reject_asks_for_no_lease():
    result, _ = call(facts=FACTS.replace("bal=10.00", "bal=-1.00"))
    assert result[0] == core.REJECT
    assert "EBS-Lease-Pool" not in control(result) and "EBS-Subaccount" not in control(result)


CUSTOM = rows(
    "accept;+=;Mikrotik-Address-List;paying",
    "guest;:=;Mikrotik-Address-List;debtors%3B%20redirect",
    "always;:=;Acct-Interim-Interval;600",
)


def test_custom_attributes_follow_ours_for_an_accept():
    (code, updates), _ = call(extra=CUSTOM)
    assert code == core.UPDATED
    reply = updates["reply"]
    assert reply[-2:] == (("Mikrotik-Address-List", "+=", "paying"),
                          ("Acct-Interim-Interval", ":=", "600"))
    assert ("Acct-Interim-Interval", "300") in reply  # ours first; ':=' replaces it


def test_custom_attributes_for_a_guest():
    (code, updates), _ = call(facts=DEBTOR, extra=CUSTOM)
    assert control((code, updates))["EBS-Decision"] == "guest"
    assert updates["reply"][-2:] == (("Mikrotik-Address-List", ":=", "debtors; redirect"),
                                     ("Acct-Interim-Interval", ":=", "600"))


def test_no_custom_attributes_on_a_reject():
    (code, updates), _ = call(facts=FACTS.replace("st=active", "st=suspended"), extra=CUSTOM)
    assert code == core.REJECT and "reply" not in updates


@pytest.mark.parametrize("bad", [
    "accept;+=;Bad Name;x",          # not an attribute name
    "sometimes;+=;Reply-Message;x",  # unknown condition
    "accept;-=;Reply-Message;x",     # operator not allowed in a reply
    "accept;+=;Reply-Message;",      # empty value
    "accept;+=;Reply-Message;a%0Ab",  # control character
    "accept;+=;Reply-Message;" + "x" * 254,
    "no separators",
])
def test_an_unreadable_row_is_logged_and_skipped_not_fatal(bad):
    logged: list[str] = []
    pairs = custom_reply([bad, "accept;+=;Reply-Message;hello"], guest=False, log=logged.append)
    assert pairs == [("Reply-Message", "+=", "hello")]
    assert len(logged) == 1 and "skipped" in logged[0]
    with pytest.raises(ValueError):
        parse(bad)


def test_quotes_and_backslashes_come_through_decoded():
    assert parse("always;=;Cisco-AVPair;ip:addr-pool%3D%22x%22%5C%27").value == (
        "ip:addr-pool=\"x\"\\'")
