"""CoA / Disconnect (RFC 5176) against a NAS simulator on 127.0.0.1, with the real
PostgreSQL: ebs.kick_session, ebs.change_speed and ebs.enforce_access.

Packets are checked byte for byte against an encoder written here from the RFCs with
struct, hashlib and hmac, and against radclient's own encoding of the same attributes;
the simulator checks every request's authenticators independently too."""

from __future__ import annotations

import hashlib
import hmac
import socket
import struct
import subprocess
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import count

import pytest

from billing import ledger
from tests.conftest import COA_SECRET as SECRET
from tests.nas_simulator import (
    COA_REQUEST,
    DISCONNECT_REQUEST,
    MESSAGE_AUTHENTICATOR,
    reply_packet,
    zero_message_authenticator,
)
from tests.pools import shared_pool
from worker.coa import Kind, Reply, build_request, verify_reply

NAS_IP = "127.0.0.1"
_seq = count(1)


# --- an independent encoder (RFC 2865 5, RFC 2869 5.14, RFC 5176 3.3) --------------------

def attr(code: int, value: bytes) -> bytes:
    return struct.pack("!BB", code, 2 + len(value)) + value


def vsa(vendor: int, code: int, value: bytes) -> bytes:
    return attr(26, struct.pack("!I", vendor) + attr(code, value))


def hand_request(code: int, packet_id: int, secret: bytes, attributes: bytes) -> bytes:
    """Message-Authenticator first, then ``attributes``; both authenticators by hand."""
    body = attr(MESSAGE_AUTHENTICATOR, bytes(16)) + attributes
    header = struct.pack("!BBH", code, packet_id, 20 + len(body))
    mac = hmac.new(secret, header + bytes(16) + body, "md5").digest()
    body = attr(MESSAGE_AUTHENTICATOR, mac) + attributes
    authenticator = hashlib.md5(header + bytes(16) + body + secret).digest()
    return header + authenticator + body


def identity(username: str, session_id: str, nas_ip: str, framed_ip: str | None) -> bytes:
    out = attr(1, username.encode()) + attr(44, session_id.encode())
    out += attr(4, socket.inet_aton(nas_ip))
    if framed_ip:
        out += attr(8, socket.inet_aton(framed_ip))
    return out


# --- the world -------------------------------------------------------------------------

def make_nas(conn, port: int, vendor: str = "mikrotik") -> int:
    return conn.execute(
        "INSERT INTO nas (name, vendor, ip_address, secret, coa_port, coa_timeout_ms,"
        " coa_attempts) VALUES (%s, %s, %s, %s, %s, 200, 3) RETURNING id",
        (f"nas{next(_seq)}", vendor, NAS_IP, SECRET.decode(), port),
    ).fetchone()[0]


def make_tariff(conn, *, guest_pool: bool = False, speed: str | None = "10M/20M") -> int:
    n = next(_seq)
    pool = shared_pool(conn, "subscribers", "10.10.0.1", "10.10.0.250")
    guest = shared_pool(conn, "guests", "10.99.0.1", "10.99.0.250") if guest_pool else None
    tariff_id = conn.execute(
        "INSERT INTO tariffs (name, ip_pool_id, guest_pool_id) VALUES (%s, %s, %s) RETURNING id",
        (f"tariff{n}", pool, guest),
    ).fetchone()[0]
    if speed:
        conn.execute("INSERT INTO tariff_speeds (tariff_id, speed) VALUES (%s, %s)",
                     (tariff_id, speed))
    return tariff_id


def post(conn, account_id: int, amount: str, kind: str = "payment") -> None:
    ledger.post(conn, ledger.Entry(account_id, kind, Decimal(amount), f"t:{next(_seq)}",
                                   datetime.now(UTC)))


def subscriber(conn, tariff_id: int, nas_id: int, *, balance: str = "100",
               framed_ip: str = "10.10.0.5", status: str = "active",
               started_at: datetime | None = None) -> tuple[int, str]:
    """An account on ``tariff_id`` (assigned a month before) with one live session started
    now or at ``started_at``; returns (account id, session id)."""
    started = started_at or datetime.now(UTC)
    n = next(_seq)
    account_id = conn.execute(
        "INSERT INTO accounts (contract, login, status) VALUES (%s, %s, %s) RETURNING id",
        (f"c{n}", f"u{n}", status)).fetchone()[0]
    sub_id = conn.execute(
        "INSERT INTO subaccounts (account_id, username) VALUES (%s, %s) RETURNING id",
        (account_id, f"user{n}")).fetchone()[0]
    conn.execute(
        "INSERT INTO account_tariffs (account_id, tariff_id, assigned_at) VALUES (%s, %s, %s)",
        (account_id, tariff_id, started - timedelta(days=30)))
    if Decimal(balance):
        post(conn, account_id, balance)
    uid = f"uniq-{n}"
    conn.execute(
        "INSERT INTO sessions_open (acct_unique_id, acct_session_id, subaccount_id, account_id,"
        " nas_id, nas_ip, username, framed_ip, started_at, updated_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (uid, f"81d0000{n}", sub_id, account_id, nas_id, NAS_IP, f"user{n}", framed_ip,
         started, started))
    return account_id, uid


def session_identity(conn, uid: str) -> bytes:
    username, session_id, framed = conn.execute(
        "SELECT username, acct_session_id, host(framed_ip) FROM sessions_open"
        " WHERE acct_unique_id = %s", (uid,)).fetchone()
    return identity(username, session_id, NAS_IP, framed)


def record(conn, uid: str) -> list[tuple]:
    return conn.execute(
        "SELECT kind, desired_state, result, error_cause, attempts, state FROM coa_requests"
        " WHERE acct_unique_id = %s ORDER BY id", (uid,)).fetchall()


def kick(uid: str) -> dict:
    from worker.coa_tasks import kick_session

    return kick_session.run(uid)


def enforce() -> dict:
    from worker.enforce_tasks import enforce_access

    return enforce_access.run()


# --- packets ---------------------------------------------------------------------------

def test_build_request_equals_the_hand_encoding():
    attributes = [("User-Name", "alice"), ("Acct-Session-Id", "81d00012"),
                  ("NAS-IP-Address", "192.0.2.1"), ("Framed-IP-Address", "10.10.0.5")]
    expected_identity = identity("alice", "81d00012", "192.0.2.1", "10.10.0.5")

    assert build_request(Kind.DISCONNECT, SECRET, attributes, 7) == hand_request(
        DISCONNECT_REQUEST, 7, SECRET, expected_identity)

    speed = [("Mikrotik-Rate-Limit", "10M/20M")]
    assert build_request(Kind.COA, SECRET, attributes + speed, 200) == hand_request(
        COA_REQUEST, 200, SECRET, expected_identity + vsa(14988, 8, b"10M/20M"))

    cisco = [("Cisco-AVPair", "lcp:interface-config#1=a"), ("Cisco-AVPair", "x#2=b")]
    assert build_request(Kind.COA, SECRET, attributes[:2] + cisco, 1) == hand_request(
        COA_REQUEST, 1, SECRET, attr(1, b"alice") + attr(44, b"81d00012")
        + vsa(9, 1, b"lcp:interface-config#1=a") + vsa(9, 1, b"x#2=b"))


def test_our_disconnect_matches_radclients_attribute_for_attribute(sim):
    """radclient encodes the same attributes; the attribute sections agree once the
    Message-Authenticator (which covers the Identifier) is zeroed, and the simulator
    finds both packets authentic."""
    lines = ('Message-Authenticator = 0x00\nUser-Name = "alice"\n'
             'Acct-Session-Id = "81d00012"\nNAS-IP-Address = 192.0.2.1\n'
             'Framed-IP-Address = 10.10.0.5\n')
    done = subprocess.run(
        ["radclient", "-x", "-r", "1", "-t", "2", f"127.0.0.1:{sim.port}", "disconnect",
         SECRET.decode()], input=lines, capture_output=True, text=True, timeout=30)
    assert "Disconnect-ACK" in done.stdout, done.stdout + done.stderr
    [theirs] = sim.packets()
    assert theirs.authentic and theirs.code == DISCONNECT_REQUEST

    ours = build_request(Kind.DISCONNECT, SECRET, [
        ("User-Name", "alice"), ("Acct-Session-Id", "81d00012"),
        ("NAS-IP-Address", "192.0.2.1"), ("Framed-IP-Address", "10.10.0.5")], theirs.packet[1])
    assert zero_message_authenticator(ours[20:]) == zero_message_authenticator(theirs.packet[20:])


def test_verify_reply_accepts_only_genuine_replies():
    request = hand_request(DISCONNECT_REQUEST, 9, SECRET, identity("a", "s", "192.0.2.1", None))
    ack = reply_packet(request, 41, SECRET, None)
    nak = reply_packet(request, 42, SECRET, 503)

    assert verify_reply(request, ack, SECRET) == Reply(ack=True)
    assert verify_reply(request, nak, SECRET) == Reply(ack=False, error_cause=503)
    assert verify_reply(request, reply_packet(request, 41, b"wrong-secret", None), SECRET) is None
    tampered = bytearray(ack)
    tampered[-1] ^= 1  # the Message-Authenticator
    assert verify_reply(request, bytes(tampered), SECRET) is None
    assert verify_reply(request, ack[:1] + b"\x0a" + ack[2:], SECRET) is None  # another id
    assert verify_reply(request, reply_packet(request, 44, SECRET, None), SECRET) is None  # CoA-ACK


# --- ebs.kick_session ------------------------------------------------------------------

def test_kick_sends_one_disconnect_byte_for_byte(env, conn, sim):
    tariff = make_tariff(conn)
    _, uid = subscriber(conn, tariff, make_nas(conn, sim.port))

    result = kick(uid)

    assert result["result"] == "ACK" and result["attempts"] == 1
    [got] = sim.packets()
    assert got.authentic
    assert got.packet == hand_request(DISCONNECT_REQUEST, got.packet[1], SECRET,
                                      session_identity(conn, uid))
    assert record(conn, uid) == [("disconnect", "disconnected", "ACK", None, 1, "done")]


def test_a_nak_is_recorded_with_its_error_cause(env, conn, sim):
    tariff = make_tariff(conn)
    _, uid = subscriber(conn, tariff, make_nas(conn, sim.port))
    sim.set("nak", 503)

    result = kick(uid)

    assert (result["result"], result["error_cause"]) == ("NAK", 503)
    assert result["error"] == "503 Session-Context-Not-Found"
    assert record(conn, uid) == [("disconnect", "disconnected", "NAK", 503, 1, "done")]
    # The admin may ask again after a NAK: it is sent again.
    sim.set("ack")
    assert kick(uid)["result"] == "ACK"
    assert len(sim.packets()) == 2


def test_silence_is_retried_then_recorded_as_timeout(env, conn, sim):
    tariff = make_tariff(conn)
    _, uid = subscriber(conn, tariff, make_nas(conn, sim.port))
    sim.set("silent")

    result = kick(uid)

    assert (result["result"], result["attempts"]) == ("timeout", 3)
    packets = [p.packet for p in sim.packets()]
    assert len(packets) == 3 and len(set(packets)) == 1  # a retransmission is the same bytes
    assert record(conn, uid) == [("disconnect", "disconnected", "timeout", None, 3, "done")]


def test_a_forged_reply_is_ignored(env, conn, sim):
    tariff = make_tariff(conn)
    _, uid = subscriber(conn, tariff, make_nas(conn, sim.port))
    sim.set("forged")

    result = kick(uid)

    assert result["result"] == "timeout"
    assert "3 replies failed authentication" in result["error"]


def test_duplicate_delivery_sends_nothing_twice_once_acked(env, conn, sim):
    tariff = make_tariff(conn)
    _, uid = subscriber(conn, tariff, make_nas(conn, sim.port))

    results = []
    threads = [threading.Thread(target=lambda: results.append(kick(uid))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    again = kick(uid)

    assert sorted(r["sent"] for r in results) == [False, True]
    assert again["sent"] is False
    assert len(sim.packets()) == 1
    assert record(conn, uid) == [("disconnect", "disconnected", "ACK", None, 1, "done")]


def test_kick_of_an_unknown_session_sends_nothing(env, sim):
    assert kick("no-such-session") == {"session": "no-such-session", "sent": False,
                                       "result": None, "error": "no such open session"}
    assert sim.packets() == []


# --- ebs.change_speed ------------------------------------------------------------------

@pytest.mark.parametrize(("vendor", "expected"), [
    ("mikrotik", vsa(14988, 8, b"10M/20M")),
    ("accel-ppp", attr(11, b"20000/10000")),
])
def test_change_speed_sends_the_vendors_rate_limit_once(env, conn, sim, vendor, expected):
    from worker.coa_tasks import change_speed

    tariff = make_tariff(conn)
    _, uid = subscriber(conn, tariff, make_nas(conn, sim.port, vendor))

    result = change_speed.run(uid)
    duplicate = change_speed.run(uid)

    assert (result["result"], result["desired_state"]) == ("ACK", "speed:10M/20M")
    assert duplicate["sent"] is False
    [got] = sim.packets()
    assert got.packet == hand_request(COA_REQUEST, got.packet[1], SECRET,
                                      session_identity(conn, uid) + expected)


# --- ebs.enforce_access ----------------------------------------------------------------

def test_enforce_disconnects_a_debtor_and_restores_one_who_paid(env, conn, sim):
    """B's NAS refuses the disconnect (NAK), so B stays up; when B pays, B's session gets
    its speed back by CoA. A's disconnect is ACKed and A is left to its Stop."""
    tariff = make_tariff(conn)
    nas = make_nas(conn, sim.port)
    account_a, uid_a = subscriber(conn, tariff, nas, framed_ip="10.10.0.5")
    account_b, uid_b = subscriber(conn, tariff, nas, framed_ip="10.10.0.6")

    assert enforce()["checked"] == 0  # healthy sessions are not even candidates
    assert sim.packets() == []

    post(conn, account_b, "-150", "correction")
    sim.set("nak", 501)
    enforce()
    post(conn, account_a, "-150", "correction")
    sim.set("ack")
    enforce()
    assert record(conn, uid_a) == [("disconnect", "disconnected", "ACK", None, 1, "done")]
    assert record(conn, uid_b) == [("disconnect", "disconnected", "NAK", 501, 1, "done")]
    assert len(sim.packets()) == 2  # B's NAK is an answer: not repeated

    post(conn, account_b, "500")
    summary = enforce()
    assert summary["coa"] == 1 and summary["ACK"] == 1
    coa = sim.packets()[-1]
    assert coa.packet == hand_request(COA_REQUEST, coa.packet[1], SECRET,
                                      session_identity(conn, uid_b)
                                      + vsa(14988, 8, b"10M/20M"))
    assert record(conn, uid_b)[-1] == ("coa", "speed:10M/20M", "ACK", None, 1, "done")

    assert "coa" not in enforce() and len(sim.packets()) == 3  # a rerun sends nothing


def test_enforce_sends_debtors_to_the_guest_pool_and_back(env, conn, sim):
    tariff = make_tariff(conn, guest_pool=True)
    nas = make_nas(conn, sim.port)
    debtor, uid_debtor = subscriber(conn, tariff, nas, framed_ip="10.10.0.7")
    _, uid_guest = subscriber(conn, tariff, nas, balance="0", framed_ip="10.99.0.3")
    payer, uid_payer = subscriber(conn, tariff, nas, balance="0", framed_ip="10.99.0.4")
    post(conn, debtor, "-101", "correction")
    post(conn, payer, "50")

    enforce()

    assert record(conn, uid_debtor) == [("disconnect", "guest", "ACK", None, 1, "done")]
    assert record(conn, uid_guest) == []  # already in the guest pool
    assert record(conn, uid_payer) == [("disconnect", "speed:10M/20M", "ACK", None, 1, "done")]
    assert sorted(p.code for p in sim.packets()) == [DISCONNECT_REQUEST] * 2
    enforce()
    assert len(sim.packets()) == 2


def test_enforce_disconnects_suspended_and_tariffless_accounts(env, conn, sim):
    tariff = make_tariff(conn)
    nas = make_nas(conn, sim.port)
    _, suspended = subscriber(conn, tariff, nas, status="suspended")
    account, orphan = subscriber(conn, tariff, nas, framed_ip="10.10.0.9")
    conn.execute("DELETE FROM account_tariffs WHERE account_id = %s", (account,))

    enforce()

    assert record(conn, suspended)[0][:3] == ("disconnect", "disconnected", "ACK")
    assert record(conn, orphan)[0][:3] == ("disconnect", "disconnected", "ACK")
    reasons = dict(conn.execute("SELECT acct_unique_id, reason FROM coa_requests").fetchall())
    assert reasons == {suspended: "account_suspended", orphan: "tariff_inactive"}


def test_enforce_retries_a_timeout_on_the_next_run(env, conn, sim):
    tariff = make_tariff(conn)
    account, uid = subscriber(conn, tariff, make_nas(conn, sim.port))
    post(conn, account, "-200", "correction")
    sim.set("silent")
    enforce()
    sim.set("ack")
    enforce()

    assert record(conn, uid) == [("disconnect", "disconnected", "ACK", None, 4, "done")]
    assert len(sim.packets()) == 4


def test_a_claim_left_by_a_dead_worker_is_taken_over_but_a_live_one_is_not(env, conn, sim):
    tariff = make_tariff(conn)
    nas = make_nas(conn, sim.port)
    _, in_flight = subscriber(conn, tariff, nas, framed_ip="10.10.0.11")
    _, abandoned = subscriber(conn, tariff, nas, framed_ip="10.10.0.12")
    for uid, age in ((in_flight, timedelta(seconds=5)), (abandoned, timedelta(hours=1))):
        conn.execute(
            "INSERT INTO coa_requests (acct_unique_id, desired_state, kind, requested_at)"
            " VALUES (%s, 'disconnected', 'disconnect', now() - %s)", (uid, age))

    assert kick(in_flight)["sent"] is False
    assert kick(abandoned)["result"] == "ACK"
    assert len(sim.packets()) == 1


def test_a_session_without_a_nas_is_recorded_as_an_error(env, conn, sim):
    tariff = make_tariff(conn)
    nas = make_nas(conn, sim.port)
    _, uid = subscriber(conn, tariff, nas)
    conn.execute("DELETE FROM nas WHERE id = %s", (nas,))  # sessions_open.nas_id SET NULL

    result = kick(uid)

    assert (result["sent"], result["result"]) == (False, "error")
    assert record(conn, uid) == [("disconnect", "disconnected", "error", None, 0, "done")]
    assert sim.packets() == []


def test_enforce_disconnects_sessions_outside_their_access_window(env, conn, sim):
    period = conn.execute("INSERT INTO time_periods (name) VALUES ('later') RETURNING id"
                          ).fetchone()[0]
    conn.execute(
        "INSERT INTO time_period_nodes (time_period_id, starts_at, length, repeat)"
        " VALUES (%s, now() + interval '6 hours', interval '1 hour', 'DAY')", (period,))
    closed = make_tariff(conn)
    conn.execute("UPDATE tariffs SET access_time_period_id = %s WHERE id = %s", (period, closed))
    nas = make_nas(conn, sim.port)
    _, outside = subscriber(conn, closed, nas, framed_ip="10.10.0.21")
    _, fine = subscriber(conn, make_tariff(conn), nas, framed_ip="10.10.0.22")

    enforce()

    assert record(conn, outside)[0][:3] == ("disconnect", "disconnected", "ACK")
    assert record(conn, fine) == []
    assert conn.execute("SELECT reason FROM coa_requests").fetchone()[0] == "outside_access_window"
