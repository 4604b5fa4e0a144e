"""Live sessions follow every change, whatever path made it: one run of ebs.enforce_access
after a tariff change (now, scheduled and applied by the tick, bulk), an edit of a
tariff's speed or of its time-of-day speeds, a status change or a block sends the session
its CoA or Disconnect, seen by the NAS simulator on 127.0.0.1.

No path asks for the request: the session records what its login gave (the Class of the
Access-Accept, stored by the accounting's Start; the first test runs a real FreeRADIUS
login for it, the others open sessions through the same accounting function with the
Class the login would give), and the enforcement compares it with what is due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import count
from zoneinfo import ZoneInfo

from click.testing import CliRunner

from billing.accounts import set_status
from billing.credentials import nt_password_hash
from billing.staff import ensure_staff
from billing.tariff_change import change_tariff
from cli.main import cli
from stack.servers.base import free_port
from stack.servers.freeradius import FreeRadiusServer, radclient
from tests.conftest import ebs_env
from tests.harness import radius_db_fields, start_with_retry
from tests.nas_simulator import COA_REQUEST, DISCONNECT_REQUEST
from tests.system.test_coa import (
    NAS_IP,
    SECRET,
    hand_request,
    make_nas,
    make_tariff,
    post,
    record,
    session_identity,
    vsa,
)
from tests.system.test_coa_speed_schedule import rate_limits

MOSCOW = ZoneInfo("Europe/Moscow")
PASSWORD = "follow-Pass-1"
_seq = count(1)


def enforce(at: datetime | None = None) -> dict:
    from worker.enforce_tasks import enforce_access

    return enforce_access.run(at=at.astimezone(UTC).isoformat() if at else None)


def charge_tick(at: datetime) -> dict:
    """The tick at a moment ahead of the clock: billing's own call, as ``ebs charge --at``
    makes it (a task posted through the broker may not name one)."""
    from billing import settings as settings_mod
    from billing.charging.tick import charge
    from billing.db import connect

    with connect(settings_mod.database_conninfo(settings_mod.load()), autocommit=True) as c:
        return charge(c, at, MOSCOW).as_dict()


def account_on(conn, tariff_id: int, *, balance: str = "100",
               assigned_at: datetime | None = None) -> tuple[int, int, str]:
    """An account with one subaccount on ``tariff_id``: (account, subaccount, login)."""
    n = next(_seq)
    account_id = conn.execute(
        "INSERT INTO accounts (contract, login) VALUES (%s, %s) RETURNING id",
        (f"f{n}", f"f{n}")).fetchone()[0]
    login = f"follow{n}"
    sub_id = conn.execute(
        "INSERT INTO subaccounts (account_id, username, nt_password_hash) VALUES (%s, %s, %s)"
        " RETURNING id", (account_id, login, nt_password_hash(PASSWORD))).fetchone()[0]
    conn.execute(
        "INSERT INTO account_tariffs (account_id, tariff_id, assigned_at) VALUES (%s, %s, %s)",
        (account_id, tariff_id, assigned_at or datetime.now(UTC) - timedelta(days=30)))
    if Decimal(balance):
        post(conn, account_id, balance)
    return account_id, sub_id, login


def start(conn, sub_id: int, login: str, given: str, framed_ip: str = "10.10.0.5") -> str:
    """Accounting-Start through ebs_acct_apply with the Class the login gave."""
    uid = f"follow-{next(_seq)}"
    klass = "0x" + f"ebs:{sub_id}:0:{given}".encode().hex()
    outcome = conn.execute(
        "SELECT ebs_acct_apply('Start', %s, %s, %s, %s::inet, %s::inet, '', '', '1',"
        " 0, 0, 0, 0, 0, now(), '', 300, 0, false, %s)",
        (uid, f"81e{next(_seq):05d}", login, NAS_IP, framed_ip, klass)).fetchone()[0]
    assert outcome == "created"
    return uid


def live(conn, tariff_id: int, given: str = "speed:10M/20M", **account) -> tuple[int, str]:
    """A subscriber on ``tariff_id`` whose session's login gave ``given``: (account, uid)."""
    account_id, sub_id, login = account_on(conn, tariff_id, **account)
    return account_id, start(conn, sub_id, login, given)


def given_state(conn, uid: str) -> str | None:
    return conn.execute("SELECT given_state FROM sessions_open WHERE acct_unique_id = %s",
                        (uid,)).fetchone()[0]


def assert_one_coa(conn, sim, uid: str, speed: bytes) -> None:
    """The session got exactly one CoA, with ``speed``, byte for byte; it is now given."""
    [packet] = sim.packets()
    assert packet.authentic and packet.code == COA_REQUEST
    assert packet.packet == hand_request(COA_REQUEST, packet.packet[1], SECRET,
                                         session_identity(conn, uid) + vsa(14988, 8, speed))
    state = f"speed:{speed.decode()}"
    assert record(conn, uid) == [("coa", state, "ACK", None, 1, "done")]
    assert given_state(conn, uid) == state


def test_a_real_login_records_what_it_gave_and_a_speed_edit_reaches_it(env, db, conn, sim,
                                                                        tmp_path):
    """FreeRADIUS answers with the Class naming the speed it gave; the Start stores it;
    an edit of the tariff's speed is sent to the session by the next run."""
    make_nas(conn, sim.port)
    tariff = make_tariff(conn)  # 10M/20M
    _, _, login = account_on(conn, tariff)
    server = start_with_retry(lambda: FreeRadiusServer(
        directory=tmp_path / "radius", auth_port=free_port(udp=True, tcp=False),
        acct_port=free_port(udp=True, tcp=False), clients=[("local", NAS_IP, SECRET.decode())],
        reject_delay=0, credentials_key="00" * 32, **radius_db_fields(db)))
    try:
        reply = radclient(server.auth_port, "auth", SECRET.decode(), [
            ("User-Name", login), ("User-Password", PASSWORD), ("NAS-IP-Address", NAS_IP),
            ("Framed-Protocol", "PPP"), ("Message-Authenticator", "0x00")],
            raddb=server.directory, timeout=2.0, retries=1)
        assert reply.code == "Access-Accept", reply.output
        assert reply.attributes["Mikrotik-Rate-Limit"] == "10M/20M"
        klass = reply.attributes["Class"]
        assert bytes.fromhex(klass[2:]).decode().endswith(":speed:10M/20M")
        accounting = radclient(server.acct_port, "acct", SECRET.decode(), [
            ("Acct-Status-Type", "Start"), ("Acct-Session-Id", "81f00001"),
            ("User-Name", login), ("NAS-IP-Address", NAS_IP), ("NAS-Port", "1"),
            ("Framed-IP-Address", reply.attributes["Framed-IP-Address"]), ("Class", klass)],
            raddb=server.directory, timeout=2.0, retries=1)
        assert accounting.code == "Accounting-Response", accounting.output
    finally:
        server.stop()
    [(uid, given)] = conn.execute("SELECT acct_unique_id, given_state FROM sessions_open"
                                  ).fetchall()
    assert given == "speed:10M/20M"
    assert enforce()["checked"] == 0  # it has what is due

    conn.execute("UPDATE tariff_speeds SET speed = '30M/40M' WHERE tariff_id = %s", (tariff,))
    summary = enforce()

    assert (summary["checked"], summary["coa"], summary["ACK"]) == (1, 1, 1)
    assert_one_coa(conn, sim, uid, b"30M/40M")
    assert "coa" not in enforce() and enforce()["checked"] == 0  # given what is due now


def test_a_tariff_change_now_reaches_the_session(env, conn, sim):
    """What the cashier desk and the REST API call (billing.tariff_change.change_tariff)."""
    make_nas(conn, sim.port)
    old, new = make_tariff(conn), make_tariff(conn, speed="50M/50M")
    conn.execute("INSERT INTO tariff_change_rules (from_tariff_id, to_tariff_id, allowed,"
                 " effective) VALUES (%s, %s, true, 'NOW')", (old, new))
    account, uid = live(conn, old)
    _, other = live(conn, old)

    assert change_tariff(conn, account, new, tz=MOSCOW).applied
    enforce()

    assert_one_coa(conn, sim, uid, b"50M/50M")
    assert record(conn, other) == []


def test_a_scheduled_change_applied_by_the_tick_reaches_the_session(env, conn, sim):
    make_nas(conn, sim.port)
    period = conn.execute(
        "INSERT INTO settlement_periods (name, unit, autostart, anchor)"
        " VALUES ('months', 'MONTH', false, '2026-01-01') RETURNING id").fetchone()[0]
    old, new = make_tariff(conn), make_tariff(conn, speed="50M/50M")
    conn.execute("UPDATE tariffs SET settlement_period_id = %s WHERE id IN (%s, %s)",
                 (period, old, new))
    conn.execute("INSERT INTO tariff_change_rules (from_tariff_id, to_tariff_id, allowed,"
                 " effective) VALUES (%s, %s, true, 'NEXT_PERIOD')", (old, new))
    account, uid = live(conn, old)

    scheduled = change_tariff(conn, account, new, tz=MOSCOW)
    assert not scheduled.applied
    before = scheduled.effective_at - timedelta(minutes=1)
    assert enforce(before)["checked"] == 0  # not yet due: nothing to send
    after = scheduled.effective_at + timedelta(minutes=1)
    charge_tick(after)
    assert conn.execute("SELECT status FROM tariff_changes WHERE id = %s",
                        (scheduled.change_id,)).fetchone()[0] == "applied"
    enforce(after + timedelta(seconds=30))

    assert_one_coa(conn, sim, uid, b"50M/50M")


def test_a_bulk_change_reaches_every_session_it_moved(env, db, conn, sim, tmp_path):
    """The operator's ``ebs tariff bulk-change`` (billing.tariff_change.bulk_change_tariff)."""
    make_nas(conn, sim.port)
    old, new = make_tariff(conn), make_tariff(conn, speed="50M/50M")
    moved = [live(conn, old) for _ in range(3)]
    _, stays = live(conn, old)
    ensure_staff(conn, "bulk-follow", "Bulk-Secret-1", "Admin")
    contracts = [conn.execute("SELECT contract FROM accounts WHERE id = %s", (a,)).fetchone()[0]
                 for a, _ in moved]
    to = conn.execute("SELECT name FROM tariffs WHERE id = %s", (new,)).fetchone()[0]
    (tmp_path / "none.py").write_text("")

    done = CliRunner().invoke(cli, ["tariff", "bulk-change", *contracts, "--to", to,
                                    "--staff", "bulk-follow"],
                              env=ebs_env(db, tmp_path / "none.py"))
    assert done.exit_code == 0, done.output
    assert "changed 3, unchanged 0" in done.output
    summary = enforce()

    assert (summary["coa"], summary["ACK"]) == (3, 3)
    assert {rate_limits(p.packet)[0] for p in sim.packets()} == {b"50M/50M"}
    for _, uid in moved:
        assert record(conn, uid) == [("coa", "speed:50M/50M", "ACK", None, 1, "done")]
    assert record(conn, stays) == []


def test_a_time_of_day_speed_edit_reaches_the_session(env, conn, sim):
    """A night speed whose node is moved to cover the present: the session given the day
    speed gets the night one, and the day one back when the node is moved away again."""
    make_nas(conn, sim.port)
    tariff = make_tariff(conn)
    period = conn.execute("INSERT INTO time_periods (name) VALUES ('nights') RETURNING id"
                          ).fetchone()[0]
    now = datetime.now(UTC)
    node = conn.execute(
        "INSERT INTO time_period_nodes (time_period_id, starts_at, length, repeat)"
        " VALUES (%s, %s, interval '1 hour', 'NEVER') RETURNING id",
        (period, now - timedelta(days=3))).fetchone()[0]
    conn.execute("INSERT INTO tariff_speeds (tariff_id, time_period_id, speed)"
                 " VALUES (%s, %s, '50M/100M')", (tariff, period))
    _, uid = live(conn, tariff)
    assert enforce()["checked"] == 0

    conn.execute("UPDATE time_period_nodes SET starts_at = %s WHERE id = %s",
                 (now - timedelta(minutes=5), node))
    enforce()
    assert_one_coa(conn, sim, uid, b"50M/100M")

    conn.execute("UPDATE time_period_nodes SET starts_at = %s WHERE id = %s",
                 (now - timedelta(days=3), node))
    enforce()
    assert [rate_limits(p.packet) for p in sim.packets()] == [[b"50M/100M"], [b"10M/20M"]]
    assert given_state(conn, uid) == "speed:10M/20M"


def test_a_status_change_disconnects_and_a_block_too(env, conn, sim):
    make_nas(conn, sim.port)
    tariff = make_tariff(conn)
    disabled, uid_disabled = live(conn, tariff)
    blocked, uid_blocked = live(conn, tariff)
    _, fine = live(conn, tariff)

    set_status(conn, disabled, "inactive_charged", at=datetime.now(UTC))
    conn.execute("UPDATE accounts SET blocked_by_balance = true WHERE id = %s", (blocked,))
    enforce()

    assert record(conn, uid_disabled) == [
        ("disconnect", "disconnected", "ACK", None, 1, "done")]
    assert record(conn, uid_blocked) == [("disconnect", "disconnected", "ACK", None, 1, "done")]
    assert record(conn, fine) == []
    assert sorted(p.code for p in sim.packets()) == [DISCONNECT_REQUEST] * 2
    reasons = dict(conn.execute("SELECT acct_unique_id, reason FROM coa_requests").fetchall())
    assert reasons == {uid_disabled: "account_disabled", uid_blocked: "blocked_by_balance"}


def test_a_guest_whose_login_said_so_comes_back_when_the_debt_is_paid(env, conn, sim):
    """The login gave the guest pool (the Class says 'guest'); once paid, the session is
    disconnected so its re-authentication gets the tariff's pool and speed."""
    make_nas(conn, sim.port)
    tariff = make_tariff(conn, guest_pool=True)
    account, sub_id, login = account_on(conn, tariff, balance="0")
    uid = start(conn, sub_id, login, "guest", framed_ip="10.10.0.77")
    enforce()
    assert sim.packets() == []  # a guest who is still a guest stays

    post(conn, account, "100")
    enforce()

    assert record(conn, uid) == [("disconnect", "speed:10M/20M", "ACK", None, 1, "done")]
