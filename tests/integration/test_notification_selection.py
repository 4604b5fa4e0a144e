"""A mailing's selection: each filter picks the accounts it says (the tariff in force now,
not a past or a future one; a NAS any subaccount uses; a balance range with both ends
inside), the count is the walk's length, the walk goes by id in chunks without repeats,
and the selection survives its trip through the batch's JSON (money exact). A batch is
one per form key; cancelling it cancels only the messages not handed to a provider."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from billing import ledger
from billing.notifications import batches, outbox
from billing.notifications.selection import Selection, chunk, count
from tests.integration.charging_helpers import assign, tariff

NOW = datetime.now(UTC)


def _account(conn, contract: str, balance: str = "0", status: str = "active") -> int:
    account_id = conn.execute(
        "INSERT INTO accounts (contract, login, status) VALUES (%s, %s, %s) RETURNING id",
        (contract, f"l{contract}", status)).fetchone()[0]
    if Decimal(balance):
        ledger.post(conn, ledger.Entry(account_id, "correction", Decimal(balance),
                                       f"b:{contract}", NOW - timedelta(days=30)))
    return account_id


def _walk(conn, selection: Selection, size: int = 2) -> list[int]:
    found, after = [], 0
    while ids := chunk(conn, selection, after, size):
        found += ids
        after = ids[-1]
    assert len(found) == len(set(found)) == count(conn, selection)
    return found


def test_each_filter_selects_what_it_says(conn):
    home, turbo = tariff(conn), tariff(conn)
    a = _account(conn, "1", balance="-50")
    b = _account(conn, "2", balance="10")
    c = _account(conn, "3", balance="0", status="suspended")
    d = _account(conn, "4", balance="100")
    assign(conn, a, home, NOW - timedelta(days=10))
    assign(conn, b, turbo, NOW - timedelta(days=10))
    assign(conn, b, home, NOW - timedelta(days=1))  # b is on home now
    assign(conn, c, home, NOW - timedelta(days=10))
    assign(conn, c, turbo, NOW + timedelta(days=1))  # c's change is still to come
    assign(conn, d, turbo, NOW - timedelta(days=10))
    nas = conn.execute("INSERT INTO nas (name, ip_address, secret) VALUES ('edge',"
                       " '10.0.0.1', 'a-long-enough-radius-secret') RETURNING id").fetchone()[0]
    for account, name in ((a, "sa"), (d, "sd"), (d, "sd2")):
        conn.execute("INSERT INTO subaccounts (account_id, username, nas_id)"
                     " VALUES (%s, %s, %s)", (account, name, nas))
    assert _walk(conn, Selection()) == [a, b, c, d]
    assert _walk(conn, Selection(tariff_id=home)) == [a, b, c]
    assert _walk(conn, Selection(tariff_id=turbo)) == [d]
    assert _walk(conn, Selection(status="suspended")) == [c]
    assert _walk(conn, Selection(balance_from=Decimal("0"), balance_to=Decimal("10"))) == [b, c]
    assert _walk(conn, Selection(balance_to=Decimal("-0.01"))) == [a]
    assert _walk(conn, Selection(nas_id=nas)) == [a, d]
    assert _walk(conn, Selection(account_ids=(d, b))) == [b, d]
    assert _walk(conn, Selection(tariff_id=home, balance_from=Decimal("0"))) == [b, c]
    kept = Selection(account_ids=(b,), tariff_id=home, status="active",
                     balance_from=Decimal("-0.10"), balance_to=Decimal("10.05"), nas_id=nas)
    assert Selection.from_json(kept.as_json()) == kept
    assert Selection.from_json(Selection().as_json()) == Selection()


def test_a_batch_is_one_per_form_key_and_cancels_only_what_is_not_sent(conn):
    a, b = _account(conn, "1"), _account(conn, "2")
    first = batches.create(conn, template_code="news", channel="sms", selection=Selection(),
                           due_at=NOW, request_key="form:1")
    assert first[1] is True
    assert batches.create(conn, template_code="news", channel="sms", selection=Selection(),
                          due_at=NOW, request_key="form:1") == (first[0], False)
    assert batches.get(conn, first[0]).total == 2
    ids = [outbox.enqueue(conn, outbox.Message(
        idempotency_key=f"batch:{first[0]}:{account}", channel="sms", backend="x",
        recipient="+79161234567", body="hi", due_at=NOW - timedelta(minutes=1),
        account_id=account, batch_id=first[0])) for account in (a, b)]
    claimed = outbox.claim(conn, NOW, limit=1)
    assert [c.id for c in claimed] == ids[:1]
    assert batches.cancel(conn, first[0]) == 1
    assert batches.cancel(conn, first[0]) is None
    states = conn.execute("SELECT state FROM messages ORDER BY id").fetchall()
    assert states == [("sending",), ("cancelled",)]
    assert batches.queue_next(conn, first[0]) is False  # a cancelled batch queues nothing
