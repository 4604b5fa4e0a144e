"""A tariff change at the cashier desk or through the REST API reaches the subscriber's
live session: the next ebs.enforce_access run sends it the new tariff's speed by CoA,
seen by the NAS simulator. The desk and the API ask for nothing themselves; the session
says what its login gave, and the enforcement compares it with what is due."""

from __future__ import annotations

from tests.nas_simulator import COA_REQUEST
from tests.system.test_coa import make_nas, make_tariff, record
from tests.system.test_coa_follows_changes import account_on, enforce, start
from tests.system.test_coa_speed_schedule import rate_limits
from tests.web.api_tools import api_as
from tests.web.conftest import submit


def _on_line(conn, sim) -> tuple[int, int, str]:
    """A subscriber on 10M/20M with a live session its login gave 10M/20M; a rule lets
    them move to 50M/50M now. Returns (account, new tariff, session)."""
    make_nas(conn, sim.port)
    old, new = make_tariff(conn), make_tariff(conn, speed="50M/50M")
    conn.execute("INSERT INTO tariff_change_rules (from_tariff_id, to_tariff_id, allowed,"
                 " effective) VALUES (%s, %s, true, 'NOW')", (old, new))
    account, sub_id, login = account_on(conn, old)
    uid = start(conn, sub_id, login, "speed:10M/20M")
    assert enforce()["checked"] == 0
    return account, new, uid


def _sent_the_new_speed(conn, sim, uid: str) -> None:
    enforce()
    [packet] = sim.packets()
    assert packet.code == COA_REQUEST and rate_limits(packet.packet) == [b"50M/50M"]
    assert record(conn, uid) == [("coa", "speed:50M/50M", "ACK", None, 1, "done")]


def test_a_cashier_tariff_change_reaches_the_live_session(as_cashier, conn, env, sim):
    account, new, uid = _on_line(conn, sim)

    page = submit(as_cashier, f"/cashier/account/{account}/tariff", {"to_tariff": str(new)})
    assert page.status_code == 200

    _sent_the_new_speed(conn, sim, uid)


def test_an_api_tariff_change_reaches_the_live_session(client, conn, staff, env, sim):
    account, new, uid = _on_line(conn, sim)

    done = api_as(client, "Cashier").post(f"/api/v1/account/{account}/tariff",
                                          {"tariff_id": new})
    assert done.status_code == 201, done.text

    _sent_the_new_speed(conn, sim, uid)
