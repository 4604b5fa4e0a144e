"""A traffic limit reaches the NAS: the collector's rows for a subscriber past a speed
limit are rated by ebs.rate_traffic, which checks the limits, and ebs.enforce_access sends
the limited speed by CoA to the NAS simulator (a subscriber past a block limit is
disconnected); at the settlement period's end `ebs traffic rate` lifts both and the next
run sends the tariff's speed back.

The rows are written into flow_bins as nfacctd's COPY writes them (the collector's own
chain is tests/system/test_traffic_chain.py); the RADIUS side is real: the sessions are
opened by the accounting function with the Class a login gives, the packets are sent by
the worker's CoA client and answered by the simulator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from click.testing import CliRunner

from cli.main import cli
from tests.conftest import ebs_env
from tests.integration.traffic_helpers import (
    MB,
    flow,
    traffic_class,
    traffic_group,
    traffic_limit,
)
from tests.nas_simulator import COA_REQUEST, DISCONNECT_REQUEST
from tests.system.test_coa import make_nas, make_tariff, record
from tests.system.test_coa_follows_changes import account_on, given_state, start
from tests.system.test_coa_speed_schedule import rate_limits


def enforce_at(at: datetime) -> dict:
    from worker.enforce_tasks import enforce_access

    return enforce_access.run(at=at.isoformat())


def test_a_limit_sends_its_coa_and_lifts_at_the_period_end(env, db, conn, sim, tmp_path):
    from worker.traffic_tasks import rate_traffic

    make_nas(conn, sim.port)
    days = conn.execute(
        "INSERT INTO settlement_periods (name, unit, autostart, anchor)"
        " VALUES ('days', 'DAY', false, '2026-01-01T00:00:00+03:00') RETURNING id"
    ).fetchone()[0]
    slow, strict = make_tariff(conn), make_tariff(conn)  # both 10M/20M
    conn.execute("UPDATE tariffs SET settlement_period_id = %s WHERE id IN (%s, %s)",
                 (days, slow, strict))
    web = traffic_class(conn)
    group = traffic_group(conn, [web])
    traffic_limit(conn, slow, group, "1", action="speed", mode="absolute", speed="1M/2M")
    traffic_limit(conn, strict, group, "1")
    alice, alice_sub, alice_login = account_on(conn, slow)
    alice_uid = start(conn, alice_sub, alice_login, "speed:10M/20M", "10.10.0.5")
    bob, bob_sub, bob_login = account_on(conn, strict)
    bob_uid = start(conn, bob_sub, bob_login, "speed:10M/20M", "10.10.0.6")
    _, carol_sub, carol_login = account_on(conn, slow)  # under the limit
    carol_uid = start(conn, carol_sub, carol_login, "speed:10M/20M", "10.10.0.7")

    now = datetime.now(UTC)
    # The sessions held their addresses before the bin (a Start lands at its own moment).
    conn.execute("UPDATE sessions_open SET started_at = %s", (now - timedelta(hours=1),))
    for day in (now.date(), now.date() + timedelta(days=1), now.date() + timedelta(days=2)):
        conn.execute("SELECT ebs_flow_day_partition('flow_bins', %s)", (day,))
    bin_at = now.replace(second=0, microsecond=0) - timedelta(minutes=1)
    flow(conn, "10.10.0.5", web, "in", 2 * MB, bin_at)
    flow(conn, "10.10.0.6", web, "out", 2 * MB, bin_at)
    flow(conn, "10.10.0.7", web, "in", MB // 2, bin_at)

    rated = rate_traffic.run(at=now.isoformat())
    assert rated["limits"] == {"reached": 2, "lifted": 0, "blocked": 1, "unblocked": 0}
    summary = enforce_at(now)
    assert (summary["coa"], summary["disconnect"], summary["ACK"]) == (1, 1, 2)
    packets = {p.code: p for p in sim.packets()}
    assert set(packets) == {COA_REQUEST, DISCONNECT_REQUEST}
    assert all(p.authentic for p in packets.values())
    assert rate_limits(packets[COA_REQUEST].packet) == [b"1M/2M"]
    assert record(conn, alice_uid) == [("coa", "speed:1M/2M", "ACK", None, 1, "done")]
    assert given_state(conn, alice_uid) == "speed:1M/2M"
    assert [r[:3] for r in record(conn, bob_uid)] == [("disconnect", "disconnected", "ACK")]
    assert record(conn, carol_uid) == []
    assert enforce_at(now + timedelta(seconds=30)).get("coa") is None  # nothing repeated

    # The day ends: its usage is over, the limits lift and the tariff's speed comes back.
    period_end = conn.execute("SELECT period_end FROM traffic_usage WHERE account_id = %s",
                              (alice,)).fetchone()[0]
    (tmp_path / "none.py").write_text("")
    out = CliRunner().invoke(cli, ["traffic", "rate", "--at", period_end.isoformat()],
                             env=ebs_env(db, tmp_path / "none.py"))
    assert out.exit_code == 0, out.output
    assert "2 lifted, 0 accounts blocked, 1 unblocked" in out.output
    assert conn.execute("SELECT blocked_by_limit FROM accounts WHERE id = %s",
                        (bob,)).fetchone()[0] is False
    # Bob's session is gone from the NAS (its Stop is on the way); Alice's gets her speed.
    conn.execute("DELETE FROM sessions_open WHERE acct_unique_id = %s", (bob_uid,))
    back = enforce_at(period_end + timedelta(seconds=30))
    assert (back["coa"], back["ACK"]) == (1, 1)
    assert rate_limits(sim.packets()[-1].packet) == [b"10M/20M"]
    assert given_state(conn, alice_uid) == "speed:10M/20M"
