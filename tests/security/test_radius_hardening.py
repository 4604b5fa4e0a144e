"""RADIUS against a hostile network: every answer carries a Message-Authenticator our own
code verifies (tests/radius_wire.py), CHAP works with the key ``ebs up`` generates and
is refused with its own reason where the tariff does not enable it, the sealed CHAP
password opens only for its own subaccount, NAS secrets are long, and a MAC stands in
for a login only on a NAS marked for DHCP/IPoE.

One real FreeRADIUS and one database for the module; each test makes its own subscribers.
"""

from __future__ import annotations

import secrets
import socket
import uuid

import psycopg
import pytest
from click.testing import CliRunner
from Crypto.Cipher import AES
from psycopg.rows import dict_row

from billing import nas_secrets
from billing.credentials import set_network_password
from cli.main import cli
from stack.radius_clients import RadiusClient
from stack.servers.base import free_port
from stack.servers.freeradius import FreeRadiusServer, radclient
from tests import radius_wire
from tests.conftest import ebs_env
from tests.harness import radius_db_fields, start_with_retry
from tests.pools import shared_pool

SECRET = "hardening-secret-" + secrets.token_hex(8)
KEY = secrets.token_bytes(32)
PASSWORD = "s3cret-Pass"


@pytest.fixture(scope="module")
def hard_db(pg_server, template_db):
    name = f"hard_{uuid.uuid4().hex[:12]}"
    pg_server.create_database(name, template=template_db)
    yield pg_server.conninfo(name)
    pg_server.drop_database(name)


@pytest.fixture(scope="module")
def dbc(hard_db):
    with psycopg.connect(hard_db, autocommit=True, row_factory=dict_row) as connection:
        connection.execute(
            "INSERT INTO nas (name, vendor, ip_address, secret) "
            "VALUES ('local', 'mikrotik', '127.0.0.1', %s)", (SECRET,))
        yield connection


@pytest.fixture(scope="module")
def radius(hard_db, dbc, tmp_path_factory):
    base = tmp_path_factory.mktemp("radius-hardening")
    server = start_with_retry(lambda: FreeRadiusServer(
        directory=base / "conf",
        auth_port=free_port(udp=True, tcp=False),
        acct_port=free_port(udp=True, tcp=False),
        clients=[("local", "127.0.0.1", SECRET)],
        reject_delay=0,
        **radius_db_fields(hard_db),
        credentials_key=KEY.hex(),
    ))
    yield server
    server.stop()


def tariff(dbc, *, chap: bool = False, access_type: str = "pppoe") -> int:
    pool_id = shared_pool(dbc, "subscribers", "10.0.0.1", "10.0.0.254")
    return dbc.execute(
        "INSERT INTO tariffs (name, chap_enabled, ip_pool_id, access_type) "
        "VALUES (%s, %s, %s, %s) RETURNING id",
        ("t-" + secrets.token_hex(4), chap, pool_id, access_type)).fetchone()["id"]


def subscriber(dbc, tariff_id: int, key: bytes | None = KEY, **columns: object) -> tuple[str, int]:
    login = "u" + secrets.token_hex(5)
    account_id = dbc.execute(
        "INSERT INTO accounts (contract, login) VALUES (%s, %s) RETURNING id",
        (login, login)).fetchone()["id"]
    dbc.execute(
        "INSERT INTO ledger_entries (account_id, kind, amount, idempotency_key, effective_at)"
        " VALUES (%s, 'correction', 100, %s, now())", (account_id, "test-" + login))
    dbc.execute(
        "INSERT INTO account_tariffs (account_id, tariff_id, assigned_at) "
        "VALUES (%s, %s, now() - interval '1 day')", (account_id, tariff_id))
    sub_id = dbc.execute(
        "INSERT INTO subaccounts (account_id, username) VALUES (%s, %s) RETURNING id",
        (account_id, login)).fetchone()["id"]
    set_network_password(dbc, sub_id, PASSWORD, key=key)
    for column, value in columns.items():  # names are the test's own, never input
        dbc.execute(f"UPDATE subaccounts SET {column} = %s WHERE id = %s", (value, sub_id))
    return login, sub_id


def logged(dbc, user: str) -> list[str]:
    rows = dbc.execute("SELECT reason FROM auth_log WHERE username = %s ORDER BY id", (user,))
    return [r["reason"] for r in rows]


def ask(radius: FreeRadiusServer, user: str, **credential: str) -> radius_wire.CheckedReply:
    request = radius_wire.access_request(SECRET.encode(), user, **credential)
    return radius_wire.exchange(radius.auth_port, request, SECRET.encode())


def assert_signed(reply: radius_wire.CheckedReply) -> None:
    assert reply.response_authenticator_valid
    assert reply.message_authenticator is not None, "no Message-Authenticator in the reply"
    assert reply.message_authenticator != bytes(16)
    assert reply.message_authenticator_valid


def test_accept_and_reject_carry_a_valid_message_authenticator(radius, dbc):
    user, _ = subscriber(dbc, tariff(dbc))
    accept = ask(radius, user, password=PASSWORD)
    assert accept.code == radius_wire.ACCESS_ACCEPT
    assert_signed(accept)
    wrong = ask(radius, user, password="not-the-password")
    assert wrong.code == radius_wire.ACCESS_REJECT
    assert_signed(wrong)
    unknown = ask(radius, "nobody-" + secrets.token_hex(3), password=PASSWORD)
    assert unknown.code == radius_wire.ACCESS_REJECT
    assert_signed(unknown)
    assert logged(dbc, user) == ["ok", "wrong_password"]


def test_a_reply_checked_with_another_secret_fails(radius, dbc):
    """The check itself can fail: the same reply under a wrong secret is not genuine."""
    user, _ = subscriber(dbc, tariff(dbc))
    request = radius_wire.access_request(SECRET.encode(), user, password=PASSWORD)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(3)
        sock.sendto(request, ("127.0.0.1", radius.auth_port))
        raw = sock.recv(4096)
    forged = radius_wire.check_reply(request, raw, b"some-other-secret-of-32-chars!!!")
    assert not forged.message_authenticator_valid
    assert not forged.response_authenticator_valid
    assert radius_wire.check_reply(request, raw, SECRET.encode()).message_authenticator_valid


def test_chap_accept_with_a_signed_reply(radius, dbc):
    user, _ = subscriber(dbc, tariff(dbc, chap=True))
    reply = ask(radius, user, chap_password=PASSWORD)
    assert reply.code == radius_wire.ACCESS_ACCEPT
    assert_signed(reply)
    assert ask(radius, user, chap_password="wrong").code == radius_wire.ACCESS_REJECT
    assert logged(dbc, user) == ["ok", "wrong_password"]


def test_chap_on_a_tariff_without_chap_has_its_own_reason(radius, dbc):
    user, _ = subscriber(dbc, tariff(dbc, chap=False))
    reply = ask(radius, user, chap_password=PASSWORD)
    assert reply.code == radius_wire.ACCESS_REJECT
    assert_signed(reply)
    assert ask(radius, user, password=PASSWORD).code == radius_wire.ACCESS_ACCEPT  # PAP works
    assert logged(dbc, user) == ["chap_not_enabled", "ok"]


def test_chap_without_a_stored_chap_password_is_not_a_wrong_password(radius, dbc):
    user, _ = subscriber(dbc, tariff(dbc, chap=True), key=None)  # set while no key existed
    assert ask(radius, user, chap_password=PASSWORD).code == radius_wire.ACCESS_REJECT
    assert logged(dbc, user) == ["chap_not_enabled"]


def test_a_sealed_chap_password_copied_to_another_subaccount_does_not_open(radius, dbc):
    chap = tariff(dbc, chap=True)
    alice, alice_id = subscriber(dbc, chap)
    mallory, mallory_id = subscriber(dbc, chap)
    dbc.execute(  # whoever can write the column hands alice's sealed password to mallory
        "UPDATE subaccounts SET chap_password_encrypted = (SELECT chap_password_encrypted"
        " FROM subaccounts WHERE id = %s) WHERE id = %s", (alice_id, mallory_id))
    assert ask(radius, mallory, chap_password=PASSWORD).code == radius_wire.ACCESS_REJECT
    assert logged(dbc, mallory) == ["internal_error"]  # the seal refused, logged as a fault
    assert ask(radius, alice, chap_password=PASSWORD).code == radius_wire.ACCESS_ACCEPT


def test_a_password_change_reseals_the_chap_password(radius, dbc):
    user, sub_id = subscriber(dbc, tariff(dbc, chap=True))
    set_network_password(dbc, sub_id, "new-Pass-2", key=KEY)
    assert ask(radius, user, chap_password=PASSWORD).code == radius_wire.ACCESS_REJECT
    assert ask(radius, user, chap_password="new-Pass-2").code == radius_wire.ACCESS_ACCEPT
    set_network_password(dbc, sub_id, "new-Pass-3", key=None)  # no key: CHAP cleared
    stored = dbc.execute("SELECT chap_password_encrypted FROM subaccounts WHERE id = %s",
                         (sub_id,)).fetchone()
    assert stored["chap_password_encrypted"] is None
    assert ask(radius, user, chap_password="new-Pass-2").code == radius_wire.ACCESS_REJECT
    assert logged(dbc, user) == ["wrong_password", "ok", "chap_not_enabled"]


def test_nas_secrets_shorter_than_16_are_refused_and_generated_ones_are_long(dbc):
    with pytest.raises(psycopg.errors.CheckViolation):
        dbc.execute("INSERT INTO nas (name, ip_address, secret) "
                    "VALUES ('short', '192.0.2.31', 'fifteen-chars..')")
    with pytest.raises(nas_secrets.SecretRefused) as refused:
        nas_secrets.given_or_generated("fifteen-chars..")
    assert refused.value.code == "nas_secret_short"
    generated = {nas_secrets.given_or_generated("") for _ in range(20)}
    assert len(generated) == 20
    assert all(len(s) >= 32 and not s.startswith("-") for s in generated)
    for secret in generated:  # clients.conf holds each literally
        RadiusClient("nasx", "192.0.2.32", secret).validated()
    assert nas_secrets.given_or_generated("sixteen-chars-ok") == "sixteen-chars-ok"


def dhcp_request(radius: FreeRadiusServer, mac: str) -> str | None:
    """A DHCP server's Access-Request: the client's MAC as User-Name, no password."""
    return radclient(radius.auth_port, "auth", SECRET, [
        ("User-Name", mac), ("NAS-IP-Address", "127.0.0.1"),
        ("Message-Authenticator", "0x00")], raddb=radius.directory, timeout=2.0).code


def test_a_mac_as_user_name_logs_in_only_from_a_nas_marked_for_dhcp_ipoe(radius, dbc):
    mac = "02:" + secrets.token_hex(5).upper()
    mac = ":".join(mac.replace(":", "")[i:i + 2] for i in range(0, 12, 2))
    subscriber(dbc, tariff(dbc, access_type="dhcp"), mac_address=mac)
    assert dhcp_request(radius, mac) == "Access-Reject"  # the NAS serves no DHCP/IPoE
    assert logged(dbc, mac) == ["unknown_login"]
    dbc.execute("UPDATE nas SET dhcp_ipoe = true WHERE name = 'local'")
    try:
        assert dhcp_request(radius, mac) == "Access-Accept"
    finally:
        dbc.execute("UPDATE nas SET dhcp_ipoe = false WHERE name = 'local'")
    assert logged(dbc, mac) == ["unknown_login", "ok"]


def legacy_seal(cleartext: str) -> bytes:
    """A CHAP password sealed in format 1 (no associated data), as before the binding."""
    nonce = secrets.token_bytes(12)
    body, tag = AES.new(KEY, AES.MODE_GCM, nonce=nonce).encrypt_and_digest(cleartext.encode())
    return b"\x01" + nonce + body + tag


def test_old_unbound_chap_passwords_work_until_ebs_credentials_reseal_binds_them(
        radius, dbc, hard_db, tmp_path):
    chap = tariff(dbc, chap=True)
    user, sub_id = subscriber(dbc, chap)
    other, other_id = subscriber(dbc, chap)
    stranger, stranger_id = subscriber(dbc, chap)
    dbc.execute("UPDATE subaccounts SET chap_password_encrypted = %s WHERE id IN (%s, %s)",
                (legacy_seal(PASSWORD), sub_id, other_id))
    assert ask(radius, user, chap_password=PASSWORD).code == radius_wire.ACCESS_ACCEPT

    (tmp_path / "none.py").write_text("")
    env = {**ebs_env(hard_db, tmp_path / "none.py"), "EBS_CREDENTIALS_KEY": KEY.hex()}
    done = CliRunner().invoke(cli, ["credentials", "reseal"], env=env)
    assert done.exit_code == 0, done.output
    assert "2 CHAP passwords sealed again" in done.output
    blobs = {r["id"]: bytes(r["chap_password_encrypted"]) for r in dbc.execute(
        "SELECT id, chap_password_encrypted FROM subaccounts WHERE id IN (%s, %s)",
        (sub_id, other_id))}
    assert set(blobs) == {sub_id, other_id}
    assert all(blob[:1] == b"\x02" for blob in blobs.values())
    assert ask(radius, user, chap_password=PASSWORD).code == radius_wire.ACCESS_ACCEPT
    assert ask(radius, other, chap_password=PASSWORD).code == radius_wire.ACCESS_ACCEPT
    # Now bound: the value copied onto a third subaccount no longer opens there.
    dbc.execute("UPDATE subaccounts SET chap_password_encrypted = %s WHERE id = %s",
                (blobs[sub_id], stranger_id))
    assert ask(radius, stranger, chap_password=PASSWORD).code == radius_wire.ACCESS_REJECT
    again = CliRunner().invoke(cli, ["credentials", "reseal"], env=env)
    assert again.exit_code == 0 and "0 CHAP passwords sealed again" in again.output
