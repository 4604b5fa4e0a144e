"""A subscriber under a traffic speed limit is given the limited speed at login, through a
real FreeRADIUS: ebs_radius_check hands the limits in force to rlm_ebs (EBS-Limit-Speed,
in the same call), the Access-Accept carries the limited Mikrotik-Rate-Limit and its Class
names it; the accounting's Start records it on the session, and the enforcement, which
holds the same speed due (billing.enforcement), sends that session nothing. When the
limit lifts, the next run sends the tariff's speed back."""

from __future__ import annotations

from datetime import UTC, datetime

from stack.servers.base import free_port
from stack.servers.freeradius import FreeRadiusServer, RadiusReply, radclient
from tests.harness import radius_db_fields, start_with_retry
from tests.integration.traffic_helpers import traffic_class, traffic_group
from tests.system.test_coa import NAS_IP, SECRET, make_nas, make_tariff, record
from tests.system.test_coa_follows_changes import (
    PASSWORD,
    account_on,
    assert_one_coa,
    enforce,
    given_state,
)


def _speed_limit(conn, tariff_id: int, group_id: int, mode: str, value: str) -> int:
    column = "percent" if mode == "percent" else "speed"
    return conn.execute(
        "INSERT INTO tariff_traffic_limits (tariff_id, group_id, megabytes, action,"
        f" speed_mode, {column}) VALUES (%s, %s, 1, 'speed', %s, %s) RETURNING id",
        (tariff_id, group_id, mode, value)).fetchone()[0]


def _in_force(conn, account_id: int, *limit_ids: int) -> None:
    """The limits as flow/limits.py leaves them once the account's usage passed them."""
    for limit_id in limit_ids:
        conn.execute("INSERT INTO account_traffic_limits (account_id, limit_id, since,"
                     " used_bytes) VALUES (%s, %s, %s, 2097152)",
                     (account_id, limit_id, datetime.now(UTC)))


def _login_and_start(server: FreeRadiusServer, login: str, session: str) -> RadiusReply:
    """An Access-Request as a MikroTik sends it, then the Start with the Class it got."""
    reply = radclient(server.auth_port, "auth", SECRET.decode(), [
        ("User-Name", login), ("User-Password", PASSWORD), ("NAS-IP-Address", NAS_IP),
        ("Framed-Protocol", "PPP"), ("Message-Authenticator", "0x00")],
        raddb=server.directory, timeout=2.0, retries=1)
    assert reply.code == "Access-Accept", reply.output
    accounting = radclient(server.acct_port, "acct", SECRET.decode(), [
        ("Acct-Status-Type", "Start"), ("Acct-Session-Id", session), ("User-Name", login),
        ("NAS-IP-Address", NAS_IP), ("NAS-Port", "1"),
        ("Framed-IP-Address", reply.attributes["Framed-IP-Address"]),
        ("Class", reply.attributes["Class"])],
        raddb=server.directory, timeout=2.0, retries=1)
    assert accounting.code == "Accounting-Response", accounting.output
    return reply


def _session(conn, login: str) -> str:
    return conn.execute("SELECT acct_unique_id FROM sessions_open WHERE username = %s",
                        (login,)).fetchone()[0]


def test_a_limited_login_gets_the_limited_speed_and_no_coa(env, db, conn, sim, tmp_path):
    make_nas(conn, sim.port)  # MikroTik
    tariff = make_tariff(conn)  # 10M/20M
    group = traffic_group(conn, [traffic_class(conn)])
    absolute = _speed_limit(conn, tariff, group, "absolute", "8M/8M")
    percent = _speed_limit(conn, tariff, group, "percent", "25")
    both, _, both_login = account_on(conn, tariff)  # 25 % of 10M/20M is slower than 8M/8M
    only, _, only_login = account_on(conn, tariff)
    _, _, free_login = account_on(conn, tariff)  # under every limit
    _in_force(conn, both, absolute, percent)
    _in_force(conn, only, absolute)

    # One call brings the limits, spelled as the enforcement's query spells them.
    rows = conn.execute("SELECT value FROM ebs_radius_check(%s, %s)"
                        " WHERE attribute = 'EBS-Limit-Speed'", (both_login, NAS_IP)).fetchall()
    assert rows == [("absolute:8M/8M",), ("percent:25.00",)]

    server = start_with_retry(lambda: FreeRadiusServer(
        directory=tmp_path / "radius", auth_port=free_port(udp=True, tcp=False),
        acct_port=free_port(udp=True, tcp=False), clients=[("local", NAS_IP, SECRET.decode())],
        reject_delay=0, credentials_key="00" * 32, **radius_db_fields(db)))
    try:
        replies = {login: _login_and_start(server, login, session) for login, session in (
            (both_login, "81a00001"), (only_login, "81a00002"), (free_login, "81a00003"))}
    finally:
        server.stop()

    speeds = {login: reply.attributes["Mikrotik-Rate-Limit"] for login, reply in replies.items()}
    assert speeds == {both_login: "2500k/5M", only_login: "8M/8M", free_login: "10M/20M"}
    for login, speed in speeds.items():
        klass = bytes.fromhex(replies[login].attributes["Class"][2:]).decode()
        assert klass.endswith(f":speed:{speed}")
        assert given_state(conn, _session(conn, login)) == f"speed:{speed}"

    # The enforcement looks at the limited sessions and finds them given what is due.
    summary = enforce()
    assert summary["checked"] == 2
    assert "coa" not in summary and "disconnect" not in summary
    assert sim.packets() == []
    assert [record(conn, _session(conn, login)) for login in replies] == [[], [], []]

    # The limits lift (the period rolled over): the tariff's speed goes back by CoA.
    conn.execute("DELETE FROM account_traffic_limits WHERE account_id = %s", (both,))
    assert enforce()["coa"] == 1
    assert_one_coa(conn, sim, _session(conn, both_login), b"10M/20M")
