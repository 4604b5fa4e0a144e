"""The reject's Reply-Message through a real FreeRADIUS and radclient: a NAS marked to show
it (nas.reject_reply_message) hears the reason in the subscriber's words, in Russian by
default; a NAS not marked hears a bare Access-Reject, as before. The auth log keeps the
reason codes either way.

The server and helpers are those of test_radius_auth.py (one server for this module)."""

from __future__ import annotations

from contextlib import contextmanager

from billing.reject_messages import DEFAULT_TEXTS
from tests.system.test_radius_auth import (  # noqa: F401  (fixtures)
    auth_db,
    clock_file,
    dbc,
    logged,
    other_nas,
    pap,
    radius,
    subscriber,
    tariff,
)

MONEY_TEXT = DEFAULT_TEXTS["balance_negative"]["ru"]
CREDENTIALS_TEXT = DEFAULT_TEXTS["wrong_password"]["ru"]


@contextmanager
def marked(dbc, name: str = "local"):  # noqa: F811
    """The NAS shows rejects' Reply-Message while inside the block."""
    dbc.execute("UPDATE nas SET reject_reply_message = true WHERE name = %s", (name,))
    try:
        yield
    finally:
        dbc.execute("UPDATE nas SET reject_reply_message = false WHERE name = %s", (name,))


def test_a_nas_not_marked_hears_a_bare_reject(radius, dbc):  # noqa: F811
    debtor = subscriber(dbc, tariff(dbc), balance="-5")
    for reply in (pap(radius, debtor), pap(radius, "nobody-at-all")):
        assert reply.code == "Access-Reject", reply.output
        assert "Reply-Message" not in reply.attributes, reply.output
    assert logged(dbc, debtor) == [("balance_negative", False, False)]


def test_a_marked_nas_hears_the_reason_in_russian(radius, dbc):  # noqa: F811
    debtor = subscriber(dbc, tariff(dbc), balance="-5")
    good = subscriber(dbc, tariff(dbc))
    with marked(dbc):
        refused = pap(radius, debtor)
        wrong = pap(radius, good, "not-the-password")
        unknown = pap(radius, "nobody-there")
        accepted = pap(radius, good)
    assert refused.code == "Access-Reject", refused.output
    assert refused.attributes.get("Reply-Message") == MONEY_TEXT == \
        "Недостаточно средств на счёте, пополните баланс"
    # pap refused the password after rlm_ebs accepted: post-auth's reason is the one sent.
    assert wrong.code == "Access-Reject"
    assert wrong.attributes.get("Reply-Message") == CREDENTIALS_TEXT
    # An unknown login reads as a wrong password: the message names no existing login.
    assert unknown.code == "Access-Reject"
    assert unknown.attributes.get("Reply-Message") == CREDENTIALS_TEXT
    assert accepted.code == "Access-Accept", accepted.output
    assert "Reply-Message" not in accepted.attributes
    assert logged(dbc, debtor) == [("balance_negative", False, False)]
    assert logged(dbc, good) == [("wrong_password", False, False), ("ok", True, False)]
    assert logged(dbc, "nobody-there")[-1] == ("unknown_login", False, False)


def test_another_nas_marked_changes_nothing_for_this_one(radius, dbc):  # noqa: F811
    far = dbc.execute("SELECT name FROM nas WHERE id = %s", (other_nas(dbc),)).fetchone()["name"]
    debtor = subscriber(dbc, tariff(dbc), balance="-5")
    with marked(dbc, far):
        reply = pap(radius, debtor)
    assert reply.code == "Access-Reject"
    assert "Reply-Message" not in reply.attributes, reply.output
