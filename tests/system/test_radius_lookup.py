"""Finding the subscriber of a DHCP/IPoE Access-Request without a login: by the DHCP relay's
option 82 (a bound remote/circuit id pair, or a switch and port), by MAC in any common
spelling. A real FreeRADIUS; ebs_radius_check (sql/functions/ebs_radius_subaccount.sql) finds
the subaccount in its one rlm_sql query."""

from __future__ import annotations

import os

import psycopg
import pytest
from psycopg.rows import dict_row

from stack.servers.freeradius import FreeRadiusServer, RadiusReply, radclient
from tests.harness import start_with_retry
from tests.system.test_radius_auth import (
    NAS_INTERIM,
    SECRET,
    logged,
    make_server,
    subscriber,
    tariff,
)


@pytest.fixture(scope="module")
def lookup_db(pg_server, template_db):
    name = f"lookup_{os.urandom(6).hex()}"
    pg_server.create_database(name, template=template_db)
    yield pg_server.conninfo(name)
    pg_server.drop_database(name)


@pytest.fixture(scope="module")
def dbc(lookup_db):
    with psycopg.connect(lookup_db, autocommit=True, row_factory=dict_row) as connection:
        connection.execute(
            # A NAS serving DHCP/IPoE: its requests may find subscribers without a login.
            "INSERT INTO nas (name, vendor, ip_address, secret, acct_interim_interval, "
            "dhcp_ipoe) VALUES ('local', 'mikrotik', '127.0.0.1', %s, %s, true)",
            (SECRET, NAS_INTERIM))
        yield connection


@pytest.fixture(scope="module")
def radius(lookup_db, dbc, tmp_path_factory):
    base = tmp_path_factory.mktemp("radius-lookup")
    server = start_with_retry(lambda: make_server(base / "conf", lookup_db))
    yield server
    server.stop()


def dhcp_tariff(dbc) -> int:
    tariff_id = tariff(dbc)
    dbc.execute("UPDATE tariffs SET access_type = 'dhcp' WHERE id = %s", (tariff_id,))
    return tariff_id


def send(radius: FreeRadiusServer, attributes: list[tuple[str, str]]) -> RadiusReply:
    """A DHCP server's Access-Request: no Framed-Protocol, no Service-Type."""
    return radclient(radius.auth_port, "auth", SECRET, [
        *attributes, ("NAS-IP-Address", "127.0.0.1"), ("Message-Authenticator", "0x00")],
        raddb=radius.directory, timeout=2.0, retries=1)


def hex_of(text: str) -> str:
    return "0x" + text.encode().hex()


@pytest.mark.parametrize("spell", [
    lambda octets: ":".join(octets),
    lambda octets: "-".join(octets).upper(),
    lambda octets: ".".join("".join(octets[i:i + 2]) for i in (0, 2, 4)),
    lambda octets: "".join(octets).upper(),
], ids=["colons", "dashes-upper", "cisco-dots", "bare-upper"])
def test_mac_in_any_common_spelling(radius, dbc, spell):
    # Five random octets: the module's subscribers share one database, and a single
    # random octet collides with another case's MAC about once in 40 runs.
    octets = ["02", *os.urandom(5).hex(":").split(":")]
    subscriber(dbc, dhcp_tariff(dbc), mac_address=":".join(octets))
    reply = send(radius, [("User-Name", "dhcp-" + "".join(octets)),
                          ("Calling-Station-Id", spell(octets))])
    assert reply.code == "Access-Accept", reply.output
    assert reply.attributes["Mikrotik-Rate-Limit"] == "10M/20M"


def test_option82_pair_bound_on_the_subaccount(radius, dbc):
    remote = "00:1e:58:" + os.urandom(3).hex(":")
    subscriber(dbc, dhcp_tariff(dbc), option82_remote_id=remote,
               option82_circuit_id="Gi1/0/7", ip_address="10.81.0.7")
    # The D-Link layout of a MAC remote id: type 0, length 6, the MAC.
    attributes = [("User-Name", "02:00:00:00:0b:01"),
                  ("ADSL-Agent-Remote-Id", "0x0006" + remote.replace(":", "")),
                  ("ADSL-Agent-Circuit-Id", hex_of("Gi1/0/7"))]
    reply = send(radius, attributes)
    assert reply.code == "Access-Accept", reply.output
    assert reply.attributes["Framed-IP-Address"] == "10.81.0.7"
    other_port = send(radius, [*attributes[:2], ("ADSL-Agent-Circuit-Id", hex_of("Gi1/0/8"))])
    assert other_port.code == "Access-Reject"
    assert logged(dbc, "02:00:00:00:0b:01") == [("ok", True, False),
                                                ("unknown_login", False, False)]


def test_option82_switch_and_port(radius, dbc):
    switch = "sw-" + os.urandom(3).hex()
    switch_id = dbc.execute("INSERT INTO switches (name, remote_id) VALUES (%s, %s) "
                            "RETURNING id", (switch, switch)).fetchone()["id"]
    port_user = subscriber(dbc, dhcp_tariff(dbc), ip_address="10.82.0.7")
    dbc.execute("INSERT INTO subaccount_switch_ports (subaccount_id, switch_id, port) "
                "SELECT id, %s, 7 FROM subaccounts WHERE username = %s", (switch_id, port_user))
    # Someone else's MAC in the same request: the port, where the cable is, wins.
    subscriber(dbc, dhcp_tariff(dbc), mac_address="02:00:00:00:0c:01", ip_address="10.82.0.9")
    binary_circuit = "0x000400640107"  # VLAN 100, module 1, port 7
    reply = send(radius, [("User-Name", "02:00:00:00:0c:01"),
                          ("Calling-Station-Id", "02:00:00:00:0c:01"),
                          ("ADSL-Agent-Remote-Id", hex_of(switch)),
                          ("ADSL-Agent-Circuit-Id", binary_circuit)])
    assert reply.code == "Access-Accept", reply.output
    assert reply.attributes["Framed-IP-Address"] == "10.82.0.7"
    # Another port of the same switch, bound to nobody: the MAC finds its owner.
    reply = send(radius, [("User-Name", "02:00:00:00:0c:01"),
                          ("ADSL-Agent-Remote-Id", hex_of(switch)),
                          ("ADSL-Agent-Circuit-Id", "0x000400640108")])
    assert reply.code == "Access-Accept", reply.output
    assert reply.attributes["Framed-IP-Address"] == "10.82.0.9"


def test_option82_never_stands_in_for_a_ppp_password(radius, dbc):
    switch = "sw-" + os.urandom(3).hex()
    switch_id = dbc.execute("INSERT INTO switches (name, remote_id) VALUES (%s, %s) "
                            "RETURNING id", (switch, switch)).fetchone()["id"]
    user = subscriber(dbc, tariff(dbc))  # a PPPoE tariff
    dbc.execute("INSERT INTO subaccount_switch_ports (subaccount_id, switch_id, port) "
                "SELECT id, %s, 3 FROM subaccounts WHERE username = %s", (switch_id, user))
    reply = send(radius, [("User-Name", "not-" + user), ("User-Password", "guess"),
                          ("Framed-Protocol", "PPP"),
                          ("ADSL-Agent-Remote-Id", hex_of(switch)),
                          ("ADSL-Agent-Circuit-Id", hex_of("eth 0/0/3"))])
    assert reply.code == "Access-Reject"
    assert logged(dbc, "not-" + user) == [("unknown_login", False, False)]
