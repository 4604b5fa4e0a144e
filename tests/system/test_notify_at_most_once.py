"""At most once, with the real parts: Celery workers on the test Redis send each due
message — queued ones, and the day's balance alerts made from their lazy batch on the
way — to the (fake) gateway exactly once when the task is delivered twice at once and
two workers run it; a sender killed while the gateway holds its call leaves the message
``sending``, and it becomes ``unknown`` — never sent again by itself."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from celery import Celery

from billing import settings as settings_mod
from billing.notifications import events, outbox
from stack.servers.base import wait_until
from tests.conftest import ebs_env
from tests.integration.notification_helpers import subscriber
from tests.integration.notify_helpers import SMSRU, queue, row, started_fakes
from tests.sms_guide import GUIDE_SMS_TEXT
from tests.system.celery_helpers import redis_env, worker
from worker.notify import sender

REDIS_DB = "7"  # apart from the queues other tests read
MESSAGES = 250  # more than two claims' worth (sender.BATCH is 100)
ALERTED = 150  # subscribers below the threshold: the balance alerts' batch


@pytest.fixture
def fakes():
    with started_fakes() as started:
        yield started


@pytest.fixture
def settings_file(tmp_path, fakes):
    path = tmp_path / "settings_local.py"
    path.write_text(GUIDE_SMS_TEXT + f"""
SENDSMS_BACKENDS_SETTINGS['sendsms.backends.smsru'].update(
    API_ID='{fakes.smsru.api_id}', URL='{fakes.smsru.base}')
SENDSMS_DEFAULT_BACKEND = 'sendsms.backends.smsru.SmsBackend'
""", encoding="utf-8")
    return path


@pytest.fixture
def env(db, settings_file, tmp_path):
    return {**os.environ, **ebs_env(db, settings_file), "EBS_STATE_DIR": str(tmp_path / "state"),
            "PYTHONPATH": str(settings_mod.PROJECT_ROOT)}


def _worker(name: str, env: dict, redis_server, tmp_path):
    return worker(name, {**env, **redis_env(redis_server, REDIS_DB)}, tmp_path)


def test_two_workers_and_a_twice_delivered_task_send_each_message_once(
        db, conn, fakes, env, redis_server, tmp_path):
    now = datetime.now(UTC) - timedelta(minutes=1)
    ids = [queue(conn, f"k{n}", SMSRU, recipient=f"+7916{n:07d}", due=now)
           for n in range(MESSAGES)]
    for n in range(ALERTED):
        subscriber(conn, "-1.00", phone=f"+7926{n:07d}")
    alerts = events.balance_alerts(conn, now, settings_mod.load(environ=env))
    assert (alerts.queued, conn.execute("SELECT count(*) FROM messages").fetchone()[0]) == (
        ALERTED, MESSAGES)
    fakes.smsru.mode, fakes.smsru.delay = "slow", 0.01  # calls overlap across workers
    workers = [_worker(f"notify-{n}", env, redis_server, tmp_path) for n in (1, 2)]
    try:
        url = redis_server.url.rsplit("/", 1)[0] + f"/{REDIS_DB}"
        client = Celery("notify-test", broker=url, backend=url, set_as_current=False)
        client.conf.update(task_serializer="json", accept_content=["json"],
                           result_serializer="json")
        # the same task four times at once: a redelivery twice over, on two workers
        results = [client.send_task("ebs.send_due_messages") for _ in range(4)]
        done = [result.get(timeout=180) for result in results]
    finally:
        for process in workers:
            process.stop()
    total = MESSAGES + ALERTED
    assert sum(d["sent"] for d in done) == total
    assert sum(d["made"] for d in done) == ALERTED
    assert sum(1 for d in done if d["claimed"]) >= 2, "the runs did not overlap"
    per_number = Counter(request.form()["to"] for request in fakes.smsru.sends())
    assert len(per_number) == total and set(per_number.values()) == {1}
    states = conn.execute("SELECT state, count(*) FROM messages GROUP BY state").fetchall()
    assert states == [("sent", total)]
    assert conn.execute("SELECT count(*) FROM message_attempts").fetchone()[0] == (
        len(ids) + ALERTED)
    assert conn.execute("SELECT waiting, made FROM message_batches").fetchall() == [([], 0)]


def test_a_sender_killed_mid_call_leaves_the_message_unknown_never_resent(
        db, conn, fakes, env, tmp_path):
    message = queue(conn, "k1", SMSRU, recipient="+79161234567",
                    due=datetime.now(UTC) - timedelta(minutes=1))
    fakes.smsru.mode, fakes.smsru.delay = "slow", 60.0  # the gateway holds the call
    process = subprocess.Popen([sys.executable, "-m", "cli.main", "sms", "send-due"],
                               cwd=settings_mod.PROJECT_ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: len(fakes.smsru.received) == 1, 60, "the gateway's call")
        process.send_signal(signal.SIGKILL)  # the crash: after the call, before the answer
    finally:
        process.kill()
        process.wait(timeout=30)
    with psycopg.connect(db, autocommit=True) as check:
        assert row(check, message)["state"] == "sending"
    fakes.smsru.mode = "ok"
    settings = settings_mod.load({**env})
    # still within the timeout: another run leaves it alone
    assert sender.send_due(conn, datetime.now(UTC), settings).claimed == 0
    later = datetime.now(UTC) + outbox.SENDING_TIMEOUT + timedelta(seconds=1)
    counts = sender.send_due(conn, later, settings)
    assert (counts.expired, counts.claimed) == (1, 0)
    got = row(conn, message)
    assert got["state"] == "unknown" and "may or may not have been sent" in got["error"]
    sender.send_due(conn, later + timedelta(days=1), settings)
    assert len(fakes.smsru.received) == 1  # the one call the killed sender made
    # an operator's decision sends it again, once
    assert outbox.requeue(conn, message, later)
    assert sender.send_due(conn, later, settings).sent == 1
    assert len(fakes.smsru.sends()) == 2
