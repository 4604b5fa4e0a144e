"""`ebs backup`, `ebs restore FILE` and `ebs upgrade` on a local stack of their own (real
PostgreSQL, Redis, FreeRADIUS, the accounting drain, Celery and the web app), with seeded
subscribers, months of history and accounting waiting in the spool."""

from __future__ import annotations

import hashlib
import re
import resource
import shutil
import signal
from pathlib import Path
from types import SimpleNamespace

import boto3
import psycopg
import pytest
from botocore.config import Config
from moto.server import ThreadedMotoServer

from billing import payments, schema
from billing import settings as settings_mod
from billing.release import code_version
from cli.release_fixture import release_fixtures
from cli.release_fixture import restore as load_fixture
from stack import acct_spool, archive
from stack import restore as restore_mod
from stack import upgrade as upgrade_mod
from stack.acct_follow import wait_drained
from stack.local import Stack
from stack.servers.base import free_port
from tests.acct_entries import counters, entry, spool_file
from tests.local_stack import ebs, stack_env

pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    base = tmp_path_factory.mktemp("backup-stack")
    (base / "settings_local.py").write_text("TIME_ZONE = 'Europe/Moscow'\nBACKUP_KEEP = 4\n")
    env = stack_env(base)
    started = ebs(env, "up", "--detach", timeout=300)
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        Stack(settings_mod.load(environ=env)).beat.stop()
        seeded = ebs(env, "seed", "--accounts", "300", "--history", "--months", "2",
                     timeout=600)
        assert seeded.returncode == 0, seeded.stdout + seeded.stderr
        settings = settings_mod.load(environ=env)
        yield SimpleNamespace(base=base, env=env, settings=settings,
                              conninfo=settings_mod.database_conninfo(settings))
    finally:
        ebs(env, "down")


def up(stack) -> None:
    """Every service but the beat: its charge ticks would move balances between a
    snapshot and the backup it is compared with."""
    started = ebs(stack.env, "up", "--detach", timeout=300)
    assert started.returncode == 0, started.stdout + started.stderr
    Stack(stack.settings).beat.stop()


def snapshot(stack) -> dict:
    """What a restore must bring back exactly."""
    with psycopg.connect(stack.conninfo) as conn:
        return {
            "balances": conn.execute("SELECT id, balance FROM accounts ORDER BY id").fetchall(),
            "entries": conn.execute("SELECT count(*), sum(amount) FROM ledger_entries"
                                    ).fetchone(),
            "closed": conn.execute("SELECT count(*), sum(input_octets), sum(output_octets)"
                                   " FROM sessions_history").fetchone(),
            "open": conn.execute("SELECT acct_session_id, input_octets FROM sessions_open"
                                 " ORDER BY 1").fetchall(),
        }


def pid(stack, name: str) -> int | None:
    path = stack.base / "var" / "run" / f"{name}.pid"
    return int(path.read_text()) if path.exists() else None


def running(stack) -> dict[str, bool]:
    return {name: alive for name, alive, _ in Stack(stack.settings).status()}


def backup_path(output: str) -> Path:
    return Path(re.search(r"backup (\S+\.tar) \(", output)[1])


def pay(stack, amount: str, unique_id: str) -> None:
    with psycopg.connect(stack.conninfo) as conn:
        account = conn.execute("SELECT min(id) FROM accounts").fetchone()[0]
        payments.post_payment(conn, account, amount, source="test", unique_id=unique_id)
        conn.commit()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_round_trip_brings_back_money_sessions_and_the_spooled_accounting(stack):
    up(stack)
    Stack(stack.settings).acct_drain.stop()  # traffic stays in the spool until the restore
    spool = acct_spool.spool_dir(stack.settings)
    spool_file(spool, "detail-backup-test", [
        entry("Start", "bk-1"),
        entry("Interim-Update", "bk-1", at=60, **counters(5000, 60)),
        entry("Start", "bk-2", at=5),
    ])
    before = snapshot(stack)
    worker, web = pid(stack, "celery-worker"), pid(stack, "web")

    made = ebs(stack.env, "backup", timeout=600)
    assert made.returncode == 0, made.stdout + made.stderr
    path = backup_path(made.stdout)
    assert path.parent == stack.base / "var" / "backups"
    manifest = archive.read_manifest(path)
    assert manifest.code_version == code_version()
    assert manifest.latest_migration == schema.available()[-1].version
    assert {p.name for p in manifest.parts} == {archive.DATABASE, archive.FILES,
                                                archive.SETTINGS}
    assert manifest.files == ["secrets", "acct-spool"]
    listed = ebs(stack.env, "backup", "--list")
    assert path.name in listed.stdout and f"schema {manifest.latest_migration}" in listed.stdout

    # After the backup: a payment, and the spool lost. The restore undoes both.
    pay(stack, "123.45", "after-backup")
    (spool / "detail-backup-test").unlink()
    assert snapshot(stack) != before

    restored = ebs(stack.env, "restore", str(path), timeout=900)
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert "the previous one is kept as ebs_before_restore_" in restored.stdout
    assert "stopping celery-worker" in restored.stdout
    assert snapshot(stack) == before
    verified = ebs(stack.env, "ledger", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    # The services were stopped and started again; the drain was not running, so it
    # stays as it was.
    assert pid(stack, "celery-worker") not in (None, worker)
    assert pid(stack, "web") not in (None, web)
    state = running(stack)
    assert state["celery-worker"] and state["web"] and state["freeradius"]
    assert not state["acct-drain"]
    # The spooled accounting came back, and the drain applies it once started.
    assert len(list(spool.glob("detail-restored-*"))) == 1
    up(stack)
    assert wait_drained(spool, 60)
    with psycopg.connect(stack.conninfo) as conn:
        opened = dict(conn.execute("SELECT acct_session_id, input_octets FROM sessions_open"
                                   " WHERE acct_session_id LIKE 'bk-%'").fetchall())
    assert opened == {"bk-1": 5000, "bk-2": 0}


@pytest.fixture(scope="module")
def archive_path(stack):
    up(stack)
    made = ebs(stack.env, "backup", "--label", "fixture", "--no-offsite", timeout=600)
    assert made.returncode == 0, made.stdout + made.stderr
    return backup_path(made.stdout)


def newer_than_the_code(source: Path, tmp_path: Path) -> Path:
    """The same parts under a manifest that names a migration of a later release."""
    manifest = archive.read_manifest(source)
    manifest.database["migrations"].append("209912310000")
    parts = {p.name: archive.extract_part(source, p.name, tmp_path / p.name)
             for p in manifest.parts}
    target = tmp_path / "newer.tar"
    archive.write(target, manifest, parts)
    return target


@pytest.mark.parametrize("damage", ["flipped byte", "truncated", "foreign", "newer"])
def test_a_bad_archive_is_refused_before_anything_stops(stack, archive_path, tmp_path,
                                                        damage):
    bad = tmp_path / "bad.tar"
    data = bytearray(archive_path.read_bytes())
    if damage == "flipped byte":
        data[len(data) // 2] ^= 0xFF
    elif damage == "truncated":
        data = data[: len(data) * 2 // 3]
    elif damage == "foreign":
        data = b"PGDMP not ours"
    else:
        data = newer_than_the_code(archive_path, tmp_path).read_bytes()
    bad.write_bytes(bytes(data))
    up(stack)
    pay(stack, "1.00", f"before-bad-{damage}")
    before, worker = snapshot(stack), pid(stack, "celery-worker")

    refused = ebs(stack.env, "restore", str(bad))
    assert refused.returncode == 1
    assert "nothing was stopped or changed" in refused.stderr
    assert re.search(r"damaged|truncated|incomplete|not an ebs backup|"
                     r"migration 209912310000, which this code does not know", refused.stderr)
    assert "stopping" not in refused.stdout
    assert snapshot(stack) == before
    assert pid(stack, "celery-worker") == worker

    checked = ebs(stack.env, "restore", "--check", str(bad))
    assert checked.returncode == 1
    assert ebs(stack.env, "restore", "--check", str(archive_path)).returncode == 0


def _small_files(limit: int):
    def limit_size() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # write() fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return limit_size


def test_a_full_or_missing_target_fails_loudly_and_keeps_the_old_backups(
        stack, archive_path, tmp_path):
    target = tmp_path / "backups"
    target.mkdir()
    kept = target / archive_path.name
    shutil.copy(archive_path, kept)
    env = {**stack.env, "EBS_BACKUP_DIR": str(target), "EBS_BACKUP_KEEP": "1"}

    full = ebs(env, "backup", preexec_fn=_small_files(64 * 1024), timeout=600)
    assert full.returncode == 1
    assert "earlier backups are untouched" in full.stderr or "pg_dump failed" in full.stderr
    assert sorted(p.name for p in target.iterdir()) == [kept.name]  # no partial left
    assert sha256(kept) == sha256(archive_path)

    missing = ebs({**env, "EBS_BACKUP_DIR": "/proc/ebs-backups"}, "backup")
    assert missing.returncode == 1
    assert "backup directory /proc/ebs-backups" in missing.stderr

    # With room, the same command works and the retention removes the older one.
    done = ebs(env, "backup", timeout=600)
    assert done.returncode == 0, done.stderr
    assert f"removed old backup {kept.name}" in done.stdout
    assert [p.name for p in target.iterdir()] == [backup_path(done.stdout).name]


@pytest.fixture(scope="module")
def s3_store():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def test_copies_go_to_a_remote_path_and_an_s3_store(stack, s3_store, tmp_path):
    remote = tmp_path / "remote"
    remote.mkdir()
    client = boto3.client("s3", endpoint_url=s3_store, region_name="us-east-1",
                          aws_access_key_id="test", aws_secret_access_key="test",
                          config=Config(s3={"addressing_style": "path"}))
    client.create_bucket(Bucket="isp-backups")
    env = {**stack.env, "EBS_BACKUP_DIR": str(tmp_path / "local"),
           "EBS_BACKUP_RSYNC_TARGET": str(remote), "EBS_BACKUP_S3_BUCKET": "isp-backups",
           "EBS_BACKUP_S3_ENDPOINT": s3_store, "EBS_BACKUP_S3_ACCESS_KEY": "test",
           "EBS_BACKUP_S3_SECRET_KEY": "test"}
    done = ebs(env, "backup", timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    path = backup_path(done.stdout)
    assert sha256(remote / path.name) == sha256(path)
    stored = client.get_object(Bucket="isp-backups", Key=f"ebs/{path.name}")["Body"].read()
    assert hashlib.sha256(stored).hexdigest() == sha256(path)
    assert f"copied to s3://isp-backups/ebs/{path.name}" in done.stdout

    # A store that refuses: the local archive stands, the command says so and fails.
    failed = ebs({**env, "EBS_BACKUP_S3_BUCKET": "no-such-bucket",
                  "EBS_BACKUP_RSYNC_TARGET": ""}, "backup", timeout=600)
    assert failed.returncode == 1
    assert "S3 copy to s3://no-such-bucket/ebs/" in failed.stderr
    assert backup_path(failed.stdout).exists()


def test_upgrade_from_release_0_1_0_with_data_and_services_running(stack):
    version, fixture = release_fixtures()[0]
    assert version == "0.1.0"
    up(stack)
    local = Stack(stack.settings)
    # The operator's database as release 0.1.0 left it; the worker and Redis running.
    local.pause(lambda _m: None)
    local.postgres.drop_database(stack.settings.DB_NAME)
    local.postgres.create_database(stack.settings.DB_NAME)
    load_fixture(local.postgres.conninfo(stack.settings.DB_NAME), fixture)
    local.resume(["redis", "celery-worker"], lambda _m: None)
    with psycopg.connect(stack.conninfo) as conn:
        old = schema.database_version(conn)
    worker = pid(stack, "celery-worker")
    status = ebs(stack.env, "db", "status")
    assert "pending: run `ebs upgrade`" in status.stdout

    upgraded = ebs(stack.env, "upgrade", timeout=900)
    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    latest = schema.available()[-1].version
    assert f"upgraded: schema {old.latest_migration} -> {latest}" in upgraded.stdout
    assert "stopping celery-worker" in upgraded.stdout
    taken = Path(re.search(r"backup: (\S+)", upgraded.stdout)[1])
    assert taken.name.endswith("-pre-upgrade.tar")
    assert restore_mod.check(taken).latest_migration == old.latest_migration

    with psycopg.connect(stack.conninfo) as conn:
        now = schema.database_version(conn)
        assert conn.execute("SELECT count(*) FROM accounts").fetchone()[0] == 10
    assert now.latest_migration == latest and now.release == code_version()
    assert ebs(stack.env, "ledger", "verify").returncode == 0
    assert pid(stack, "celery-worker") not in (None, worker)  # stopped, started again
    assert not running(stack)["freeradius"]  # it was not running before: left so

    versions = ebs(stack.env, "--version")
    assert f"code:     ebs {code_version()}, schema {latest}" in versions.stdout
    assert f"database: ebs {code_version()}, schema {latest} (up to date)" in versions.stdout
    again = ebs(stack.env, "upgrade")
    assert again.returncode == 0
    assert "up to date; nothing was stopped" in again.stdout
    up(stack)


def test_a_migration_failing_half_way_leaves_the_old_version(stack, tmp_path, monkeypatch):
    for name, value in stack.env.items():
        if name.startswith("EBS_"):
            monkeypatch.setenv(name, value)
    up(stack)
    migrations = tmp_path / "migrations"
    shutil.copytree(schema.MIGRATIONS_DIR, migrations)
    (migrations / "209912310000_half_way.sql").write_text(
        "CREATE TABLE half_way (id integer);\n"
        "INSERT INTO half_way VALUES (1);\n"
        "ALTER TABLE accounts ADD COLUMN half_way integer;\n"
        "SELECT 1 / 0;\n")
    before = snapshot(stack)
    with psycopg.connect(stack.conninfo) as conn:
        old = schema.database_version(conn)

    said: list[str] = []
    with pytest.raises(upgrade_mod.UpgradeError) as failed:
        upgrade_mod.upgrade(stack.settings, said.append, migrations_dir=migrations)
    message = str(failed.value)
    assert "division by zero" in message
    assert f"The database is at schema {old.latest_migration}" in message
    command = re.search(r"ebs restore (\S+)", message)
    assert command, message
    assert restore_mod.check(Path(command[1])).latest_migration == old.latest_migration

    with psycopg.connect(stack.conninfo) as conn:
        assert schema.database_version(conn) == old
        assert conn.execute("SELECT to_regclass('half_way')").fetchone()[0] is None
        assert conn.execute("SELECT count(*) FROM information_schema.columns WHERE"
                            " table_name = 'accounts' AND column_name = 'half_way'"
                            ).fetchone()[0] == 0
    assert snapshot(stack) == before
    assert ebs(stack.env, "ledger", "verify").returncode == 0  # the old version works
    assert not running(stack)["celery-worker"]  # left stopped, as the message says
    assert not (stack.base / "var" / "run" / "maintenance").exists()
    up(stack)
    assert all(alive for name, alive in running(stack).items() if name != "celery-beat")


def test_the_daily_backup_makes_one_archive_a_day(stack, tmp_path, monkeypatch):
    for name, value in stack.env.items():
        if name.startswith("EBS_"):
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("EBS_BACKUP_DIR", str(tmp_path))
    up(stack)
    from worker.backup_tasks import daily_backup

    first = daily_backup.run()
    made = Path(first["path"])
    assert made.name.endswith("-daily.tar") and first["bytes"] == made.stat().st_size
    assert restore_mod.check(made).latest_migration == schema.available()[-1].version
    again = daily_backup.run()  # a redelivery the same day
    assert "was made less than 12 hours ago" in again["skipped"]
    assert [p.name for p in tmp_path.glob("*.tar")] == [made.name]
