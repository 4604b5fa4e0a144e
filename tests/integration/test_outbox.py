"""The outbox against a real PostgreSQL: queued once, claimed by one sender, and sent at
most once — a crash mid-send leaves an "unknown" message that nothing sends again."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import psycopg

from billing.notifications import outbox

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def message(key: str, due: datetime = T0, backend: str = "sms.ru") -> outbox.Message:
    return outbox.Message(idempotency_key=key, channel="sms", backend=backend,
                          recipient="+79161234567", body=f"text {key}", due_at=due)


def states(conn) -> dict[str, str]:
    return dict(conn.execute("SELECT idempotency_key, state FROM messages").fetchall())


def test_queueing_the_same_key_twice_is_one_message(conn):
    first = outbox.enqueue(conn, message("alert:1"))
    assert first is not None
    assert outbox.enqueue(conn, message("alert:1")) is None
    assert conn.execute("SELECT count(*) FROM messages").fetchone()[0] == 1


def test_only_due_messages_are_claimed_and_each_once(conn):
    for n in range(5):
        outbox.enqueue(conn, message(f"m{n}"))
    outbox.enqueue(conn, message("later", due=T0 + timedelta(hours=1)))
    claimed = outbox.claim(conn, T0, limit=3)
    assert [c.body for c in claimed] == ["text m0", "text m1", "text m2"]
    assert all(c.attempts == 1 for c in claimed)
    again = outbox.claim(conn, T0, limit=10)
    assert [c.body for c in again] == ["text m3", "text m4"]
    assert outbox.claim(conn, T0, limit=10) == []
    assert states(conn)["later"] == "queued"


def test_two_senders_at_once_never_claim_the_same_message(conn, db):
    for n in range(200):
        outbox.enqueue(conn, message(f"race{n}"))
    taken: list[list[int]] = [[], []]
    start = threading.Barrier(2)

    def sender(slot: int) -> None:
        with psycopg.connect(db, autocommit=True) as own:
            start.wait()
            while batch := outbox.claim(own, T0, limit=7):
                taken[slot].extend(c.id for c in batch)

    threads = [threading.Thread(target=sender, args=(slot,)) for slot in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not set(taken[0]) & set(taken[1])
    assert len(taken[0]) + len(taken[1]) == 200


def test_sent_records_the_providers_answer(conn):
    mid = outbox.enqueue(conn, message("pay:7"))
    outbox.claim(conn, T0)
    assert outbox.sent(conn, mid, T0, answer="100\n201-31\nbalance=5", provider_id="201-31",
                       parts=1)
    assert not outbox.sent(conn, mid, T0, answer="again")  # no longer sending
    row = conn.execute("SELECT state, provider_id, parts, sent_at FROM messages").fetchone()
    assert row == ("sent", "201-31", 1, T0)
    assert conn.execute("SELECT outcome, answer FROM message_attempts").fetchall() == [
        ("sent", "100\n201-31\nbalance=5")]


def test_a_clear_failure_is_retried_with_backoff_then_failed(conn):
    mid = outbox.enqueue(conn, message("retry"))
    now = T0
    outcomes = []
    for _ in range(outbox.MAX_ATTEMPTS):
        claimed = outbox.claim(conn, now)
        assert [c.id for c in claimed] == [mid]
        outcomes.append(outbox.retry(conn, mid, now, answer="HTTP 503", error="provider down"))
        due = conn.execute("SELECT due_at FROM messages WHERE id = %s", (mid,)).fetchone()[0]
        assert outbox.claim(conn, due - timedelta(seconds=1)) == [] or outcomes[-1] == "failed"
        now = due
    assert outcomes == ["queued"] * (outbox.MAX_ATTEMPTS - 1) + ["failed"]
    state, error = conn.execute("SELECT state, error FROM messages").fetchone()
    assert state == "failed" and "gave up after 5 attempts: provider down" in error
    assert conn.execute("SELECT count(*) FROM message_attempts").fetchone()[0] == 5


def test_a_refusal_fails_at_once(conn):
    mid = outbox.enqueue(conn, message("refused"))
    outbox.claim(conn, T0)
    assert outbox.failed(conn, mid, answer="202", error="wrong recipient")
    assert states(conn) == {"refused": "failed"}


def test_a_message_left_sending_by_a_crash_becomes_unknown_and_is_not_resent(conn):
    mid = outbox.enqueue(conn, message("crash"))
    outbox.claim(conn, T0)  # ... and the sender dies here
    assert outbox.expire_sending(conn, T0 + timedelta(minutes=5)) == 0
    assert outbox.expire_sending(conn, T0 + timedelta(minutes=11)) == 1
    assert states(conn) == {"crash": "unknown"}
    assert outbox.claim(conn, T0 + timedelta(days=1)) == []
    # An operator who checked with the provider decides to send it again.
    assert outbox.requeue(conn, mid, T0 + timedelta(days=1))
    assert [c.id for c in outbox.claim(conn, T0 + timedelta(days=1))] == [mid]


def test_delivery_status_moves_sent_to_delivered(conn):
    mid = outbox.enqueue(conn, message("dlr"))
    outbox.claim(conn, T0)
    outbox.sent(conn, mid, T0, answer="ok", provider_id="x1")
    outbox.delivery(conn, mid, status="103", delivered=True, answer="100\n103")
    assert conn.execute("SELECT state, provider_status FROM messages").fetchone() == (
        "delivered", "103")
