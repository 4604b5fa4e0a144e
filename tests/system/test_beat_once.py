"""One beat however many are started: two ``celery beat`` processes on the test Redis, as
two hosts running workers would start them. The second waits for the lock while the first
runs the schedule (every task it sent is in the broker once, the second sent none); when
the first dies without a word (SIGKILL, its lock left to expire), the second takes over
and the schedule goes on."""

from __future__ import annotations

import os
import signal
import time
import uuid

import pytest
import redis

from billing import settings as settings_mod
from stack.servers.base import wait_until
from tests.conftest import ebs_env
from tests.system.celery_helpers import beat, log_text, queued, redis_env, sent

REDIS_DB = "8"  # apart from the queues other tests read
LOCK_SECONDS = 3  # the lock's life; renewed every second (BEAT_LOCK_SECONDS / 5, at least 1)
pytestmark = pytest.mark.slow


def test_a_beat_started_twice_runs_one_schedule_and_the_other_takes_over(
        db, redis_server, tmp_path):
    env = {**os.environ, **ebs_env(db), "EBS_STATE_DIR": str(tmp_path / "state"),
           "PYTHONPATH": str(settings_mod.PROJECT_ROOT), **redis_env(redis_server, REDIS_DB),
           "EBS_BEAT_LOCK_SECONDS": str(LOCK_SECONDS)}
    client = redis.Redis(host="127.0.0.1", port=redis_server.port, db=int(REDIS_DB),
                         password=redis_server.password)
    client.flushdb()
    first = beat(f"beat-a-{uuid.uuid4().hex[:6]}", env, tmp_path)
    second = None
    try:
        wait_until(lambda: "beat: Acquired lock" in log_text(first), 30.0, "the first beat's lock")
        second = beat(f"beat-b-{uuid.uuid4().hex[:6]}", env, tmp_path)
        # acct-drain is due every 10 s: the holder sends it twice in this while.
        wait_until(lambda: sent(first)["ebs.acct_drain"] >= 2, 30.0,
                   "two acct-drain ticks from the first beat")
        assert "Acquired lock" not in log_text(second) and not sent(second)
        assert queued(client) == sent(first)  # each tick once, from one beat

        os.kill(first.pid(), signal.SIGKILL)  # no goodbye: the lock expires by itself
        killed_at = time.monotonic()
        wait_until(lambda: "beat: Acquired lock" in log_text(second), 10 * LOCK_SECONDS,
                   "the second beat taking the lock over")
        took_over = time.monotonic() - killed_at
        assert took_over < 3 * LOCK_SECONDS, took_over
        wait_until(lambda: sent(second)["ebs.acct_drain"] >= 1, 30.0,
                   "the schedule going on from the second beat")
    finally:
        for process in (first, second):
            if process is not None:
                process.stop()
