"""Authorize through a real FreeRADIUS: rlm_sql fetches the facts (ebs_radius_check), the
python3 instance rlm_ebs decides, pap / chap / mschap verify, post-auth writes auth_log.

One server and one database for the module (a start costs about a second); each test
makes its own subscribers."""

from __future__ import annotations

import os
import secrets
import time
import uuid
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import dict_row

from billing.credentials import nt_password_hash, set_network_password
from stack.servers.base import free_port
from stack.servers.freeradius import FreeRadiusServer, RadiusReply, radclient
from tests import mschapv2
from tests.harness import radius_db_fields, start_with_retry
from tests.pools import shared_pool

SECRET = "auth-secret-1-for-tests"
KEY = secrets.token_bytes(32)
PASSWORD = "s3cret-Pass"
NAS_INTERIM = 120


@pytest.fixture(scope="module")
def auth_db(pg_server, template_db):
    name = f"auth_{uuid.uuid4().hex[:12]}"
    pg_server.create_database(name, template=template_db)
    yield pg_server.conninfo(name)
    pg_server.drop_database(name)


@pytest.fixture(scope="module")
def dbc(auth_db):
    with psycopg.connect(auth_db, autocommit=True, row_factory=dict_row) as connection:
        connection.execute(
            "INSERT INTO nas (name, vendor, ip_address, secret, acct_interim_interval) "
            "VALUES ('local', 'mikrotik', '127.0.0.1', %s, %s)", (SECRET, NAS_INTERIM))
        yield connection


def make_server(directory: Path, conninfo: str, clock_file: Path | None = None) -> FreeRadiusServer:
    return FreeRadiusServer(
        directory=directory,
        auth_port=free_port(udp=True, tcp=False),
        acct_port=free_port(udp=True, tcp=False),
        clients=[("local", "127.0.0.1", SECRET)],
        reject_delay=0,
        **radius_db_fields(conninfo),
        time_zone="Europe/Moscow",
        credentials_key=KEY.hex(),
        test_clock_file=str(clock_file or ""),
    )


@pytest.fixture(scope="module")
def clock_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("clock") / "offset"
    path.write_text("0")
    return path


@pytest.fixture(scope="module")
def radius(auth_db, dbc, clock_file, tmp_path_factory):
    base = tmp_path_factory.mktemp("radius-auth")
    server = start_with_retry(lambda: make_server(base / "conf", auth_db, clock_file))
    yield server
    server.stop()


@pytest.fixture
def move_clock(clock_file):
    """Set the server's decision clock ahead by a timedelta (read on every request)."""
    yield lambda by: clock_file.write_text(str(by.total_seconds()))
    clock_file.write_text("0")


def tariff(dbc, *, chap: bool = False, guest_pool: bool = False, window: bool = False,
           speed: str | None = "10M/20M") -> int:
    name = "t-" + os.urandom(4).hex()
    pool_id = guest_id = period_id = None
    pool_id = shared_pool(dbc, "subscribers", "10.0.0.1", "10.0.0.254")
    if guest_pool:
        guest_id = shared_pool(dbc, "guests", "10.99.0.1", "10.99.0.254")
    if window:
        period_id = dbc.execute(
            "INSERT INTO time_periods (name) VALUES (%s) RETURNING id", (name,)).fetchone()["id"]
        # Opened an hour ago, closes in an hour, every day.
        dbc.execute(
            "INSERT INTO time_period_nodes (time_period_id, starts_at, length, repeat) "
            "VALUES (%s, now() - interval '1 day 1 hour', interval '2 hours', 'DAY')",
            (period_id,))
    tariff_id = dbc.execute(
        "INSERT INTO tariffs (name, chap_enabled, ip_pool_id, guest_pool_id, "
        "access_time_period_id) VALUES (%s, %s, %s, %s, %s) RETURNING id",
        (name, chap, pool_id, guest_id, period_id)).fetchone()["id"]
    if speed:
        dbc.execute("INSERT INTO tariff_speeds (tariff_id, speed) VALUES (%s, %s)",
                    (tariff_id, speed))
    return tariff_id


def subscriber(dbc, tariff_id: int | None, *, balance: str = "100", status: str = "active",
               password: str = PASSWORD, chap_key: bytes | None = None,
               **columns: object) -> str:
    login = "u" + os.urandom(5).hex()
    account_id = dbc.execute(
        "INSERT INTO accounts (contract, login, status) VALUES (%s, %s, %s) RETURNING id",
        (login, login, status)).fetchone()["id"]
    if balance != "0":
        dbc.execute(
            "INSERT INTO ledger_entries (account_id, kind, amount, idempotency_key, "
            "effective_at) VALUES (%s, 'correction', %s, %s, now())",
            (account_id, balance, "test-" + login))
    if tariff_id is not None:
        dbc.execute(
            "INSERT INTO account_tariffs (account_id, tariff_id, assigned_at) "
            "VALUES (%s, %s, now() - interval '1 day')", (account_id, tariff_id))
    sub_id = dbc.execute(
        "INSERT INTO subaccounts (account_id, username, nt_password_hash) "
        "VALUES (%s, %s, %s) RETURNING id",
        (account_id, login, nt_password_hash(password))).fetchone()["id"]
    if chap_key is not None:  # the CHAP cleartext, sealed for this subaccount
        set_network_password(dbc, sub_id, password, key=chap_key)
    for column, value in columns.items():  # names are the test's own, never input
        dbc.execute(f"UPDATE subaccounts SET {column} = %s WHERE id = %s", (value, sub_id))
    return login


def auth(radius: FreeRadiusServer, attributes: list[tuple[str, str]]) -> RadiusReply:
    base = [("NAS-IP-Address", "127.0.0.1"), ("Framed-Protocol", "PPP"),
            ("Message-Authenticator", "0x00")]
    return radclient(radius.auth_port, "auth", SECRET, attributes + base,
                     raddb=radius.directory, timeout=2.0, retries=1)


def pap(radius, user: str, password: str = PASSWORD) -> RadiusReply:
    return auth(radius, [("User-Name", user), ("User-Password", password)])


def logged(dbc, user: str) -> list[tuple[str, bool, bool]]:
    rows = dbc.execute(
        "SELECT reason, accepted, guest FROM auth_log WHERE username = %s ORDER BY id", (user,))
    return [(r["reason"], r["accepted"], r["guest"]) for r in rows]


def test_pap_accept_with_window_interim_and_rate_limit(radius, dbc):
    user = subscriber(dbc, tariff(dbc, window=True))
    reply = pap(radius, user)
    assert reply.code == "Access-Accept", reply.output
    assert 3590 <= int(reply.attributes["Session-Timeout"]) <= 3600
    assert reply.attributes["Acct-Interim-Interval"] == str(NAS_INTERIM)
    assert reply.attributes["Mikrotik-Rate-Limit"] == "10M/20M"
    assert reply.attributes["Framed-IP-Address"].startswith("10.0.0.")  # leased
    assert "Cleartext-Password" not in reply.attributes
    assert logged(dbc, user) == [("ok", True, False)]
    # the time from the request's arrival to its log row, which the monitoring reads
    took = dbc.execute("SELECT answer_us FROM auth_log WHERE username = %s",
                       (user,)).fetchone()["answer_us"]
    assert 0 < took < 2_000_000  # radclient waits 2 s at most


def test_window_and_time_of_day_speed_follow_the_servers_clock(radius, dbc, move_clock):
    tariff_id = tariff(dbc, window=True)  # daily, opened an hour ago, closes in an hour
    period_id = dbc.execute(
        "INSERT INTO time_periods (name) VALUES (%s) RETURNING id",
        ("slow-" + os.urandom(3).hex(),)).fetchone()["id"]
    dbc.execute(  # a slow half hour, daily, starting in 20 minutes
        "INSERT INTO time_period_nodes (time_period_id, starts_at, length, repeat) "
        "VALUES (%s, now() + interval '20 minutes', interval '30 minutes', 'DAY')", (period_id,))
    dbc.execute("INSERT INTO tariff_speeds (tariff_id, time_period_id, speed) "
                "VALUES (%s, %s, '1M/2M')", (tariff_id, period_id))
    user = subscriber(dbc, tariff_id)

    assert pap(radius, user).attributes["Mikrotik-Rate-Limit"] == "10M/20M"
    move_clock(timedelta(minutes=30))
    reply = pap(radius, user)
    assert reply.attributes["Mikrotik-Rate-Limit"] == "1M/2M"
    assert 1790 <= int(reply.attributes["Session-Timeout"]) <= 1800
    move_clock(timedelta(hours=2))
    assert pap(radius, user).code == "Access-Reject"
    move_clock(timedelta(days=1))  # the same window a day later
    assert pap(radius, user).code == "Access-Accept"
    assert [r[0] for r in logged(dbc, user)] == ["ok", "ok", "outside_access_window", "ok"]


def test_wrong_password_is_rejected_and_logged(radius, dbc):
    user = subscriber(dbc, tariff(dbc))
    reply = pap(radius, user, "not-the-password")
    assert reply.code == "Access-Reject"
    assert reply.attributes == {}
    assert logged(dbc, user) == [("wrong_password", False, False)]


def test_unknown_login(radius, dbc):
    assert pap(radius, "nobody-here").code == "Access-Reject"
    assert logged(dbc, "nobody-here")[-1] == ("unknown_login", False, False)


def test_debtor_is_rejected_without_a_guest_pool(radius, dbc):
    user = subscriber(dbc, tariff(dbc), balance="-5")
    assert pap(radius, user).code == "Access-Reject"
    assert logged(dbc, user) == [("balance_negative", False, False)]


def test_debtor_goes_to_the_guest_pool(radius, dbc):
    user = subscriber(dbc, tariff(dbc, guest_pool=True), balance="-5")
    reply = pap(radius, user)
    assert reply.code == "Access-Accept", reply.output
    assert reply.attributes["Framed-IP-Address"].startswith("10.99.0.")  # guest pool lease
    assert "Mikrotik-Rate-Limit" not in reply.attributes
    assert logged(dbc, user) == [("balance_negative", True, True)]


def test_guest_with_a_wrong_password_is_still_a_wrong_password(radius, dbc):
    user = subscriber(dbc, tariff(dbc, guest_pool=True), balance="-5")
    assert pap(radius, user, "nope").code == "Access-Reject"
    assert logged(dbc, user) == [("wrong_password", False, False)]


def test_suspended_account(radius, dbc):
    user = subscriber(dbc, tariff(dbc), status="suspended")
    assert pap(radius, user).code == "Access-Reject"
    assert logged(dbc, user) == [("account_suspended", False, False)]


def other_nas(dbc) -> int:
    return dbc.execute(
        "INSERT INTO nas (name, ip_address, secret) VALUES (%s, %s, 'far-secret-2-16c') "
        "RETURNING id",
        ("far-" + os.urandom(3).hex(), f"192.0.2.{secrets.randbelow(250) + 1}"),
    ).fetchone()["id"]


@pytest.mark.parametrize(("reason", "setup", "request_extra"), [
    ("tariff_inactive", {"tariff": None}, []),
    ("tariff_inactive", {"tariff_active": False}, []),
    ("account_disabled", {"status": "inactive_charged"}, []),
    ("wrong_access_type", {}, [("Framed-Protocol", None), ("Service-Type", "Login-User")]),
    ("wrong_nas", {"nas_id": "other"}, []),
    ("mac_mismatch", {"bind_to_mac": True, "mac_address": "00:11:22:33:44:55"},
     [("Calling-Station-Id", "66-77-88-99-AA-BB")]),
    ("balance_zero", {"balance": "0"}, []),
    ("blocked_by_balance", {"blocked_by_balance": True}, []),
    ("simultaneous_use", {"live_session": True}, []),
])
def test_every_reject_reason_reaches_the_log(radius, dbc, reason, setup, request_extra):
    setup = dict(setup)
    tariff_id = tariff(dbc) if setup.pop("tariff", True) else None
    if setup.pop("tariff_active", True) is False:
        dbc.execute("UPDATE tariffs SET active = false WHERE id = %s", (tariff_id,))
    if setup.get("nas_id") == "other":
        setup["nas_id"] = other_nas(dbc)
    live = setup.pop("live_session", False)
    blocked = setup.pop("blocked_by_balance", False)
    user = subscriber(dbc, tariff_id, **setup)
    if blocked:
        dbc.execute("UPDATE accounts SET blocked_by_balance = true WHERE login = %s", (user,))
    if live:
        dbc.execute(
            "INSERT INTO sessions_open (acct_unique_id, acct_session_id, subaccount_id, "
            "nas_ip, username, started_at, updated_at) SELECT %s, 's1', id, '127.0.0.1', "
            "username, now(), now() FROM subaccounts WHERE username = %s",
            (os.urandom(8).hex(), user))
    attributes = [("User-Name", user), ("User-Password", PASSWORD)]
    dropped = {name for name, value in request_extra if value is None}
    attributes += [(n, v) for n, v in request_extra if v is not None]
    base = [("NAS-IP-Address", "127.0.0.1"), ("Message-Authenticator", "0x00")]
    if "Framed-Protocol" not in dropped:
        base.append(("Framed-Protocol", "PPP"))
    reply = radclient(radius.auth_port, "auth", SECRET, attributes + base,
                      raddb=radius.directory, timeout=2.0, retries=1)
    assert reply.code == "Access-Reject", reply.output
    assert logged(dbc, user) == [(reason, False, False)]


def test_stale_sessions_do_not_count_and_a_static_address_is_replied(radius, dbc):
    user = subscriber(dbc, tariff(dbc), ip_address="10.5.5.5", mac_address="00:11:22:33:44:56",
                      bind_to_mac=True)
    dbc.execute(
        "INSERT INTO sessions_open (acct_unique_id, acct_session_id, subaccount_id, nas_ip, "
        "username, started_at, updated_at, interim_interval) SELECT %s, 's1', id, "
        "'127.0.0.1', username, now() - interval '2 hours', now() - interval '1 hour', 300 "
        "FROM subaccounts WHERE username = %s", (os.urandom(8).hex(), user))
    reply = auth(radius, [("User-Name", user), ("User-Password", PASSWORD),
                          ("Calling-Station-Id", "00:11:22:33:44:56")])
    assert reply.code == "Access-Accept", reply.output
    assert reply.attributes["Framed-IP-Address"] == "10.5.5.5"
    assert "Framed-Pool" not in reply.attributes


def test_dhcp_subscriber_found_by_mac_or_address_without_a_password(radius, dbc):
    dbc.execute("UPDATE nas SET dhcp_ipoe = true WHERE name = 'local'")  # serves DHCP/IPoE
    dhcp = tariff(dbc)
    dbc.execute("UPDATE tariffs SET access_type = 'dhcp' WHERE id = %s", (dhcp,))
    subscriber(dbc, dhcp, mac_address="02:00:00:00:00:01")
    subscriber(dbc, dhcp, ip_address="10.7.7.7")
    by_mac = radclient(radius.auth_port, "auth", SECRET, [
        ("User-Name", "02:00:00:00:00:01"), ("Calling-Station-Id", "02-00-00-00-00-01"),
        ("NAS-IP-Address", "127.0.0.1"), ("Message-Authenticator", "0x00")],
        raddb=radius.directory, timeout=2.0)
    assert by_mac.code == "Access-Accept", by_mac.output
    assert by_mac.attributes["Mikrotik-Rate-Limit"] == "10M/20M"
    by_ip = radclient(radius.auth_port, "auth", SECRET, [
        ("User-Name", "port-7"), ("Framed-IP-Address", "10.7.7.7"),
        ("NAS-IP-Address", "127.0.0.1"), ("Message-Authenticator", "0x00")],
        raddb=radius.directory, timeout=2.0)
    assert by_ip.code == "Access-Accept", by_ip.output
    # A PPP login that merely names the MAC is a stranger: no password check is skipped.
    ppp = pap(radius, "02:00:00:00:00:01", "anything")
    assert ppp.code == "Access-Reject"
    assert logged(dbc, "02:00:00:00:00:01") == [("ok", True, False),
                                                ("unknown_login", False, False)]


def test_chap_accept_with_the_sealed_password(radius, dbc):
    user = subscriber(dbc, tariff(dbc, chap=True), chap_key=KEY)
    reply = auth(radius, [("User-Name", user), ("CHAP-Password", PASSWORD)])
    assert reply.code == "Access-Accept", reply.output
    assert reply.attributes["Mikrotik-Rate-Limit"] == "10M/20M"
    bad = auth(radius, [("User-Name", user), ("CHAP-Password", "wrong")])
    assert bad.code == "Access-Reject"
    assert logged(dbc, user) == [("ok", True, False), ("wrong_password", False, False)]


def test_chap_is_refused_where_the_tariff_does_not_enable_it(radius, dbc):
    user = subscriber(dbc, tariff(dbc, chap=False), chap_key=KEY)
    reply = auth(radius, [("User-Name", user), ("CHAP-Password", PASSWORD)])
    assert reply.code == "Access-Reject"
    assert pap(radius, user).code == "Access-Accept"  # PAP still works from the NT hash


def test_mschapv2_accept_with_success(radius, dbc):
    user = subscriber(dbc, tariff(dbc))
    auth_challenge, peer_challenge = os.urandom(16), os.urandom(16)
    attributes = mschapv2.radius_attributes(user, PASSWORD, auth_challenge, peer_challenge)
    reply = auth(radius, attributes)
    assert reply.code == "Access-Accept", reply.output
    nt_resp = bytes.fromhex(dict(attributes)["MS-CHAP2-Response"][2:])[26:]
    expected = mschapv2.authenticator_response(
        PASSWORD, nt_resp, peer_challenge, auth_challenge, user)
    success = bytes.fromhex(reply.attributes["MS-CHAP2-Success"][2:])
    assert success[1:].decode() == expected  # ident, then the authenticator response
    assert reply.attributes["Mikrotik-Rate-Limit"] == "10M/20M"

    wrong = mschapv2.radius_attributes(user, "wrong", auth_challenge, peer_challenge)
    assert auth(radius, wrong).code == "Access-Reject"
    assert logged(dbc, user) == [("ok", True, False), ("wrong_password", False, False)]


@pytest.mark.parametrize("name", [
    "x' OR '1'='1",
    "a'); DROP TABLE accounts; --",
    'q"uote=x%{User-Password}',  # radclient keeps a backslash doubled: none here
    "u" * 253,
])
def test_hostile_user_names_are_rejected_and_logged(radius, dbc, name):
    quoted = '"' + name.replace('"', '\\"') + '"'  # radclient's syntax
    reply = pap(radius, quoted)
    assert reply.code == "Access-Reject", reply.output
    assert logged(dbc, name) == [("unknown_login", False, False)]
    assert dbc.execute("SELECT to_regclass('accounts') IS NOT NULL AS ok").fetchone()["ok"]
    user = subscriber(dbc, tariff(dbc))
    assert pap(radius, user).code == "Access-Accept"  # the module is alive and well


def test_no_traceback_in_the_server_log(radius):
    log = radius.log.read_text()
    assert "rlm_ebs: ready" in log
    assert "Traceback" not in log


def test_database_down_is_a_quick_reject(auth_db, tmp_path):
    """rlm_sql cannot fetch: the site rejects with db_unavailable, within a second, and
    keeps answering (the local cache of recent subscribers is not built yet)."""
    server = make_server(tmp_path / "conf", auth_db)
    server.db_port = free_port()  # nothing listens there
    server = start_with_retry(lambda: server)
    try:
        for _ in range(2):
            started = time.monotonic()
            reply = pap(server, "anyone")
            assert reply.code == "Access-Reject", reply.output
            assert time.monotonic() - started < 1.0
        assert "Traceback" not in server.log.read_text()
    finally:
        server.stop()


def test_round_trips_per_request_counted_at_postgresql(radius, dbc):
    """One statement fetches the facts, one leases (an accept), one writes the auth log:
    counted by pg_stat_statements over everything every client sent to this database."""
    accepted = [subscriber(dbc, tariff(dbc)) for _ in range(5)]
    unknown = ["nobody-" + os.urandom(4).hex() for _ in range(3)]
    assert pap(radius, accepted[0]).code == "Access-Accept"  # the pool is connected
    dbc.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    dbc.execute("SELECT pg_stat_statements_reset()")

    assert [pap(radius, u).code for u in accepted] == ["Access-Accept"] * len(accepted)
    assert [pap(radius, u).code for u in unknown] == ["Access-Reject"] * len(unknown)

    rows = dbc.execute(
        "SELECT query, calls FROM pg_stat_statements"
        " WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
        "   AND query NOT LIKE '%%pg_stat_statements%%'").fetchall()
    calls = {"check": 0, "lease": 0, "log": 0, "other": 0}
    for row in rows:
        kind = ("check" if "ebs_radius_check" in row["query"] else
                "lease" if "ebs_radius_lease" in row["query"] else
                "log" if "ebs_auth_log_write" in row["query"] else "other")
        calls[kind] += row["calls"]
    requests = len(accepted) + len(unknown)
    assert calls == {"check": requests, "lease": len(accepted), "log": requests,
                     "other": 0}, rows
