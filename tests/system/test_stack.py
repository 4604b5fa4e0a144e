"""`ebs up` / `ebs status` / `ebs down` as `make demo` runs them, on private ports and dirs,
and the Celery worker answering its health task through a real Redis."""

from __future__ import annotations

import re

import psycopg
from celery import Celery

from stack import db_roles
from stack.acct_follow import wait_drained
from stack.servers.freeradius import radclient
from tests.local_stack import ebs, stack_env


def test_up_with_demo_status_and_down(tmp_path):
    (tmp_path / "settings_local.py").write_text("TIME_ZONE = 'Europe/Moscow'\n")
    env = stack_env(tmp_path)
    try:
        started = ebs(env, "up", "--demo", "--detach")
        assert started.returncode == 0, started.stdout + started.stderr
        assert "Demo NAS     127.0.0.1, secret " in started.stdout
        assert "admin / admin (Admin)" in started.stdout
        secret = re.search(r"secret (\S+)", started.stdout).group(1)
        reply = radclient(int(env["EBS_RADIUS_AUTH_PORT"]), "status", secret,
                          [("Message-Authenticator", "0x00")], timeout=2, retries=2)
        assert reply.code == "Access-Accept"  # the demo NAS from the table is a client

        status = ebs(env, "status")
        assert status.returncode == 0, status.stdout
        for name in ("postgresql", "redis", "freeradius", "acct-drain", "nfacctd",
                     "celery-worker", "celery-beat", "web"):
            assert f"{name}" in status.stdout
        assert "stopped" not in status.stdout

        # nfacctd runs as the database says: the demo's pools and NAS in its plugins and
        # maps; a reload with nothing changed touches nothing
        collector = tmp_path / "var" / "nfacctd"
        assert "plugins: pgsql[reject], pgsql[in], pgsql[out]" in \
            (collector / "nfacctd.conf").read_text()
        assert "set_tag2=1 ip=127.0.0.1" in (collector / "maps" / "in.map").read_text()
        reload = ebs(env, "flow", "reload")
        assert reload.returncode == 0 and '"server": "current"' in reload.stdout, reload.stderr

        # Accounting in the default spool mode: FreeRADIUS answers, the follower applies.
        reply = radclient(int(env["EBS_RADIUS_ACCT_PORT"]), "acct", secret,
                          [("Acct-Status-Type", "Start"), ("Acct-Session-Id", "stack-1"),
                           ("User-Name", "stack-user"), ("NAS-IP-Address", "127.0.0.1")],
                          timeout=2, retries=2)
        assert reply.code == "Accounting-Response"
        spool = tmp_path / "var" / "freeradius" / "radacct" / "spool"
        assert wait_drained(spool, 60)
        # The owner over TCP: no trust, its generated password.
        password = db_roles.read_password(
            db_roles.password_file(tmp_path / "var" / "secrets", "ebs"))
        owner = (f"host=127.0.0.1 port={env['EBS_DB_PORT']} dbname=ebs user=ebs"
                 f" password={password}")
        with psycopg.connect(owner) as conn:
            assert conn.execute("SELECT username FROM sessions_open"
                                " WHERE acct_session_id = 'stack-1'").fetchone() == ("stack-user",)
            # today's flow partitions exist before nfacctd's first write
            today = conn.execute("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYYMMDD')"
                                 ).fetchone()[0]
            assert conn.execute("SELECT to_regclass(%s), to_regclass(%s)",
                                (f"flow_bins_{today}", f"flow_raw_{today}")).fetchone() \
                == (f"flow_bins_{today}", f"flow_raw_{today}")
        made = ebs(env, "flow", "partitions")
        assert made.returncode == 0 and '"dropped": []' in made.stdout, made.stderr

        verified = ebs(env, "ledger", "verify")
        assert verified.returncode == 0
        assert "10 account balances equal their entries" in verified.stdout

        conninfo = owner
        with psycopg.connect(conninfo) as conn:
            counts = conn.execute(
                "SELECT (SELECT count(*) FROM accounts), (SELECT count(*) FROM tariffs),"
                " (SELECT count(*) FROM accounts WHERE balance < 0),"
                " (SELECT count(*) FROM accounts WHERE status = 'suspended')"
            ).fetchone()
        assert counts == (10, 3, 1, 1)

        # ebs up generated Redis's password into the state directory, for its owner only.
        password_file = tmp_path / "var" / "secrets" / "redis.password"
        assert password_file.stat().st_mode & 0o777 == 0o600
        url = (f"redis://:{password_file.read_text().strip()}@127.0.0.1:"
               f"{env['EBS_REDIS_PORT']}/0")
        client = Celery(broker=url, backend=url)
        result = client.send_task("ebs.health").get(timeout=60)
        assert result["schema_current"] is True

        again = ebs(env, "up", "--demo", "--detach")  # idempotent: nothing doubles
        assert again.returncode == 0, again.stdout + again.stderr
        assert "web is already running" in again.stdout
        assert "starting web" not in again.stdout and "starting celery-worker" not in again.stdout
        with psycopg.connect(conninfo) as conn:
            assert conn.execute("SELECT count(*) FROM accounts").fetchone()[0] == 10
    finally:
        stopped = ebs(env, "down")
    assert stopped.returncode == 0, stopped.stderr
    after = ebs(env, "status")
    assert after.returncode == 1
    assert "running" not in after.stdout


def test_commands_fail_with_one_clear_line(tmp_path):
    env = stack_env(tmp_path)
    missing = ebs(env, "db", "upgrade")
    assert missing.returncode == 1
    assert "settings_local.py (from EBS_SETTINGS) does not exist" in missing.stderr

    (tmp_path / "settings_local.py").write_text("")
    down = ebs(env, "db", "upgrade")
    assert down.returncode == 1
    assert down.stderr.strip().count("\n") == 0
    assert "cannot connect to PostgreSQL" in down.stderr

    bad = ebs(env, "ledger", "verify", "--limit", "0")
    assert bad.returncode == 2
    assert "Invalid value for '--limit'" in bad.stderr

    env["EBS_DB_PORT"] = "not-a-port"
    wrong = ebs(env, "db", "upgrade")
    assert wrong.returncode == 1
    assert "EBS_DB_PORT must be an integer" in wrong.stderr
