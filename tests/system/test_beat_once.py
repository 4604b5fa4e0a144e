"""One beat however many are started: two ``celery beat`` processes on the test Redis, as
two hosts running workers would start them. The second waits for the lock while the first
runs the schedule (every task it sent is in the broker once, the second sent none); when
the first dies without a word (SIGKILL, its lock left to expire), the second takes over
and the schedule goes on."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import uuid
from collections import Counter

import pytest
import redis

from billing import settings as settings_mod
from stack.servers.base import wait_until
from stack.servers.process import ManagedProcess
from tests.conftest import ebs_env

REDIS_DB = "8"  # apart from the queues other tests read
LOCK_SECONDS = 3  # the lock's life; renewed every second (BEAT_LOCK_SECONDS / 5, at least 1)
SENT = "Scheduler: Sending due task"
pytestmark = pytest.mark.slow


def _beat(name: str, env: dict, tmp_path) -> ManagedProcess:
    process = ManagedProcess(
        name, [sys.executable, "-m", "celery", "-A", "worker.app:celery", "beat",
               "--loglevel=INFO", "--schedule", str(tmp_path / f"{name}.schedule")],
        tmp_path / "run", tmp_path / "log", cwd=settings_mod.PROJECT_ROOT, env=env)
    process.start()
    return process


def _log(process: ManagedProcess) -> str:
    return process.log.read_text(encoding="utf-8", errors="replace")


def _sent(process: ManagedProcess) -> Counter:
    """The tasks a beat says it sent, by name ("… Sending due task acct-drain
    (ebs.acct_drain)")."""
    return Counter(line.rsplit("(", 1)[1].rstrip(")")
                   for line in _log(process).splitlines() if SENT in line)


def _queued(client: redis.Redis) -> Counter:
    """The tasks waiting in the broker's default queue, by name (no worker takes them)."""
    return Counter(json.loads(raw)["headers"]["task"] for raw in client.lrange("celery", 0, -1))


def test_a_beat_started_twice_runs_one_schedule_and_the_other_takes_over(
        db, redis_server, tmp_path):
    env = {**os.environ, **ebs_env(db), "EBS_STATE_DIR": str(tmp_path / "state"),
           "PYTHONPATH": str(settings_mod.PROJECT_ROOT), "EBS_REDIS_HOST": "127.0.0.1",
           "EBS_REDIS_PORT": str(redis_server.port), "EBS_REDIS_DB": REDIS_DB,
           "EBS_REDIS_PASSWORD": redis_server.password,
           "EBS_BEAT_LOCK_SECONDS": str(LOCK_SECONDS)}
    client = redis.Redis(host="127.0.0.1", port=redis_server.port, db=int(REDIS_DB),
                         password=redis_server.password)
    client.flushdb()
    first = _beat(f"beat-a-{uuid.uuid4().hex[:6]}", env, tmp_path)
    second = None
    try:
        wait_until(lambda: "beat: Acquired lock" in _log(first), 30.0, "the first beat's lock")
        second = _beat(f"beat-b-{uuid.uuid4().hex[:6]}", env, tmp_path)
        # acct-drain is due every 10 s: the holder sends it twice in this while.
        wait_until(lambda: _sent(first)["ebs.acct_drain"] >= 2, 30.0,
                   "two acct-drain ticks from the first beat")
        assert "Acquired lock" not in _log(second) and not _sent(second)
        assert _queued(client) == _sent(first)  # each tick once, from one beat

        os.kill(first.pid(), signal.SIGKILL)  # no goodbye: the lock expires by itself
        killed_at = time.monotonic()
        wait_until(lambda: "beat: Acquired lock" in _log(second), 10 * LOCK_SECONDS,
                   "the second beat taking the lock over")
        took_over = time.monotonic() - killed_at
        assert took_over < 3 * LOCK_SECONDS, took_over
        wait_until(lambda: _sent(second)["ebs.acct_drain"] >= 1, 30.0,
                   "the schedule going on from the second beat")
    finally:
        for process in (first, second):
            if process is not None:
                process.stop()
