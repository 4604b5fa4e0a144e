"""ebs bench flow tells a lost flow from one counted twice, key by key: a step fails on a
loss, and reports an over-count (pmacct's pipe re-reading a buffer) without failing."""

from __future__ import annotations

from bench.flow import Landed, key_counts
from bench.flow_data import FLOW_BYTES


def landed(**flows: int) -> Landed:
    per_key = {(address, 1, "in"): n * FLOW_BYTES for address, n in flows.items()}
    return Landed(len(per_key), sum(per_key.values()), per_key)


def test_every_key_its_share():
    before = landed(a=10, b=10)
    after = landed(a=13, b=13, c=3)
    assert key_counts(before, after, 9, 3) == (0, 0)


def test_a_loss_and_a_double_are_both_seen_though_the_total_is_right():
    counts = key_counts(landed(), landed(a=3, b=2, c=4), 9, 3)
    assert (counts.short, counts.over) == (1, 1)


def test_a_partial_last_round_and_a_key_with_nothing():
    # 8 flows over 3 keys: each got 2 or 3; "c" got none at all
    counts = key_counts(landed(), landed(a=3, b=3), 8, 3)
    assert (counts.short, counts.over) == (2, 0)
    assert key_counts(landed(), landed(a=3, b=3, c=2), 8, 3) == (0, 0)


def test_a_double_in_a_partial_round_is_counted_by_the_total():
    # 8 flows over 3 keys: "c" was sent 2 and counted 3, which a key sent 3 may hold
    counts = key_counts(landed(), landed(a=3, b=3, c=3), 8, 3)
    assert (counts.short, counts.over) == (0, 1)
