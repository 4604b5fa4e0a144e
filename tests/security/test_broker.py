"""The broker as an attacker on the host sees it: Redis answers no client without the
password, and a task posted to it is checked at the boundary (no charge tick ahead of
the clock, ids that are integers, no accounting drain of a directory of the caller's
choosing), by the task function and by a real worker alike."""

from __future__ import annotations

import sys
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import psycopg
import pytest
import redis
from celery import Celery

from billing import settings as settings_mod
from stack import secret_file
from stack.servers.base import free_port, wait_until
from stack.servers.process import ManagedProcess
from tests.conftest import ebs_env
from worker.arguments import TaskArgumentError

REDIS_DB = "6"  # apart from the queues other tests read
FAR = datetime.now(UTC) + timedelta(days=400)


def test_redis_refuses_a_client_without_the_password(redis_server):
    assert redis_server.password
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=redis_server.port).ping()
    with pytest.raises((redis.AuthenticationError, redis.ResponseError)):
        redis.Redis(port=redis_server.port, password="guessed").ping()
    assert redis.Redis.from_url(redis_server.url).ping()


def test_the_broker_url_carries_the_password_from_the_environment_or_the_file(tmp_path):
    settings = settings_mod.load({"EBS_STATE_DIR": str(tmp_path), "EBS_SETTINGS": ""})
    assert settings_mod.redis_url(settings) == "redis://127.0.0.1:56379/0"  # no file yet
    made = secret_file.ensure(settings_mod.redis_password_file(settings))
    assert (tmp_path / "secrets" / "redis.password").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "secrets").stat().st_mode & 0o777 == 0o700
    assert secret_file.ensure(settings_mod.redis_password_file(settings)) == made  # kept
    assert settings_mod.redis_url(settings) == f"redis://:{made}@127.0.0.1:56379/0"
    named = settings_mod.load({"EBS_STATE_DIR": str(tmp_path), "EBS_SETTINGS": "",
                               "EBS_REDIS_PASSWORD": "p/w@x"})
    assert settings_mod.redis_url(named) == "redis://:p%2Fw%40x@127.0.0.1:56379/0"


def test_the_local_stack_starts_redis_with_a_generated_password(tmp_path):
    from stack.local import Stack

    settings = settings_mod.load({"EBS_STATE_DIR": str(tmp_path / "state"), "EBS_SETTINGS": "",
                                  "EBS_REDIS_PORT": str(free_port())})
    stack = Stack(settings)
    stack._start_redis()
    try:
        password = (tmp_path / "state" / "secrets" / "redis.password").read_text().strip()
        assert len(password) >= 32 and stack.redis.password == password
        conf = tmp_path / "state" / "redis" / "redis.conf"
        assert conf.stat().st_mode & 0o777 == 0o600
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=settings.REDIS_PORT).ping()
        assert redis.Redis.from_url(settings_mod.redis_url(settings)).ping()
    finally:
        stack.redis.stop()


def _settings(skew: int = 120) -> SimpleNamespace:
    return SimpleNamespace(TASK_CLOCK_SKEW_SECONDS=skew, STATE_DIR="/nonexistent",
                           RADIUS_ACCT_SPOOL_DIR="")


def test_a_charge_tick_ahead_of_the_clock_is_refused_and_charges_nothing(env, conn):
    from worker.charging_tasks import charge_tick

    with pytest.raises(TaskArgumentError, match="in the future"):
        charge_tick.run(at=FAR.isoformat())
    with pytest.raises(TaskArgumentError, match="ISO 8601"):
        charge_tick.run(at=12345)
    assert conn.execute("SELECT count(*) FROM charge_runs").fetchone()[0] == 0
    # Within the clock skew, and any moment behind the clock, the tick runs.
    done = charge_tick.run(at=(datetime.now(UTC) + timedelta(seconds=30)).isoformat())
    assert done["entries"] == 0
    assert conn.execute("SELECT count(*) FROM charge_runs").fetchone()[0] == 1


def test_the_moment_rule_at_its_edge():
    from worker.arguments import moment

    now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    assert moment("2026-12-06T12:02:00+00:00", _settings(), now=now) == now.replace(minute=2)
    with pytest.raises(TaskArgumentError):
        moment("2026-12-06T12:02:01+00:00", _settings(), now=now)
    assert moment("2020-01-01T00:00:00", _settings(), now=now).tzinfo == UTC
    assert moment(None, _settings(), now=now) == now


def test_tasks_taking_ids_refuse_anything_but_integers(env):
    from worker.coa_tasks import change_speed, kick_session
    from worker.nas_tasks import nas_changed

    for bad in ("1; DROP TABLE nas", 1.5, True, [1], {"id": 1}):
        with pytest.raises(TaskArgumentError, match="nas_id"):
            nas_changed.run(nas_id=bad)
    for bad in (None, 7, "", "x" * 300, ["s"]):
        with pytest.raises(TaskArgumentError, match="session_id"):
            kick_session.run(bad)
        with pytest.raises(TaskArgumentError, match="session_id"):
            change_speed.run(bad)
    assert kick_session.run("no-such-session")["error"] == "no such open session"


def test_the_accounting_drain_reads_only_the_configured_spool(env, conn, tmp_path,
                                                              monkeypatch):
    from worker.acct_drain_tasks import acct_drain

    spool = tmp_path / "spool"
    spool.mkdir()
    monkeypatch.setenv("EBS_RADIUS_ACCT_SPOOL_DIR", str(spool))
    foreign = tmp_path / "elsewhere"
    foreign.mkdir()
    planted = foreign / "detail-20260101"
    planted.write_text("Mon Jan  1 00:00:00 2026\n\tAcct-Status-Type = Start\n\n")
    for other in (str(foreign), "/etc", str(spool / ".." / "elsewhere"), 5):
        with pytest.raises(TaskArgumentError, match="spool"):
            acct_drain.run(spool_dir=other)
    assert planted.exists()  # never read, never deleted
    assert acct_drain.run()["applied"] == 0  # the configured one, by default
    assert acct_drain.run(spool_dir=str(spool))["applied"] == 0  # or named


@pytest.fixture
def worker(db, redis_server, tmp_path):
    """A real Celery worker on the test Redis (with its password) and database."""
    env = {
        **ebs_env(db),
        "EBS_SETTINGS": "",
        "EBS_STATE_DIR": str(tmp_path / "state"),
        "EBS_REDIS_HOST": "127.0.0.1",
        "EBS_REDIS_PORT": str(redis_server.port),
        "EBS_REDIS_DB": REDIS_DB,
        "EBS_REDIS_PASSWORD": redis_server.password,
        "PYTHONPATH": str(settings_mod.PROJECT_ROOT),
    }
    process = ManagedProcess(
        "celery-worker",
        [sys.executable, "-m", "celery", "-A", "worker.app:celery", "worker",
         "--loglevel=INFO", "--concurrency=1", "--without-gossip", "--without-mingle",
         "-n", f"security-{uuid.uuid4().hex[:8]}@%h"],
        tmp_path / "run", tmp_path / "log", cwd=settings_mod.PROJECT_ROOT, env=env)
    process.start()
    url = redis_server.url.rsplit("/", 1)[0] + f"/{REDIS_DB}"
    client = Celery("security-test", broker=url, backend=url, set_as_current=False)
    client.conf.update(task_serializer="json", accept_content=["json"],
                       result_serializer="json")
    try:
        yield SimpleNamespace(client=client, log=process.log)
    finally:
        process.stop()


def test_a_far_future_tick_sent_through_the_broker_is_refused_by_the_worker(worker, db,
                                                                            redis_server):
    sent = worker.client.send_task("ebs.charge_tick", kwargs={"at": FAR.isoformat()})
    with pytest.raises(Exception) as refused:
        sent.get(timeout=120)
    assert "in the future" in str(refused.value)
    assert sent.state == "FAILURE"
    wait_until(lambda: "in the future" in worker.log.read_text(errors="replace"), 30,
               "the worker's log of the refusal", worker.log)
    with psycopg.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM charge_runs").fetchone()[0] == 0
    # The same worker still runs a tick at the clock: the refusal stopped nothing else.
    assert worker.client.send_task("ebs.charge_tick").get(timeout=120)["entries"] == 0
    # A client without the password gets no further than the connection.
    anonymous = redis.Redis(port=redis_server.port, db=int(REDIS_DB))
    with pytest.raises(redis.AuthenticationError):
        anonymous.lpush("celery", "{}")
