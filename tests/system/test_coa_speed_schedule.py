"""Time-of-day speeds reach live sessions: ebs.enforce_access (at an explicit moment)
against the NAS simulator on 127.0.0.1 and the real PostgreSQL.

A session keeps the speed its login rendered until the tariff's speed in force changes;
then it gets one CoA-Request with the new speed (Mikrotik-Rate-Limit, checked byte for
byte against the hand encoder of test_coa) and nothing more until the next change."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from tests.nas_simulator import COA_REQUEST, DISCONNECT_REQUEST
from tests.system.test_coa import (
    SECRET,
    hand_request,
    make_nas,
    make_tariff,
    record,
    session_identity,
    subscriber,
    vsa,
)

MOSCOW = ZoneInfo("Europe/Moscow")  # the TIME_ZONE ebs_env gives the task
MIKROTIK = 14988
RATE_LIMIT = 8


def msk(*args) -> datetime:
    return datetime(*args, tzinfo=MOSCOW)


def night_tariff(conn, night: str = "50M/100M") -> int:
    """Day 10M/20M, nights 23:00-07:00 Moscow time ``night``."""
    tariff = make_tariff(conn, speed="10M/20M")
    period = conn.execute("INSERT INTO time_periods (name) VALUES ('nights') RETURNING id"
                          ).fetchone()[0]
    conn.execute(
        "INSERT INTO time_period_nodes (time_period_id, starts_at, length, repeat)"
        " VALUES (%s, %s, interval '8 hours', 'DAY')", (period, msk(2026, 1, 1, 23)))
    conn.execute("INSERT INTO tariff_speeds (tariff_id, time_period_id, speed)"
                 " VALUES (%s, %s, %s)", (tariff, period, night))
    return tariff


def enforce(at: datetime) -> dict:
    from worker.enforce_tasks import enforce_access

    return enforce_access.run(at=at.astimezone(UTC).isoformat())


def rate_limits(packet: bytes) -> list[bytes]:
    """The Mikrotik-Rate-Limit values of a request, read from its bytes."""
    found, offset = [], 20
    while offset < len(packet):
        kind, length = packet[offset], packet[offset + 1]
        value = packet[offset + 2 : offset + length]
        if kind == 26 and int.from_bytes(value[:4]) == MIKROTIK and value[4] == RATE_LIMIT:
            found.append(value[6 : 4 + value[5]])  # vendor id, type, length, data
        offset += length
    return found


def test_a_day_session_gets_the_night_speed_once_and_the_day_speed_back(env, conn, sim):
    nas = make_nas(conn, sim.port)
    tariff = night_tariff(conn)
    _, day = subscriber(conn, tariff, nas, started_at=msk(2026, 12, 1, 12))
    _, plain = subscriber(conn, make_tariff(conn), nas, framed_ip="10.10.0.6",
                          started_at=msk(2026, 11, 20, 12))

    # Before the boundary nothing is due; the session began after the day speed did, so
    # it is not even looked at, nor is the session of the tariff without overrides.
    assert enforce(msk(2026, 12, 1, 22, 59))["checked"] == 0
    assert sim.packets() == []

    summary = enforce(msk(2026, 12, 1, 23, 0, 30))
    assert (summary["checked"], summary["coa"], summary["ACK"]) == (1, 1, 1)
    [night] = sim.packets()
    assert night.authentic and night.code == COA_REQUEST
    assert rate_limits(night.packet) == [b"50M/100M"]
    assert night.packet == hand_request(COA_REQUEST, night.packet[1], SECRET,
                                        session_identity(conn, day) + vsa(MIKROTIK, 8, b"50M/100M"))
    assert record(conn, day) == [("coa", "speed:50M/100M", "ACK", None, 1, "done")]
    assert conn.execute("SELECT reason FROM coa_requests WHERE acct_unique_id = %s",
                        (day,)).fetchone()[0] == "time_of_day_speed"

    # Answered: not repeated, nor even looked at while the night speed is in force.
    assert enforce(msk(2026, 12, 1, 23, 1)) == {
        "at": msk(2026, 12, 1, 23, 1).astimezone(UTC).isoformat(), "checked": 0}
    assert enforce(msk(2026, 12, 2, 3))["checked"] == 0
    assert len(sim.packets()) == 1

    # 07:00: the night is over; the last request we sent is what the session has now
    assert enforce(msk(2026, 12, 2, 7, 0, 30))["coa"] == 1
    assert rate_limits(sim.packets()[-1].packet) == [b"10M/20M"]
    assert "coa" not in enforce(msk(2026, 12, 2, 7, 1))
    # the next night the earlier, superseded state is claimed and sent again
    assert enforce(msk(2026, 12, 2, 23, 0, 30))["coa"] == 1
    assert [rate_limits(p.packet) for p in sim.packets()] == [
        [b"50M/100M"], [b"10M/20M"], [b"50M/100M"]]
    assert record(conn, plain) == []


def test_sessions_that_began_in_the_night_or_just_after_its_start(env, conn, sim):
    nas = make_nas(conn, sim.port)
    tariff = night_tariff(conn)
    # Began in the night: its login rendered the night speed already.
    _, night = subscriber(conn, tariff, nas, started_at=msk(2026, 12, 1, 23, 30))
    # Its Accounting-Start came 20 s after 23:00: the login may have been just before.
    _, edge = subscriber(conn, tariff, nas, framed_ip="10.10.0.6",
                         started_at=msk(2026, 12, 1, 23, 0, 20))

    enforce(msk(2026, 12, 1, 23, 45))
    enforce(msk(2026, 12, 1, 23, 50))

    assert record(conn, night) == []
    assert record(conn, edge) == [("coa", "speed:50M/100M", "ACK", None, 1, "done")]
    assert [rate_limits(p.packet) for p in sim.packets()] == [[b"50M/100M"]]


def test_a_blocked_account_is_disconnected_not_given_the_night_speed(env, conn, sim):
    nas = make_nas(conn, sim.port)
    tariff = night_tariff(conn)
    account, blocked = subscriber(conn, tariff, nas, started_at=msk(2026, 12, 1, 12))
    _, fine = subscriber(conn, tariff, nas, framed_ip="10.10.0.6",
                         started_at=msk(2026, 12, 1, 12))
    conn.execute("UPDATE accounts SET blocked_by_balance = true WHERE id = %s", (account,))

    enforce(msk(2026, 12, 1, 23, 5))
    enforce(msk(2026, 12, 1, 23, 6))

    assert record(conn, blocked) == [("disconnect", "disconnected", "ACK", None, 1, "done")]
    assert record(conn, fine) == [("coa", "speed:50M/100M", "ACK", None, 1, "done")]
    assert sorted(p.code for p in sim.packets()) == [DISCONNECT_REQUEST, COA_REQUEST]
    disconnect = next(p for p in sim.packets() if p.code == DISCONNECT_REQUEST)
    assert rate_limits(disconnect.packet) == []


def test_a_refused_night_speed_is_not_asked_again_but_a_timeout_is(env, conn, sim):
    nas = make_nas(conn, sim.port)
    tariff = night_tariff(conn)
    _, refused = subscriber(conn, tariff, nas, started_at=msk(2026, 12, 1, 12))

    sim.set("nak", 401)
    enforce(msk(2026, 12, 1, 23, 5))
    enforce(msk(2026, 12, 1, 23, 6))
    assert record(conn, refused) == [("coa", "speed:50M/100M", "NAK", 401, 1, "done")]
    assert len(sim.packets()) == 1

    conn.execute("DELETE FROM coa_requests")
    sim.set("silent")
    enforce(msk(2026, 12, 1, 23, 7))
    sim.set("ack")
    enforce(msk(2026, 12, 1, 23, 8))
    assert record(conn, refused) == [("coa", "speed:50M/100M", "ACK", None, 4, "done")]
    assert len(sim.packets()) == 1 + 4
