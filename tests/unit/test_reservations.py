"""The node's reserved addresses without FreeRADIUS (rlm_ebs/reservations.py) and the
hook's use of them (rlm_ebs/core.py): which login takes one, when a refill is asked for,
what a refill's answer and a rejected login put back."""

from __future__ import annotations

import pytest

from billing.credentials import CredentialCipher
from rlm_ebs import core
from rlm_ebs.reservations import ASK_AGAIN, CLOSED_FOR, LOW_WATER, Reservations
from tests.unit.test_rlm_ebs import FACTS, KEY, NOW, REQUEST, TZ


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def held(count: int, first_id: int = 1000) -> str:
    return " ".join(f"{first_id + i} 10.0.0.{i + 1}" for i in range(count))


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def node(clock):
    return Reservations(node="bras-1/abc", clock=clock)


def test_a_node_name_with_a_slash_or_empty_is_refused():
    assert Reservations.for_node("bras-1").node.startswith("bras-1/")
    assert Reservations.for_node("bras-1").node != Reservations.for_node("bras-1").node
    for bad in ("", "a/b"):
        with pytest.raises(ValueError):
            Reservations.for_node(bad)


def test_addresses_go_out_in_the_order_they_came_once_each(node):
    assert node.absorb("main", held(3)) == 3
    assert [node.take("main") for _ in range(4)] == [
        (1000, "10.0.0.1"), (1001, "10.0.0.2"), (1002, "10.0.0.3"), None]
    assert node.take("other") is None


def test_a_refill_is_asked_once_until_it_lands_or_is_late(node, clock):
    assert node.wants_refill("main")
    assert not node.wants_refill("main")  # asked, not landed
    clock.now += ASK_AGAIN
    assert node.wants_refill("main")  # landed never: asked again
    node.absorb("main", held(LOW_WATER))
    assert not node.wants_refill("main")  # enough held
    node.take("main")
    assert node.wants_refill("main")  # below the low water


def test_a_failed_refill_adds_nothing_and_may_be_asked_again(node, clock):
    node.wants_refill("main")
    for answer in ("", "ERROR", "12 10.0.0.1 13", "1 10.0.0.1;2 10.0.0.2"):
        assert node.absorb("main", answer) == 0
    assert node.take("main") is None
    assert node.wants_refill("main")


@pytest.mark.parametrize("answer", ["pool_exhausted", "nas_pool"])
def test_a_full_pool_or_the_nas_pool_is_left_to_rlm_sql_for_a_while(node, clock, answer):
    node.wants_refill("main")
    node.absorb("main", answer)
    assert not node.wants_refill("main")
    clock.now += CLOSED_FOR
    assert node.wants_refill("main")


def test_an_address_given_back_goes_out_first(node):
    node.absorb("main", held(2))
    taken = node.take("main")
    node.give_back("main", *taken)
    assert node.take("main") == taken


def authorize(reservations, facts=FACTS):
    settings = core.Settings(tz=TZ, cipher=CredentialCipher(KEY), clock=lambda: NOW,
                             reservations=reservations)
    p = {"request": REQUEST, "reply": (), "session-state": (), "proxy-request": None,
         "proxy-reply": None, "config": (("NT-Password", "AB" * 16), ("EBS-Facts", facts))}
    code, updates = core.authorize(p, settings, lambda _: None)
    return code, dict(updates["config"]), dict(updates.get("reply", ()))


def test_the_hook_takes_a_held_address_and_keeps_the_pool_for_a_give_back(node):
    node.absorb("main;pool", held(40))
    code, control, _ = authorize(node)
    assert code == core.UPDATED
    assert (control["EBS-Lease"], control["EBS-Lease-Reserved"]) == ("1000 10.0.0.1", "1000")
    assert control["EBS-Lease-Pool"] == "main;pool"
    assert "EBS-Reserve" not in control  # 39 still held


def test_with_none_held_the_login_leases_through_rlm_sql_and_asks_for_more(node):
    _, control, _ = authorize(node)
    assert "EBS-Lease" not in control and control["EBS-Lease-Pool"] == "main;pool"
    assert (control["EBS-Reserve"], control["EBS-Reserve-Node"]) == ("main;pool", "bras-1/abc")


def test_a_subscriber_with_a_lease_row_keeps_rlm_sqls_lease(node):
    node.absorb("main;pool", held(40))
    _, control, _ = authorize(node, FACTS + ";stk=1")
    assert "EBS-Lease" not in control and control["EBS-Lease-Pool"] == "main;pool"
    assert node.take("main;pool") == (1000, "10.0.0.1")  # nothing was taken


def test_live_mode_never_touches_reservations():
    _, control, _ = authorize(None)
    assert not {"EBS-Lease", "EBS-Lease-Reserved", "EBS-Reserve"} & set(control)


def test_post_auth_takes_a_refill_and_gives_back_a_rejected_logins_address(node):
    assert core.post_auth_reservations(
        {"EBS-Reserve": ["main"], "EBS-Reserved": [held(2)]}, node) == 2
    taken = node.take("main")
    rejected = {"EBS-Decision": ["reject"], "EBS-Lease-Reserved": [str(taken[0])],
                "EBS-Lease": [f"{taken[0]} {taken[1]}"], "EBS-Lease-Pool": ["main"]}
    assert core.post_auth_reservations(rejected, node) == 1
    assert node.take("main") == taken
    # An accept keeps its address; a mismatched pair gives nothing back.
    accepted = dict(rejected, **{"EBS-Decision": ["accept"]})
    assert core.post_auth_reservations(accepted, node) == 0
    wrong = dict(rejected, **{"EBS-Lease-Reserved": ["999"]})
    assert core.post_auth_reservations(wrong, node) == 0
    assert core.post_auth_reservations(rejected, None) == 0
