"""RADIUS_AUTH_MODE "spool" through a real FreeRADIUS: the auth log and the leases leave
the request path.

A node hands out addresses it holds (rlm_ebs/reservations.py, ebs_radius_reserve), the
answer goes to the auth spool, and the drain (stack/auth_spool.py) writes the auth-log
rows and the offers. Shown here: the first login of a node leases through rlm_sql and
fills its reservation, the next ones take reserved addresses; the drain makes the log
complete and each reserved address the offered lease it is in "live" mode; a Start
that comes before the drain confirms the lease; a wrong password gives the address
back; a subscriber who had an address gets it back; a restart releases what the node
held; two nodes on one database never lease an address twice."""

from __future__ import annotations

import re
import time
import uuid

import psycopg
import pytest
from psycopg.rows import dict_row

from stack import auth_spool
from stack.servers.freeradius import FreeRadiusServer, radclient
from tests.harness import start_with_retry
from tests.system.test_radius_leases import (
    NAS_IP,
    SECRET,
    accounting,
    burst,
    class_of,
    lease,
    logged,
    login,
    make_server,
    many_subscribers,
    pool,
    subscriber,
    tariff,
)

LEASE_ID = re.compile(r"^ebs:(\d+):(\d+):")


@pytest.fixture(scope="module")
def spool_db(pg_server, template_db):
    name = f"auth_spool_{uuid.uuid4().hex[:12]}"
    pg_server.create_database(name, template=template_db)
    yield pg_server.conninfo(name)
    pg_server.drop_database(name)


@pytest.fixture(scope="module")
def dbc(spool_db):
    with psycopg.connect(spool_db, autocommit=True, row_factory=dict_row) as connection:
        connection.execute(
            "INSERT INTO nas (name, vendor, ip_address, secret, acct_interim_interval) "
            "VALUES ('local', 'mikrotik', %s, %s, 120)", (NAS_IP, SECRET))
        yield connection


def spool_server(directory, conninfo: str, name: str) -> FreeRadiusServer:
    return make_server(directory, conninfo, auth_mode="spool", node_name=name)


@pytest.fixture(scope="module")
def radius(spool_db, dbc, tmp_path_factory):
    server = start_with_retry(lambda: spool_server(
        tmp_path_factory.mktemp("radius-auth-spool") / "conf", spool_db, "node-a"))
    yield server
    server.stop()


def drain(server: FreeRadiusServer, dbc) -> auth_spool.AuthDrain:
    """What the follower does a couple of seconds later, now (every file settled)."""
    with psycopg.connect(dbc.info.dsn, password=dbc.info.password,
                         autocommit=True) as conn:
        return auth_spool.drain(conn, server.radacct_dir / "auth-spool",
                                now=time.time() + 10)


def lease_id(reply) -> int:
    return int(LEASE_ID.match(class_of(reply))[2])


def reserved(dbc, node_prefix: str) -> int:
    return dbc.execute("SELECT count(*) AS n FROM ip_leases WHERE state = 'reserved' "
                       "AND node LIKE %s", (node_prefix + "/%",)).fetchone()["n"]


def test_logins_take_reserved_addresses_and_the_drain_writes_log_and_offers(radius, dbc):
    pool_id = pool(dbc, "10.60.0.1", "10.60.0.200")
    tariff_id = tariff(dbc, pool_id)
    people = [subscriber(dbc, tariff_id) for _ in range(6)]
    replies = [login(radius, user) for user, _ in people]
    assert [r.code for r in replies] == ["Access-Accept"] * 6, replies[0].output
    addresses = [r.attributes["Framed-IP-Address"] for r in replies]
    assert len(set(addresses)) == 6
    ids = [lease_id(r) for r in replies]
    # The first leased through rlm_sql and asked for more; the rest came from memory:
    # their rows are still the node's reservation, not yet anyone's offer.
    assert lease(dbc, ids[0])["state"] == "offered"
    assert {lease(dbc, i)["state"] for i in ids[1:]} == {"reserved"}
    assert reserved(dbc, "node-a") >= 5
    assert logged(dbc, people[0][0]) == []  # the log waits for the drain

    result = drain(radius, dbc)
    assert (result.logged, result.offers, result.bad_lines) >= (6, 5, 0)
    for (user, sub_id), reply, i in zip(people, replies, ids, strict=True):
        row = lease(dbc, i)
        assert (row["state"], row["subaccount_id"], row["address"]) == (
            "offered", sub_id, reply.attributes["Framed-IP-Address"])
        assert logged(dbc, user) == [("ok", True, False)]
    answer_us = dbc.execute("SELECT answer_us FROM auth_log WHERE username = ANY(%s)",
                            ([u for u, _ in people],)).fetchall()
    assert all(r["answer_us"] is not None and r["answer_us"] >= 0 for r in answer_us)
    assert drain(radius, dbc).logged == 0  # nothing twice


def test_a_start_before_the_drain_confirms_the_reserved_lease(radius, dbc):
    pool_id = pool(dbc, "10.61.0.1", "10.61.0.200")
    tariff_id = tariff(dbc, pool_id)
    login(radius, subscriber(dbc, tariff_id)[0])  # fills the reservation
    user, sub_id = subscriber(dbc, tariff_id)
    reply = login(radius, user)
    i = lease_id(reply)
    assert lease(dbc, i)["state"] == "reserved"
    accounting(radius, "Start", user, "s-" + user, Class=reply.attributes["Class"],
               Framed_IP_Address=reply.attributes["Framed-IP-Address"])
    row = lease(dbc, i)
    assert (row["state"], row["subaccount_id"]) == ("active", sub_id)
    drain(radius, dbc)
    row = lease(dbc, i)
    assert (row["state"], row["subaccount_id"]) == ("active", sub_id)


def test_a_wrong_password_gives_the_address_back(radius, dbc):
    pool_id = pool(dbc, "10.62.0.1", "10.62.0.200")
    tariff_id = tariff(dbc, pool_id)
    login(radius, subscriber(dbc, tariff_id)[0])  # fills the reservation
    first = login(radius, subscriber(dbc, tariff_id)[0])
    user, _ = subscriber(dbc, tariff_id)
    bad = radclient(radius.auth_port, "auth", SECRET, [
        ("User-Name", user), ("User-Password", "not-the-password"),
        ("NAS-IP-Address", NAS_IP), ("Framed-Protocol", "PPP"),
        ("Message-Authenticator", "0x00")],
        raddb=radius.directory, timeout=2.0, retries=1)
    assert bad.code == "Access-Reject"
    after = login(radius, subscriber(dbc, tariff_id)[0])
    # The address the rejected login had taken is the next one out.
    held = [int(a.split(".")[3]) for a in (first.attributes["Framed-IP-Address"],
                                          after.attributes["Framed-IP-Address"])]
    assert held[1] == held[0] + 1
    drain(radius, dbc)
    assert logged(dbc, user) == [("wrong_password", False, False)]


def test_a_subscriber_who_had_an_address_gets_it_back(radius, dbc):
    pool_id = pool(dbc, "10.63.0.1", "10.63.0.200")
    tariff_id = tariff(dbc, pool_id)
    login(radius, subscriber(dbc, tariff_id)[0])
    user, _ = subscriber(dbc, tariff_id)
    first = login(radius, user)
    drain(radius, dbc)  # the offer lands: the subscriber now has a lease row
    again = login(radius, user)
    assert again.attributes["Framed-IP-Address"] == first.attributes["Framed-IP-Address"]
    assert lease_id(again) == lease_id(first)  # rlm_sql's lease: the same row


def test_a_restart_releases_what_the_node_held(spool_db, dbc, tmp_path):
    pool_id = pool(dbc, "10.64.0.1", "10.64.0.200")
    tariff_id = tariff(dbc, pool_id)
    directory = tmp_path / "conf"
    server = start_with_retry(lambda: spool_server(directory, spool_db, "node-r"))
    try:
        login(server, subscriber(dbc, tariff_id)[0])
        user, sub_id = subscriber(dbc, tariff_id)
        reply = login(server, user)
        held = reserved(dbc, "node-r")
        assert held >= 1
    finally:
        server.stop()
    server = start_with_retry(lambda: spool_server(directory, spool_db, "node-r"))
    try:
        login(server, subscriber(dbc, tariff_id)[0])  # its first refill releases them
        i = lease_id(reply)
        row = lease(dbc, i)
        # Released as an unconfirmed offer: the session that holds it keeps it by Start.
        assert (row["state"], row["subaccount_id"]) == ("offered", None)
        accounting(server, "Start", user, "s-" + user, Class=reply.attributes["Class"],
                   Framed_IP_Address=reply.attributes["Framed-IP-Address"])
        row = lease(dbc, i)
        assert (row["state"], row["subaccount_id"]) == ("active", sub_id)
        drain(server, dbc)
    finally:
        server.stop()


@pytest.mark.slow
def test_two_nodes_never_lease_an_address_twice(radius, dbc, spool_db, tmp_path):
    """2,000 logins split over two nodes into 1,800 addresses: every accept a different
    address, every reject pool_exhausted. At the pool's end a node may still hold
    addresses the other could not take (at most one reservation, 32, each): those stay
    reserved, never given twice. After the drain one offered lease per accept and the
    auth log complete."""
    overflow = pool(dbc, "10.66.0.1", "10.66.1.44")  # 300 addresses
    main = pool(dbc, "10.65.0.1", "10.65.5.220", next_pool=overflow)  # 1,500
    users = many_subscribers(dbc, tariff(dbc, main), 2000)
    other = start_with_retry(lambda: spool_server(tmp_path / "conf", spool_db, "node-b"))
    try:
        runs = [burst(radius, users[0::2], tmp_path / "a.txt"),
                burst(other, users[1::2], tmp_path / "b.txt")]
        outputs = [run.communicate(timeout=300) for run in runs]
        drain(radius, dbc)
        drain(other, dbc)
    finally:
        other.stop()
    output = "".join(out for out, _ in outputs)
    assert "No reply" not in "".join(err for _, err in outputs)
    addresses = re.findall(r"^\s+Framed-IP-Address = (\S+)$", output, re.MULTILINE)
    accepted = output.count("Received Access-Accept")
    assert 1800 - 2 * 32 <= accepted <= 1800
    assert output.count("Received Access-Reject") == 2000 - accepted
    assert len(addresses) == len(set(addresses)) == accepted
    reasons = dbc.execute(
        "SELECT reason, count(*) AS n FROM auth_log WHERE username = ANY(%s) GROUP BY reason "
        "ORDER BY reason", (users,)).fetchall()
    assert [(r["reason"], r["n"]) for r in reasons] == [
        ("ok", accepted), ("pool_exhausted", 2000 - accepted)]
    rows = dbc.execute(
        "SELECT state, count(*) AS n, count(DISTINCT subaccount_id) AS holders, "
        "count(DISTINCT host(address)) AS addresses FROM ip_leases "
        "WHERE pool_id IN (%s, %s) GROUP BY state ORDER BY state", (main, overflow)).fetchall()
    assert {r["state"]: (r["n"], r["holders"], r["addresses"]) for r in rows} == {
        "offered": (accepted, accepted, accepted),
        **({"reserved": (1800 - accepted, 0, 1800 - accepted)} if accepted < 1800 else {})}
