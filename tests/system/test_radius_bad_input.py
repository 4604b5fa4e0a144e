"""Malformed and hostile Access-Requests through a real FreeRADIUS: each gets a reject (with
its reason in auth_log) or is silently dropped as FreeRADIUS does (with a line in its
log), never a traceback, and the server answers the next good request.

Hostile User-Names (quotes, SQL, 253 bytes) are in test_radius_auth.py; a request from an
address that is no NAS (an unknown client) is in test_radius_clients.py."""

from __future__ import annotations

import os

import psycopg
import pytest
from psycopg.rows import dict_row

from stack.servers.freeradius import FreeRadiusServer, RadiusReply, radclient
from tests.harness import start_with_retry
from tests.system.test_radius_auth import (
    NAS_INTERIM,
    PASSWORD,
    SECRET,
    logged,
    make_server,
    pap,
    subscriber,
    tariff,
)

LONGEST = 253  # bytes in one RADIUS attribute value


@pytest.fixture(scope="module")
def bad_db(pg_server, template_db):
    name = f"bad_{os.urandom(6).hex()}"
    pg_server.create_database(name, template=template_db)
    yield pg_server.conninfo(name)
    pg_server.drop_database(name)


@pytest.fixture(scope="module")
def dbc(bad_db):
    with psycopg.connect(bad_db, autocommit=True, row_factory=dict_row) as connection:
        connection.execute(
            # A NAS serving DHCP/IPoE: its requests may find subscribers without a login.
            "INSERT INTO nas (name, vendor, ip_address, secret, acct_interim_interval, "
            "dhcp_ipoe) VALUES ('local', 'mikrotik', '127.0.0.1', %s, %s, true)",
            (SECRET, NAS_INTERIM))
        yield connection


@pytest.fixture(scope="module")
def radius(bad_db, dbc, tmp_path_factory):
    base = tmp_path_factory.mktemp("radius-bad")
    server = start_with_retry(lambda: make_server(base / "conf", bad_db))
    yield server
    server.stop()


@pytest.fixture
def still_answers(radius, dbc):
    """After the test: the server runs, answers a good login, logged no traceback."""
    yield
    assert radius.running()
    user = subscriber(dbc, tariff(dbc))
    assert pap(radius, user).code == "Access-Accept"
    assert "Traceback" not in radius.log.read_text()


def send(radius: FreeRadiusServer, attributes: list[tuple[str, str]]) -> RadiusReply:
    return radclient(radius.auth_port, "auth", SECRET, attributes,
                     raddb=radius.directory, timeout=1.0, retries=1)


def quoted(value: str) -> str:
    return '"' + value.replace('"', '\\"') + '"'  # radclient's syntax


def log_since(radius: FreeRadiusServer, offset: int) -> str:
    with radius.log.open("rb") as fh:
        fh.seek(offset)
        return fh.read().decode(errors="replace")


def test_no_message_authenticator_is_dropped(radius, dbc, still_answers):
    """Every client has require_message_authenticator (BlastRADIUS): FreeRADIUS drops the
    packet before any module runs, so there is no auth_log row; 3.2.1 writes its line
    ("Insecure packet ... does not contain required Message-Authenticator") only in
    debug mode (-X), which is where an operator chasing a silent NAS looks."""
    user = subscriber(dbc, tariff(dbc))
    reply = send(radius, [("User-Name", user), ("User-Password", PASSWORD),
                          ("NAS-IP-Address", "127.0.0.1"), ("Framed-Protocol", "PPP")])
    assert reply.code is None  # silence, not even a reject
    assert logged(dbc, user) == []


def test_missing_nas_ip_address_is_the_client_it_came_from(radius, dbc, still_answers):
    user = subscriber(dbc, tariff(dbc))
    reply = send(radius, [("User-Name", user), ("User-Password", PASSWORD),
                          ("Framed-Protocol", "PPP"), ("Message-Authenticator", "0x00")])
    assert reply.code == "Access-Accept", reply.output
    # The NAS's own settings: its interim interval and its vendor's rate limit.
    assert reply.attributes["Acct-Interim-Interval"] == str(NAS_INTERIM)
    assert reply.attributes["Mikrotik-Rate-Limit"] == "10M/20M"
    row = dbc.execute("SELECT host(nas_ip) AS ip FROM auth_log WHERE username = %s",
                      (user,)).fetchone()
    assert row["ip"] == "127.0.0.1"


def test_unknown_or_forged_nas_ip_address_does_not_change_the_nas(radius, dbc, still_answers):
    """The packet's source, vouched for by the NAS's secret, names the NAS; a
    NAS-IP-Address no NAS has, or another NAS's, changes nothing."""
    far = dbc.execute("INSERT INTO nas (name, vendor, ip_address, secret) VALUES "
                      "('far', 'cisco', '192.0.2.77', 'far-secret-16-ch') RETURNING id").fetchone()
    user = subscriber(dbc, tariff(dbc))
    for nas_ip in ("198.51.100.1", "192.0.2.77"):
        reply = send(radius, [("User-Name", user), ("User-Password", PASSWORD),
                              ("NAS-IP-Address", nas_ip), ("Framed-Protocol", "PPP"),
                              ("Message-Authenticator", "0x00")])
        assert reply.code == "Access-Accept", reply.output
        assert reply.attributes["Mikrotik-Rate-Limit"] == "10M/20M"  # not Cisco's
    bound = subscriber(dbc, tariff(dbc), nas_id=far["id"])
    reply = send(radius, [("User-Name", bound), ("User-Password", PASSWORD),
                          ("NAS-IP-Address", "192.0.2.77"), ("Framed-Protocol", "PPP"),
                          ("Message-Authenticator", "0x00")])
    assert reply.code == "Access-Reject"
    assert logged(dbc, bound) == [("wrong_nas", False, False)]


def test_no_user_name_is_a_bad_request(radius, dbc, still_answers):
    reply = send(radius, [("User-Password", PASSWORD), ("NAS-IP-Address", "127.0.0.1"),
                          ("Framed-Protocol", "PPP"), ("Message-Authenticator", "0x00")])
    assert reply.code == "Access-Reject"
    row = dbc.execute("SELECT reason FROM auth_log WHERE username = '' ORDER BY id DESC "
                      "LIMIT 1").fetchone()
    assert row["reason"] == "bad_request"


def test_user_name_not_utf8_is_a_bad_request(radius, dbc, still_answers):
    offset = radius.log.stat().st_size
    reply = send(radius, [("User-Name", '"bad\\377name"'), ("User-Password", PASSWORD),
                          ("NAS-IP-Address", "127.0.0.1"), ("Framed-Protocol", "PPP"),
                          ("Message-Authenticator", "0x00")])
    assert reply.code == "Access-Reject", reply.output
    row = dbc.execute("SELECT reason FROM auth_log WHERE username LIKE 'bad%%name' "
                      "ORDER BY id DESC LIMIT 1").fetchone()
    assert row["reason"] == "bad_request"
    assert "Traceback" not in log_since(radius, offset)


def test_longest_hostile_values_everywhere(radius, dbc, still_answers):
    """Every string the query carries at 253 bytes of quotes and SQL at once: rlm_sql
    escapes each byte (three times the length), the query still fits, and the values
    reach the database exactly."""
    hostile = ("x'); DROP TABLE nas; --\"%{User-Password}" * 8)[:LONGEST]
    user = subscriber(dbc, tariff(dbc))
    attributes = [("User-Name", user), ("User-Password", PASSWORD),
                  ("Calling-Station-Id", quoted(hostile)),
                  ("ADSL-Agent-Remote-Id", "0x" + "27" * LONGEST),
                  ("ADSL-Agent-Circuit-Id", "0x" + "22" * LONGEST),
                  ("NAS-IP-Address", "127.0.0.1"), ("Framed-Protocol", "PPP"),
                  ("Message-Authenticator", "0x00")]
    reply = send(radius, attributes)
    assert reply.code == "Access-Accept", reply.output
    row = dbc.execute("SELECT calling_station_id FROM auth_log WHERE username = %s",
                      (user,)).fetchone()
    assert row["calling_station_id"] == hostile

    stranger = ("o'brien\"; SELECT pg_sleep(5); --" * 8)[:LONGEST]
    attributes[0] = ("User-Name", quoted(stranger))
    attributes[2] = ("Calling-Station-Id", quoted(stranger))
    reply = send(radius, attributes)
    assert reply.code == "Access-Reject", reply.output
    assert logged(dbc, stranger) == [("unknown_login", False, False)]
    assert dbc.execute("SELECT count(*) AS n FROM nas").fetchone()["n"] >= 1


def test_a_dhcp_request_with_hostile_option82_is_unknown(radius, dbc, still_answers):
    reply = send(radius, [("User-Name", "02:00:00:00:0d:01"),
                          ("ADSL-Agent-Remote-Id", "0x" + (b"' OR 1=1 --".hex() * 30)[:506]),
                          ("ADSL-Agent-Circuit-Id", "0x" + "ff" * LONGEST),
                          ("NAS-IP-Address", "127.0.0.1"), ("Message-Authenticator", "0x00")])
    assert reply.code == "Access-Reject", reply.output
    assert logged(dbc, "02:00:00:00:0d:01") == [("unknown_login", False, False)]
