"""CHAP out of the box: ``ebs up`` generates the credentials key (mode 0600 under the state
directory), rlm_ebs opens what the admin's password code seals with it, and the CHAP
accept comes back signed (a Message-Authenticator our own code verifies)."""

from __future__ import annotations

import re
import secrets

import psycopg

from billing.credentials import load_key, set_network_password
from stack.servers.base import wait_until
from stack.servers.freeradius import radclient
from tests import radius_wire
from tests.local_stack import ebs, stack_env

PASSWORD = "chap-Pass-1"


def chap_subscriber(conninfo: str, key: bytes) -> str:
    login = "chap-" + secrets.token_hex(4)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        tariff = conn.execute(
            "INSERT INTO tariffs (name, chap_enabled) VALUES (%s, true) RETURNING id",
            (login,)).fetchone()[0]
        account = conn.execute(
            "INSERT INTO accounts (contract, login) VALUES (%s, %s) RETURNING id",
            (login, login)).fetchone()[0]
        conn.execute(
            "INSERT INTO ledger_entries (account_id, kind, amount, idempotency_key,"
            " effective_at) VALUES (%s, 'correction', 100, %s, now())", (account, login))
        conn.execute("INSERT INTO account_tariffs (account_id, tariff_id, assigned_at)"
                     " VALUES (%s, %s, now())", (account, tariff))
        sub = conn.execute(
            "INSERT INTO subaccounts (account_id, username, ip_address) VALUES (%s, %s,"
            " '10.77.0.9') RETURNING id", (account, login)
        ).fetchone()[0]
        set_network_password(conn, sub, PASSWORD, key=key)  # as the admin's action does
    return login


def test_chap_accept_on_a_fresh_ebs_up(tmp_path):
    (tmp_path / "settings_local.py").write_text("TIME_ZONE = 'Europe/Moscow'\n")
    env = stack_env(tmp_path)
    key_file = tmp_path / "var" / "secrets" / "credentials.key"
    assert not key_file.exists()
    try:
        started = ebs(env, "up", "--demo", "--detach")
        assert started.returncode == 0, started.stdout + started.stderr
        assert key_file.stat().st_mode & 0o777 == 0o600
        secret = re.search(r"secret (\S+)", started.stdout).group(1)
        assert len(secret) >= 32  # the demo NAS's generated secret

        # The owner over the stack's socket (peer: the cluster trusts nobody).
        conninfo = (f"host={tmp_path / 'var' / 'run'} port={env['EBS_DB_PORT']} dbname=ebs"
                    " user=ebs")
        user = chap_subscriber(conninfo, load_key("", key_file))
        port = int(env["EBS_RADIUS_AUTH_PORT"])
        reply = radclient(port, "auth", secret, [
            ("User-Name", user), ("CHAP-Password", PASSWORD), ("NAS-IP-Address", "127.0.0.1"),
            ("Framed-Protocol", "PPP"), ("Message-Authenticator", "0x00")],
            raddb=tmp_path / "var" / "freeradius", timeout=2, retries=2)
        assert reply.code == "Access-Accept", reply.output
        request = radius_wire.access_request(secret.encode(), user, chap_password=PASSWORD)
        signed = radius_wire.exchange(port, request, secret.encode())
        assert signed.code == radius_wire.ACCESS_ACCEPT
        assert signed.response_authenticator_valid and signed.message_authenticator_valid
        # The auth spool's lines, written by the stack's follower a couple of seconds later.
        with psycopg.connect(conninfo, autocommit=True) as conn:
            wait_until(lambda: conn.execute(
                "SELECT reason FROM auth_log WHERE username = %s ORDER BY id",
                (user,)).fetchall() == [("ok",), ("ok",)], 20, "both logins in the auth log")
    finally:
        stopped = ebs(env, "down")
    assert stopped.returncode == 0, stopped.stderr
