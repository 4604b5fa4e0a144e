"""The day's balance alerts as one lazy batch: the pass writes the batch and its
accounts (an array in its row), no message; the sender's ``materialize`` makes them into
messages a chunk at a time — once each, with the account's fields of that moment, past
opt-outs made since, never for a cancelled batch, never before the batch is due."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg

from billing.notifications import batches, events, optouts
from tests.integration.notification_helpers import messages, move, sms_settings, subscriber

TZ = ZoneInfo("Europe/Moscow")
NOON = datetime(2026, 12, 1, 12, 0, tzinfo=TZ)


def _batch(conn) -> dict:
    cur = conn.execute("SELECT id, template_code, state, total, queued, skipped, request_key"
                       " FROM message_batches")
    rows = cur.fetchall()
    assert len(rows) == 1, rows
    return dict(zip([c.name for c in cur.description], rows[0], strict=True))


def _waiting(conn) -> list[int]:
    """The accounts of the batches not made into messages yet."""
    return sorted(a for (ids,) in conn.execute(
        "SELECT waiting[made + 1 :] FROM message_batches") for a in ids)


def test_the_pass_writes_one_batch_and_its_recipients_made_in_chunks(conn, tmp_path):
    settings = sms_settings(tmp_path)
    below = [subscriber(conn, "-5.00") for _ in range(3)]
    subscriber(conn, "5.00")
    result = events.balance_alerts(conn, NOON, settings)
    assert (result.selected, result.queued) == (3, 3)
    batch = _batch(conn)
    assert batch | {"id": None} == {
        "id": None, "template_code": "low_balance", "state": "queued", "total": 3,
        "queued": 3, "skipped": 0, "request_key": "low_balance:2026-12-01"}
    assert _waiting(conn) == below and messages(conn) == []

    move(conn, below[0], "-1.50")  # the text says the balance when it is made
    assert batches.materialize(conn, NOON, 2, settings) == 2
    assert _waiting(conn) == below[2:]
    assert batches.materialize(conn, NOON, 10, settings) == 1
    assert batches.materialize(conn, NOON, 10, settings) == 0
    made = messages(conn, "low_balance")
    assert [(m[0], m[1]) for m in made] == [
        (acc, f"batch:{batch['id']}:{acc}") for acc in sorted(below)]
    assert "-6,50 руб." in made[0][3] and "-5,00 руб." in made[1][3]
    assert conn.execute("SELECT DISTINCT batch_id FROM messages").fetchall() == [
        (batch["id"],)]


def test_a_second_pass_of_the_day_adds_the_new_fallers_to_the_same_batch(conn, tmp_path):
    settings = sms_settings(tmp_path)
    first = subscriber(conn, "-1.00")
    events.balance_alerts(conn, NOON, settings)
    batches.materialize(conn, NOON, 10, settings)
    later = subscriber(conn, "-1.00")
    evening = NOON + timedelta(hours=6)
    assert events.balance_alerts(conn, evening, settings).queued == 1
    assert _waiting(conn) == [later]
    assert batches.materialize(conn, evening, 10, settings) == 1
    assert [m[0] for m in messages(conn)] == sorted([first, later])
    assert _batch(conn)["total"] == 2


def test_an_opt_out_after_the_pass_is_kept_when_the_batch_is_made(conn, tmp_path):
    settings = sms_settings(tmp_path)
    kept, quiet = subscriber(conn, "-1.00"), subscriber(conn, "-1.00")
    events.balance_alerts(conn, NOON, settings)
    optouts.set_opted_out(conn, quiet, True)
    assert batches.materialize(conn, NOON, 10, settings) == 2
    assert [m[0] for m in messages(conn)] == [kept]
    batch = _batch(conn)
    assert (batch["total"], batch["queued"], batch["skipped"]) == (2, 1, 1)
    assert _waiting(conn) == []


def test_a_cancelled_batch_makes_nothing_and_a_batch_not_due_waits(conn, tmp_path):
    settings = sms_settings(tmp_path, SENDSMS_QUIET_HOURS="22:00-09:00")
    late = NOON.replace(hour=23)
    subscriber(conn, "-1.00")
    subscriber(conn, "-2.00")
    events.balance_alerts(conn, late, settings)
    assert batches.materialize(conn, late + timedelta(hours=9), 10, settings) == 0  # 08:00
    batch_id = _batch(conn)["id"]
    assert batches.cancel(conn, batch_id) == 2  # both waiting recipients
    assert batches.materialize(conn, late + timedelta(days=1), 10, settings) == 0
    assert _waiting(conn) == [] and messages(conn) == []


def test_a_batch_whose_template_is_gone_waits_and_the_others_go_on(conn, tmp_path, caplog):
    settings = sms_settings(tmp_path)
    waiting = subscriber(conn, "-1.00")
    events.balance_alerts(conn, NOON, settings)
    conn.execute("DELETE FROM message_templates WHERE code = 'low_balance'")
    assert batches.materialize(conn, NOON, 10, settings) == 0
    assert _waiting(conn) == [waiting]
    assert "no sms template 'low_balance'" in caplog.text


def test_two_senders_make_each_recipient_once(conn, db, tmp_path):
    settings = sms_settings(tmp_path, SENDSMS_BALANCE_MAX_TIMES=5)
    below = [subscriber(conn, "-1.00") for _ in range(120)]
    events.balance_alerts(conn, NOON, settings)
    start = threading.Barrier(2)
    taken = []

    def sender() -> None:
        with psycopg.connect(db, autocommit=True) as own:
            start.wait()
            while made := batches.materialize(own, NOON, 7, settings):
                taken.append(made)

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(taken) == len(below)
    assert sorted(m[0] for m in messages(conn)) == sorted(below)
    assert _waiting(conn) == []
