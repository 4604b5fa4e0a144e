"""The Class an Access-Accept carries, as accounting reads it: "ebs:<subaccount>:<lease>"
with what the login gave after it (ebs_class_given), the older form without it, and
anything else; hex as rlm_sql expands octets, or plain."""

from __future__ import annotations

import pytest


def _hex(text: str) -> str:
    return "0x" + text.encode().hex()


@pytest.mark.parametrize(("klass", "ids", "given"), [
    ("ebs:7:12:speed:10M/20M", (7, 12), "speed:10M/20M"),
    ("ebs:7:0:speed:10M/20M 20M/40M 8M/16M 10/10 5 1M/2M", (7, None),
     "speed:10M/20M 20M/40M 8M/16M 10/10 5 1M/2M"),
    ("ebs:7:0:speed:none", (7, None), "speed:none"),
    ("ebs:7:3:guest", (7, 3), "guest"),
    ("ebs:7:3", (7, 3), None),  # a login that did not say
    ("ebs:7:3:", (7, 3), None),
    ("ebs:7:3:something else", (7, 3), None),
    ("not-ours", (None, None), None),
    (None, (None, None), None),
])
def test_the_class_names_subaccount_lease_and_what_was_given(conn, klass, ids, given):
    for value in ({klass, _hex(klass)} if klass else {None}):
        found = conn.execute("SELECT (ebs_class_ids(%s)).*, ebs_class_given(%s)",
                             (value, value)).fetchone()
        assert (found[0], found[1]) == ids and found[2] == given, value
