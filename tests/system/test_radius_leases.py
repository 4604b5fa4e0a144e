"""Address leases, the Class and custom reply attributes through a real FreeRADIUS.

rlm_ebs names the pool, post-auth leases through rlm_sql (ebs_radius_lease), the
Access-Accept carries Framed-IP-Address and Class, and accounting (ebs_acct_apply and
the Interim fast path) confirms, holds and frees the lease. One server and one database
for the module; each test makes its own pools and subscribers."""

from __future__ import annotations

import os
import re
import subprocess
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import dict_row

from billing.credentials import nt_password_hash
from billing.sessions import sweep_stale_sessions
from stack.servers.base import free_port
from stack.servers.freeradius import FreeRadiusServer, RadiusReply, radclient
from tests.harness import radius_db_fields, start_with_retry

SECRET = "lease-secret-1-for-tests"
PASSWORD = "lease-Pass-1"
NAS_IP = "127.0.0.1"


@pytest.fixture(scope="module")
def lease_db(pg_server, template_db):
    name = f"lease_{uuid.uuid4().hex[:12]}"
    pg_server.create_database(name, template=template_db)
    yield pg_server.conninfo(name)
    pg_server.drop_database(name)


@pytest.fixture(scope="module")
def dbc(lease_db):
    with psycopg.connect(lease_db, autocommit=True, row_factory=dict_row) as connection:
        connection.execute(
            "INSERT INTO nas (name, vendor, ip_address, secret, acct_interim_interval) "
            "VALUES ('local', 'mikrotik', %s, %s, 120)", (NAS_IP, SECRET))
        yield connection


def make_server(directory: Path, conninfo: str, **fields: object) -> FreeRadiusServer:
    """A server on the test database ``conninfo`` names; ``fields`` override (another
    db_host/db_port: PgBouncer's)."""
    return FreeRadiusServer(**{
        "directory": directory,
        "auth_port": free_port(udp=True, tcp=False),
        "acct_port": free_port(udp=True, tcp=False),
        "clients": [("local", NAS_IP, SECRET)],
        "reject_delay": 0,
        **radius_db_fields(conninfo),
        "credentials_key": "00" * 32,
        **fields,
    })


@pytest.fixture(scope="module")
def radius(lease_db, dbc, tmp_path_factory):
    server = start_with_retry(
        lambda: make_server(tmp_path_factory.mktemp("radius-leases") / "conf", lease_db))
    yield server
    server.stop()


def pool(dbc, start: str, end: str, next_pool: int | None = None, name: str = "pool-") -> int:
    return dbc.execute(
        "INSERT INTO ip_pools (name, range_start, range_end, next_pool_id) "
        "VALUES (%s, %s, %s, %s) RETURNING id",
        (name + os.urandom(4).hex(), start, end, next_pool)).fetchone()["id"]


def tariff(dbc, pool_id: int | None, guest_pool_id: int | None = None) -> int:
    return dbc.execute(
        "INSERT INTO tariffs (name, ip_pool_id, guest_pool_id) VALUES (%s, %s, %s) "
        "RETURNING id", ("t-" + os.urandom(4).hex(), pool_id, guest_pool_id)).fetchone()["id"]


def subscriber(dbc, tariff_id: int, balance: str = "100", **columns: object) -> tuple[str, int]:
    login = "l" + os.urandom(5).hex()
    account_id = dbc.execute(
        "INSERT INTO accounts (contract, login) VALUES (%s, %s) RETURNING id",
        (login, login)).fetchone()["id"]
    dbc.execute(
        "INSERT INTO ledger_entries (account_id, kind, amount, idempotency_key, effective_at) "
        "VALUES (%s, 'correction', %s, %s, now())", (account_id, balance, "t-" + login))
    dbc.execute(
        "INSERT INTO account_tariffs (account_id, tariff_id, assigned_at) "
        "VALUES (%s, %s, now() - interval '1 day')", (account_id, tariff_id))
    sub_id = dbc.execute(
        "INSERT INTO subaccounts (account_id, username, nt_password_hash) VALUES (%s, %s, %s) "
        "RETURNING id", (account_id, login, nt_password_hash(PASSWORD))).fetchone()["id"]
    for column, value in columns.items():  # the test's own column names, never input
        dbc.execute(f"UPDATE subaccounts SET {column} = %s WHERE id = %s", (value, sub_id))
    return login, sub_id


def login(radius: FreeRadiusServer, user: str) -> RadiusReply:
    return radclient(radius.auth_port, "auth", SECRET, [
        ("User-Name", user), ("User-Password", PASSWORD), ("NAS-IP-Address", NAS_IP),
        ("Framed-Protocol", "PPP"), ("Message-Authenticator", "0x00")],
        raddb=radius.directory, timeout=2.0, retries=1)


def accounting(radius: FreeRadiusServer, status: str, user: str, session: str,
               **attrs: str) -> None:
    pairs = [("Acct-Status-Type", status), ("Acct-Session-Id", session), ("User-Name", user),
             ("NAS-IP-Address", NAS_IP), ("NAS-Port", "1")]
    pairs += [(name.replace("_", "-"), value) for name, value in attrs.items()]
    reply = radclient(radius.acct_port, "acct", SECRET, pairs, raddb=radius.directory,
                      timeout=2.0, retries=1)
    assert reply.code == "Accounting-Response", reply.output


def class_of(reply: RadiusReply) -> str:
    raw = reply.attributes["Class"]
    assert raw.startswith("0x"), raw
    return bytes.fromhex(raw[2:]).decode()


def lease(dbc, lease_id: int) -> dict:
    return dbc.execute(
        "SELECT host(address) AS address, state, subaccount_id, session_key, "
        "expires_at - now() AS left FROM ip_leases WHERE id = %s", (lease_id,)).fetchone()


def logged(dbc, user: str) -> list[tuple[str, bool, bool]]:
    rows = dbc.execute(
        "SELECT reason, accepted, guest FROM auth_log WHERE username = %s ORDER BY id", (user,))
    return [(r["reason"], r["accepted"], r["guest"]) for r in rows]


def test_accept_leases_an_address_and_the_class_names_it(radius, dbc):
    # A pool name as operators write them: Cyrillic, quotes, separators.
    named = pool(dbc, "10.20.0.1", "10.20.0.8", name="Абоненты; 'пул' =%")
    user, sub_id = subscriber(dbc, tariff(dbc, named))
    reply = login(radius, user)
    assert reply.code == "Access-Accept", reply.output
    address = reply.attributes["Framed-IP-Address"]
    assert address.startswith("10.20.0.")
    assert "Framed-Pool" not in reply.attributes
    prefix, sid, lease_id, given = class_of(reply).split(":", 3)
    assert (prefix, int(sid), given) == ("ebs", sub_id, "speed:none")
    row = lease(dbc, int(lease_id))
    assert (row["address"], row["state"], row["subaccount_id"]) == (address, "offered", sub_id)
    assert timedelta(0) < row["left"] <= timedelta(minutes=1)  # expires unless confirmed
    assert logged(dbc, user) == [("ok", True, False)]


def test_the_same_subaccount_gets_the_same_address_again(radius, dbc):
    tariff_id = tariff(dbc, pool(dbc, "10.21.0.1", "10.21.0.8"))
    user, _ = subscriber(dbc, tariff_id)
    other, _ = subscriber(dbc, tariff_id)
    first = login(radius, user).attributes["Framed-IP-Address"]
    assert login(radius, user).attributes["Framed-IP-Address"] == first
    assert login(radius, other).attributes["Framed-IP-Address"] != first
    assert login(radius, user).attributes["Framed-IP-Address"] == first


def test_a_full_pool_overflows_to_its_next_pool(radius, dbc):
    overflow = pool(dbc, "10.22.1.1", "10.22.1.1")
    tariff_id = tariff(dbc, pool(dbc, "10.22.0.1", "10.22.0.1", next_pool=overflow))
    first, _ = subscriber(dbc, tariff_id)
    second, _ = subscriber(dbc, tariff_id)
    assert login(radius, first).attributes["Framed-IP-Address"] == "10.22.0.1"
    assert login(radius, second).attributes["Framed-IP-Address"] == "10.22.1.1"


def test_the_subaccounts_own_pool_comes_before_the_tariffs(radius, dbc):
    own = pool(dbc, "10.23.1.1", "10.23.1.1")
    user, _ = subscriber(dbc, tariff(dbc, pool(dbc, "10.23.0.1", "10.23.0.1")), ip_pool_id=own)
    assert login(radius, user).attributes["Framed-IP-Address"] == "10.23.1.1"


def test_every_pool_full_is_a_reject_with_its_reason(radius, dbc):
    overflow = pool(dbc, "10.24.1.1", "10.24.1.1")
    tariff_id = tariff(dbc, pool(dbc, "10.24.0.1", "10.24.0.1", next_pool=overflow))
    users = [subscriber(dbc, tariff_id)[0] for _ in range(3)]
    assert [login(radius, u).code for u in users[:2]] == ["Access-Accept"] * 2
    reply = login(radius, users[2])
    assert reply.code == "Access-Reject", reply.output
    assert reply.attributes == {}  # nothing of the prepared accept survives
    assert logged(dbc, users[2]) == [("pool_exhausted", False, False)]


def test_a_wrong_password_leases_nothing(radius, dbc):
    user, sub_id = subscriber(dbc, tariff(dbc, pool(dbc, "10.24.5.1", "10.24.5.4")))
    reply = radclient(radius.auth_port, "auth", SECRET, [
        ("User-Name", user), ("User-Password", "wrong"), ("NAS-IP-Address", NAS_IP),
        ("Framed-Protocol", "PPP"), ("Message-Authenticator", "0x00")],
        raddb=radius.directory, timeout=2.0, retries=1)
    assert reply.code == "Access-Reject"
    assert dbc.execute("SELECT count(*) AS n FROM ip_leases WHERE subaccount_id = %s",
                       (sub_id,)).fetchone()["n"] == 0
    assert logged(dbc, user) == [("wrong_password", False, False)]


def test_a_debtor_gets_an_address_from_the_guest_pool(radius, dbc):
    guest = pool(dbc, "10.25.9.1", "10.25.9.4")
    user, sub_id = subscriber(dbc, tariff(dbc, pool(dbc, "10.25.0.1", "10.25.0.4"), guest),
                              balance="-5")
    reply = login(radius, user)
    assert reply.code == "Access-Accept", reply.output
    assert reply.attributes["Framed-IP-Address"].startswith("10.25.9.")
    assert class_of(reply).startswith(f"ebs:{sub_id}:")
    assert class_of(reply).endswith(":guest")  # what the login gave: the guest pool
    assert logged(dbc, user) == [("balance_negative", True, True)]


def test_a_static_address_is_replied_with_a_class_and_no_lease(radius, dbc):
    user, sub_id = subscriber(dbc, tariff(dbc, pool(dbc, "10.26.0.1", "10.26.0.4")),
                              ip_address="10.26.5.5")
    reply = login(radius, user)
    assert reply.attributes["Framed-IP-Address"] == "10.26.5.5"
    assert class_of(reply) == f"ebs:{sub_id}:0:speed:none"
    assert dbc.execute("SELECT count(*) AS n FROM ip_leases WHERE subaccount_id = %s",
                       (sub_id,)).fetchone()["n"] == 0


def test_start_confirms_interim_holds_and_stop_frees_the_lease(radius, dbc):
    tariff_id = tariff(dbc, pool(dbc, "10.27.0.1", "10.27.0.1"))
    user, sub_id = subscriber(dbc, tariff_id)
    reply = login(radius, user)
    address, klass = reply.attributes["Framed-IP-Address"], reply.attributes["Class"]
    lease_id = int(class_of(reply).split(":")[2])
    session = "s-" + os.urandom(4).hex()
    # The Class names the subaccount: a User-Name the NAS rewrote does not lose it.
    accounting(radius, "Start", "renamed-" + user, session, Framed_IP_Address=address,
               Class=klass, Acct_Interim_Interval="120")
    row = lease(dbc, lease_id)
    assert row["state"] == "active" and row["session_key"] is not None
    assert timedelta(minutes=5) < row["left"] <= timedelta(minutes=6)  # 3 interims
    opened = dbc.execute("SELECT subaccount_id FROM sessions_open WHERE acct_session_id = %s",
                         (session,)).fetchone()
    assert opened["subaccount_id"] == sub_id

    dbc.execute("UPDATE ip_leases SET expires_at = now() + interval '1 second' WHERE id = %s",
                (lease_id,))
    accounting(radius, "Interim-Update", "renamed-" + user, session, Framed_IP_Address=address,
               Class=klass, Acct_Session_Time="120")
    assert lease(dbc, lease_id)["left"] > timedelta(minutes=5)

    other, _ = subscriber(dbc, tariff_id)
    assert login(radius, other).code == "Access-Reject"  # the one address is in use
    # Interims held back (an outage): the lease's expiry passes, but its session is
    # still open, so the address stays the session's.
    dbc.execute("UPDATE ip_leases SET expires_at = now() - interval '1 second' WHERE id = %s",
                (lease_id,))
    assert login(radius, other).code == "Access-Reject"
    accounting(radius, "Stop", "renamed-" + user, session, Framed_IP_Address=address,
               Class=klass, Acct_Session_Time="180", Acct_Terminate_Cause="User-Request")
    row = lease(dbc, lease_id)
    assert (row["state"], row["session_key"], row["subaccount_id"]) == ("free", None, sub_id)
    assert row["left"] <= timedelta(0)
    assert login(radius, other).attributes["Framed-IP-Address"] == address


def test_a_freed_address_comes_back_to_its_subscriber_while_nobody_took_it(radius, dbc):
    tariff_id = tariff(dbc, pool(dbc, "10.28.0.1", "10.28.0.8"))
    user, _ = subscriber(dbc, tariff_id)
    reply = login(radius, user)
    address = reply.attributes["Framed-IP-Address"]
    session = "s-" + os.urandom(4).hex()
    accounting(radius, "Start", user, session, Class=reply.attributes["Class"],
               Framed_IP_Address=address)
    accounting(radius, "Stop", user, session, Acct_Terminate_Cause="Lost-Carrier")
    assert login(radius, user).attributes["Framed-IP-Address"] == address  # sticky
    session = "s-" + os.urandom(4).hex()
    accounting(radius, "Start", user, session, Framed_IP_Address=address)
    accounting(radius, "Stop", user, session, Acct_Terminate_Cause="Lost-Carrier")
    # Free addresses are reused longest-free first; this one is the only free row, so
    # the next newcomer takes it, and its old owner gets another.
    newcomer, _ = subscriber(dbc, tariff_id)
    assert login(radius, newcomer).attributes["Framed-IP-Address"] == address
    assert login(radius, user).attributes["Framed-IP-Address"] != address


def test_without_class_the_start_confirms_by_subscriber_and_address(radius, dbc):
    user, _ = subscriber(dbc, tariff(dbc, pool(dbc, "10.29.0.1", "10.29.0.4")))
    reply = login(radius, user)
    lease_id = int(class_of(reply).split(":")[2])
    accounting(radius, "Start", user, "s-" + os.urandom(4).hex(),
               Framed_IP_Address=reply.attributes["Framed-IP-Address"])
    assert lease(dbc, lease_id)["state"] == "active"


def test_nas_reboot_and_the_stale_sweep_free_leases(radius, dbc, lease_db):
    tariff_id = tariff(dbc, pool(dbc, "10.30.0.1", "10.30.0.8"))
    leases = []
    for _ in range(2):
        user, _ = subscriber(dbc, tariff_id)
        reply = login(radius, user)
        accounting(radius, "Start", user, "s-" + os.urandom(4).hex(),
                   Class=reply.attributes["Class"],
                   Framed_IP_Address=reply.attributes["Framed-IP-Address"])
        leases.append(int(class_of(reply).split(":")[2]))
    assert [lease(dbc, i)["state"] for i in leases] == ["active", "active"]
    # The sweep closes the first session (it went silent: its updated_at moved back).
    dbc.execute("UPDATE sessions_open SET updated_at = now() - interval '1 day' "
                "WHERE acct_unique_id = (SELECT session_key FROM ip_leases WHERE id = %s)",
                (leases[0],))
    with psycopg.connect(lease_db) as conn:
        assert sweep_stale_sessions(conn, datetime.now(UTC)).closed >= 1
    assert [lease(dbc, i)["state"] for i in leases] == ["free", "active"]
    accounting(radius, "Accounting-On", "nas", "0")
    assert [lease(dbc, i)["state"] for i in leases] == ["free", "free"]


def test_an_offered_lease_never_confirmed_expires(radius, dbc):
    tariff_id = tariff(dbc, pool(dbc, "10.31.0.1", "10.31.0.1"))
    first, _ = subscriber(dbc, tariff_id)
    second, _ = subscriber(dbc, tariff_id)
    reply = login(radius, first)
    assert login(radius, second).code == "Access-Reject"  # offered to the first
    lease_id = int(class_of(reply).split(":")[2])
    # The offer's minute is over (no Start came): the address is free for the next one.
    dbc.execute("UPDATE ip_leases SET expires_at = now() - interval '1 second' WHERE id = %s",
                (lease_id,))
    assert login(radius, second).attributes["Framed-IP-Address"] == "10.31.0.1"


def test_custom_reply_attributes_for_accept_and_guest(radius, dbc):
    guest = pool(dbc, "10.32.9.1", "10.32.9.4")
    tariff_id = tariff(dbc, pool(dbc, "10.32.0.1", "10.32.0.4"), guest)
    nas_id = dbc.execute("SELECT id FROM nas WHERE name = 'local'").fetchone()["id"]
    far_nas = dbc.execute(
        "INSERT INTO nas (name, ip_address, secret) VALUES (%s, '192.0.2.77', 'secret-9-16-char') "
        "RETURNING id", ("far-" + os.urandom(3).hex(),)).fetchone()["id"]
    dbc.cursor().executemany(
        "INSERT INTO radius_reply_attributes (tariff_id, nas_id, attribute, op, value, "
        "applies_when) VALUES (%s, %s, %s, %s, %s, %s)", [
            (tariff_id, None, "Reply-Message", ":=", "Welcome; it's 100%=ok", "accept"),
            (tariff_id, None, "Reply-Message", ":=", "Please pay", "guest"),
            (tariff_id, nas_id, "Idle-Timeout", ":=", "900", "always"),
            (tariff_id, far_nas, "Session-Timeout", ":=", "5", "always"),
            (tariff_id, None, "No-Such-Attribute-Here", ":=", "x", "always"),
        ])
    paying, _ = subscriber(dbc, tariff_id)
    debtor, _ = subscriber(dbc, tariff_id, balance="-5")
    accept = login(radius, paying)
    assert accept.code == "Access-Accept", accept.output
    assert accept.attributes["Reply-Message"] == "Welcome; it's 100%=ok"
    assert accept.attributes["Idle-Timeout"] == "900"
    assert "Session-Timeout" not in accept.attributes  # the other NAS's
    guest_reply = login(radius, debtor)
    assert guest_reply.code == "Access-Accept", guest_reply.output
    assert guest_reply.attributes["Reply-Message"] == "Please pay"
    assert guest_reply.attributes["Idle-Timeout"] == "900"
    # Another NAS's attribute does not apply here; an unknown name is skipped, not fatal.
    assert "Failed to find attribute" in radius.log.read_text()
    assert "Traceback" not in radius.log.read_text()


def test_the_database_refuses_a_malformed_custom_attribute(dbc):
    with pytest.raises(psycopg.errors.CheckViolation):
        dbc.execute("INSERT INTO radius_reply_attributes (attribute, value) "
                    "VALUES ('Bad Name', 'x')")


def lease_into(conn: psycopg.Connection, sid: int, pool_name: str, out: list[str]) -> None:
    out.append(conn.execute("SELECT ebs_radius_lease(%s, %s)", (sid, pool_name)).fetchone()[0])


def test_two_leasings_at_once_never_share_an_address(lease_db, dbc):
    """Two connections lease from a one-address pool at the same time. The first holds
    its lease uncommitted while the second runs (the overlap is observed, not assumed):
    the second waits for the first's row or skips it, and never gets the address too."""
    pool_name = dbc.execute("SELECT name FROM ip_pools WHERE id = %s",
                            (pool(dbc, "10.33.0.1", "10.33.0.1"),)).fetchone()["name"]
    tariff_id = tariff(dbc, None)
    sid_a, sid_b = (subscriber(dbc, tariff_id)[1] for _ in range(2))
    for round_ in ("fresh address", "expired row"):
        with psycopg.connect(lease_db) as first, psycopg.connect(lease_db) as second:
            got_a = first.execute("SELECT ebs_radius_lease(%s, %s)",
                                  (sid_a, pool_name)).fetchone()[0]
            assert got_a.endswith(" 10.33.0.1"), round_
            second_pid = second.info.backend_pid
            result: list[str] = []
            worker = threading.Thread(target=lease_into, args=(second, sid_b, pool_name, result))
            worker.start()
            # The second call is under way while the first's lease is uncommitted: it
            # either finished (skipped the locked row) or waits on the first's lock.
            with psycopg.connect(lease_db) as watcher:
                for _ in range(2000):
                    worker.join(0.005)
                    waiting = watcher.execute(
                        "SELECT wait_event_type = 'Lock' FROM pg_stat_activity "
                        "WHERE pid = %s", (second_pid,)).fetchone()[0]
                    if waiting or not worker.is_alive():
                        break
                assert waiting or result, "the two leasings did not overlap"
            first.commit()
            worker.join(10)
            second.commit()
            assert result == ["pool_exhausted"], round_
        if round_ == "fresh address":
            # Next: the row exists and has expired (nobody's); the same race then goes
            # through the row lock (FOR UPDATE SKIP LOCKED) instead of the unique key.
            dbc.execute("UPDATE ip_leases SET expires_at = now() - interval '1 second', "
                        "subaccount_id = NULL WHERE subaccount_id = %s", (sid_a,))
    assert dbc.execute("SELECT subaccount_id FROM ip_leases WHERE address = '10.33.0.1' "
                       "AND expires_at > now()").fetchall() == [{"subaccount_id": sid_a}]


def send_all(server: FreeRadiusServer, command: str, packets: list[dict[str, str]],
             path: Path) -> subprocess.Popen[str]:
    """Every packet at once, 50 in flight, from one radclient process (``command`` auth or
    acct, to the server's port for it)."""
    path.write_text("\n".join(
        "".join(f"{name} = {value}\n" for name, value in packet.items())
        for packet in packets))
    port = server.auth_port if command == "auth" else server.acct_port
    return subprocess.Popen(
        ["radclient", "-x", "-p", "50", "-r", "3", "-t", "10", "-d", str(server.directory),
         "-f", str(path), f"127.0.0.1:{port}", command, SECRET],
        # stderr apart: its unbuffered complaints would split stdout's lines.
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def burst(server: FreeRadiusServer, users: list[str], packets: Path) -> subprocess.Popen[str]:
    """All users' Access-Requests at once, 50 in flight, from one radclient process."""
    return send_all(server, "auth", [
        {"User-Name": f'"{u}"', "User-Password": f'"{PASSWORD}"', "NAS-IP-Address": NAS_IP,
         "Framed-Protocol": "PPP", "Message-Authenticator": "0x00"} for u in users], packets)


def many_subscribers(dbc, tariff_id: int, count: int) -> list[str]:
    """count paying subscribers on one tariff, in a few set-based statements."""
    prefix = "b" + os.urandom(3).hex() + "-"
    dbc.execute(
        "INSERT INTO accounts (contract, login) "
        "SELECT %(p)s || g, %(p)s || g FROM generate_series(1, %(n)s) g",
        {"p": prefix, "n": count})
    dbc.execute(
        "INSERT INTO ledger_entries (account_id, kind, amount, idempotency_key, effective_at) "
        "SELECT id, 'correction', 100, 't-' || login, now() FROM accounts "
        "WHERE login LIKE %(p)s || '%%'", {"p": prefix})
    dbc.execute(
        "INSERT INTO account_tariffs (account_id, tariff_id, assigned_at) "
        "SELECT id, %(t)s, now() - interval '1 day' FROM accounts WHERE login LIKE %(p)s || '%%'",
        {"p": prefix, "t": tariff_id})
    dbc.execute(
        "INSERT INTO subaccounts (account_id, username, nt_password_hash) "
        "SELECT id, login, %(h)s FROM accounts WHERE login LIKE %(p)s || '%%'",
        {"p": prefix, "h": nt_password_hash(PASSWORD)})
    return [f"{prefix}{i}" for i in range(1, count + 1)]


@pytest.mark.slow
def test_two_freeradius_servers_on_one_database_never_lease_an_address_twice(
        radius, dbc, lease_db, tmp_path):
    """A burst of 5,000 logins split over two servers sharing the database, into 4,800
    addresses (a pool and its overflow): 4,800 accepts with 4,800 different addresses,
    200 rejects for pool_exhausted, one lease row per address."""
    overflow = pool(dbc, "10.41.0.1", "10.41.3.32")  # 800 addresses
    main = pool(dbc, "10.40.0.1", "10.40.15.160", next_pool=overflow)  # 4,000
    users = many_subscribers(dbc, tariff(dbc, main), 5000)
    other = start_with_retry(lambda: make_server(tmp_path / "conf", lease_db))
    try:
        runs = [burst(radius, users[0::2], tmp_path / "a.txt"),
                burst(other, users[1::2], tmp_path / "b.txt")]
        outputs = [run.communicate(timeout=300) for run in runs]
    finally:
        other.stop()
    output = "".join(out for out, _ in outputs)
    assert "No reply" not in "".join(err for _, err in outputs)
    accepted = output.count("Received Access-Accept")
    addresses = re.findall(r"^\s+Framed-IP-Address = (\S+)$", output, re.MULTILINE)
    assert (accepted, output.count("Received Access-Reject")) == (4800, 200), output[-2000:]
    assert len(addresses) == len(set(addresses)) == 4800
    assert {a.split(".")[1] for a in addresses} == {"40", "41"}
    reasons = dbc.execute(
        "SELECT reason, count(*) AS n FROM auth_log WHERE username = ANY(%s) GROUP BY reason "
        "ORDER BY reason", (users,)).fetchall()
    assert [(r["reason"], r["n"]) for r in reasons] == [("ok", 4800), ("pool_exhausted", 200)]
    leased = dbc.execute(
        "SELECT count(*) AS n, count(DISTINCT subaccount_id) AS holders, "
        "count(DISTINCT host(address)) AS addresses FROM ip_leases "
        "WHERE pool_id IN (%s, %s) AND state = 'offered'", (main, overflow)).fetchone()
    assert (leased["n"], leased["holders"], leased["addresses"]) == (4800, 4800, 4800)


def test_an_ipv6_pool_is_left_to_the_nas_by_name(radius, dbc):
    prefixes = dbc.execute(
        "INSERT INTO ip_pools (name, kind, range_start, range_end) VALUES "
        "(%s, 'ipv6_prefix', '2001:db8::', '2001:db8::ffff') RETURNING id, name",
        ("v6-" + os.urandom(4).hex(),)).fetchone()
    user, sub_id = subscriber(dbc, tariff(dbc, prefixes["id"]))
    reply = login(radius, user)
    assert reply.code == "Access-Accept", reply.output
    assert reply.attributes["Framed-Pool"] == prefixes["name"]
    assert "Framed-IP-Address" not in reply.attributes
    assert class_of(reply) == f"ebs:{sub_id}:0:speed:none"
