"""Celery workers and beats as the system tests start them: real processes of
``worker.app``, on the test Redis, each with its log (read back to see what it did)."""

from __future__ import annotations

import json
import sys
import uuid
from collections import Counter

import redis

from billing import settings as settings_mod
from stack.servers.process import ManagedProcess

SENT = "Scheduler: Sending due task"


def redis_env(redis_server, redis_db: str) -> dict[str, str]:
    """The EBS_REDIS_* variables for the test Redis's database ``redis_db`` (a database
    of its own keeps a test's queues apart from the others')."""
    return {"EBS_REDIS_HOST": "127.0.0.1", "EBS_REDIS_PORT": str(redis_server.port),
            "EBS_REDIS_DB": redis_db, "EBS_REDIS_PASSWORD": redis_server.password}


def worker(name: str, env: dict, tmp_path, *, queues: str | None = None,
           concurrency: int = 2) -> ManagedProcess:
    """A started ``celery worker`` (``queues``: only those, else the default queue)."""
    argv = [sys.executable, "-m", "celery", "-A", "worker.app:celery", "worker",
            "--loglevel=INFO", f"--concurrency={concurrency}", "--without-gossip",
            "--without-mingle", "-n", f"{name}-{uuid.uuid4().hex[:8]}@%h"]
    if queues:
        argv += ["-Q", queues]
    process = ManagedProcess(name, argv, tmp_path / "run", tmp_path / "log",
                             cwd=settings_mod.PROJECT_ROOT, env=env)
    process.start()
    return process


def beat(name: str, env: dict, tmp_path) -> ManagedProcess:
    """A started ``celery beat`` (redbeat: it runs the schedule once it holds the lock)."""
    process = ManagedProcess(
        name, [sys.executable, "-m", "celery", "-A", "worker.app:celery", "beat",
               "--loglevel=INFO", "--schedule", str(tmp_path / f"{name}.schedule")],
        tmp_path / "run", tmp_path / "log", cwd=settings_mod.PROJECT_ROOT, env=env)
    process.start()
    return process


def log_text(process: ManagedProcess) -> str:
    return process.log.read_text(encoding="utf-8", errors="replace")


def sent(process: ManagedProcess) -> Counter:
    """The tasks a beat says it sent, by name ("… Sending due task acct-drain
    (ebs.acct_drain)")."""
    return Counter(line.rsplit("(", 1)[1].rstrip(")")
                   for line in log_text(process).splitlines() if SENT in line)


def queued(client: redis.Redis, queue: str = "celery") -> Counter:
    """The tasks waiting in a broker queue, by name (no worker takes them)."""
    return Counter(json.loads(raw)["headers"]["task"] for raw in client.lrange(queue, 0, -1))
