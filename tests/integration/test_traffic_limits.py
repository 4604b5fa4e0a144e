"""Traffic limits: a block limit per settlement period sets and lifts blocked_by_limit
(through the state history), a sliding window lifts when it moves past the usage, and a
speed limit (absolute, added, percentage) changes the speed the enforcement wants for a
live session, and back when lifted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from billing.enforcement import SPEED_CHANGED, TRAFFIC_LIMIT, Request, plan, speed_states
from flow.limits import check_limits
from tests.integration.charging_helpers import account, assign, settlement_period, tariff
from tests.integration.traffic_helpers import (
    MB,
    flow,
    minute,
    price,
    run,
    session,
    traffic_class,
    traffic_group,
    traffic_limit,
)
from worker.live_sessions import candidates, fetch, load_tariff_rules

IP = "10.30.0.5"


def _setup(conn, speed=None):
    web = traffic_class(conn)
    group = traffic_group(conn, [web])
    plan_id = tariff(conn)
    period = settlement_period(conn, "MONTH", datetime(2026, 1, 1, tzinfo=UTC))
    conn.execute("UPDATE tariffs SET settlement_period_id = %s WHERE id = %s", (period, plan_id))
    if speed:
        conn.execute("INSERT INTO tariff_speeds (tariff_id, speed) VALUES (%s, %s)",
                     (plan_id, speed))
    alice = account(conn)
    assign(conn, alice, plan_id, datetime(2026, 1, 1, tzinfo=UTC))
    session(conn, alice, IP, datetime(2026, 1, 1, tzinfo=UTC))
    return web, group, plan_id, alice


def _blocked(conn, account_id) -> bool:
    return conn.execute("SELECT blocked_by_limit FROM accounts WHERE id = %s",
                        (account_id,)).fetchone()[0]


def _history(conn, account_id) -> list[tuple]:
    return conn.execute(
        "SELECT changed_at, old_value, new_value, actor, reason FROM account_status_history"
        " WHERE account_id = %s AND what = 'blocked_by_limit' ORDER BY id",
        (account_id,)).fetchall()


def test_block_limit_per_period_sets_and_lifts_at_the_period_end(conn):
    web, group, plan_id, alice = _setup(conn)
    price(conn, plan_id, group, "0")  # free traffic: the limit counts it all the same
    traffic_limit(conn, plan_id, group, "2")
    flow(conn, IP, web, "in", MB, minute(0))
    run(conn, minute(1))
    assert check_limits(conn, minute(1)).reached == 0
    assert not _blocked(conn, alice)
    flow(conn, IP, web, "out", MB, minute(2))
    run(conn, minute(3))
    result = check_limits(conn, minute(3))
    assert (result.reached, result.blocked) == (1, 1)
    assert _blocked(conn, alice)
    assert _history(conn, alice) == [(minute(3), "false", "true", "system", "traffic_limit")]
    # Checked again, later in the same period: nothing changes.
    assert check_limits(conn, minute(600)) == check_limits(conn, minute(601))
    assert _blocked(conn, alice) and len(_history(conn, alice)) == 1
    # The settlement period rolls over on 1 April: its usage starts at nothing.
    april = datetime(2026, 4, 1, tzinfo=UTC)
    assert check_limits(conn, april - timedelta(seconds=1)).lifted == 0
    lifted = check_limits(conn, april)
    assert (lifted.lifted, lifted.unblocked) == (1, 1)
    assert not _blocked(conn, alice)
    assert _history(conn, alice)[-1] == (april, "true", "false", "system", "traffic_limit")
    assert conn.execute("SELECT count(*) FROM account_traffic_limits").fetchone()[0] == 0


def test_only_the_limited_account_and_group_count(conn):
    web, group, plan_id, alice = _setup(conn)
    other_class = traffic_class(conn)
    other_group = traffic_group(conn, [other_class])
    traffic_limit(conn, plan_id, group, "1")
    bob = account(conn)
    assign(conn, bob, plan_id, datetime(2026, 1, 1, tzinfo=UTC))
    session(conn, bob, "10.30.0.6", datetime(2026, 1, 1, tzinfo=UTC))
    flow(conn, IP, other_class, "in", 5 * MB, minute(0))      # alice: another group
    flow(conn, "10.30.0.6", web, "in", MB - 1, minute(0))     # bob: one byte short
    run(conn, minute(1))
    check_limits(conn, minute(1))
    assert not _blocked(conn, alice) and not _blocked(conn, bob)
    assert other_group != group


def test_deleting_the_limit_unblocks(conn):
    web, group, plan_id, alice = _setup(conn)
    limit = traffic_limit(conn, plan_id, group, "1")
    flow(conn, IP, web, "in", 2 * MB, minute(0))
    run(conn, minute(1))
    check_limits(conn, minute(1))
    assert _blocked(conn, alice)
    conn.execute("DELETE FROM tariff_traffic_limits WHERE id = %s", (limit,))
    assert check_limits(conn, minute(2)).unblocked == 1
    assert not _blocked(conn, alice)


def test_sliding_window_lifts_when_the_window_moves_past_the_usage(conn):
    web, group, plan_id, alice = _setup(conn)
    traffic_limit(conn, plan_id, group, "1", window=3600)
    flow(conn, IP, web, "in", MB, minute(0))
    run(conn, minute(1))
    check_limits(conn, minute(1))
    assert _blocked(conn, alice)
    # The rater runs on past its 15-minute late window: the window's bins stay.
    run(conn, minute(40), times=1)
    check_limits(conn, minute(40))
    assert _blocked(conn, alice)
    assert conn.execute("SELECT count(*) FROM traffic_group_bins WHERE bin = %s",
                        (minute(0),)).fetchone()[0] == 1
    # An hour after the bin it has left the window.
    run(conn, minute(61), times=1)
    check_limits(conn, minute(59))
    assert _blocked(conn, alice)
    assert check_limits(conn, minute(60)).unblocked == 1
    assert not _blocked(conn, alice)
    # New usage inside the window blocks again.
    flow(conn, IP, web, "in", MB, minute(62))
    run(conn, minute(63), times=1)
    check_limits(conn, minute(63))
    assert _blocked(conn, alice)


def test_rater_keeps_group_bins_for_the_longest_window_only(conn):
    web, group, plan_id, _ = _setup(conn)
    traffic_limit(conn, plan_id, group, "100", window=1800)
    flow(conn, IP, web, "in", MB, minute(0))
    run(conn, minute(1))
    run(conn, minute(30), times=1)
    assert conn.execute("SELECT count(*) FROM traffic_group_bins").fetchone()[0] == 1
    # 30 minutes of window plus the 15 minutes of the late window.
    run(conn, minute(47), times=1)
    assert conn.execute("SELECT count(*) FROM traffic_group_bins").fetchone()[0] == 0


def _live(conn, alice, given_state) -> None:
    """Alice's session as the enforcement sees it: on a MikroTik, given ``given_state``."""
    nas = conn.execute(
        "INSERT INTO nas (name, vendor, ip_address, secret, coa_port) VALUES"
        " ('lim', 'mikrotik', '127.0.0.2', 'limit-secret-16ch', 3799) RETURNING id"
    ).fetchone()[0]
    conn.execute("UPDATE sessions_open SET nas_id = %s, given_state = %s,"
                 " username = 'alice' WHERE account_id = %s", (nas, given_state, alice))
    conn.execute("INSERT INTO ledger_entries (account_id, kind, amount, idempotency_key,"
                 " effective_at) VALUES (%s, 'payment', 100, %s, %s)",
                 (alice, f"limit-pay-{alice}", datetime(2026, 1, 1, tzinfo=UTC)))
    conn.execute("UPDATE accounts SET balance = 100 WHERE id = %s", (alice,))


def _wanted(conn, at):
    rules = load_tariff_rules(conn)
    ids = candidates(conn, at, {}, speed_states(rules, at, UTC))
    return [plan(row, at, UTC, rules) for row in fetch(conn, at, ids)]


@pytest.mark.parametrize(("mode", "speed", "percent", "due"), [
    ("absolute", "2M/4M", None, "2M/4M"),
    ("add", "1M/1M", None, "11M/21M"),
    ("percent", None, "50", "5M/10M"),
])
def test_speed_limit_changes_the_wanted_speed_and_back(conn, mode, speed, percent, due):
    web, group, plan_id, alice = _setup(conn, speed="10M/20M")
    traffic_limit(conn, plan_id, group, "1", action="speed", mode=mode, speed=speed,
           percent=percent)
    _live(conn, alice, "speed:10M/20M")
    assert _wanted(conn, minute(1)) == []  # given the tariff's speed, nothing to do
    flow(conn, IP, web, "in", 2 * MB, minute(0))
    run(conn, minute(1))
    result = check_limits(conn, minute(1))
    assert (result.reached, result.blocked) == (1, 0)
    assert not _blocked(conn, alice)
    [wanted] = _wanted(conn, minute(1))
    assert wanted.kind == Request.COA and wanted.reason == TRAFFIC_LIMIT
    assert wanted.desired_state == f"speed:{due}"
    assert dict(wanted.change) == {"Mikrotik-Rate-Limit": due}
    # The NAS took it: the session has the limited speed, nothing more to send.
    conn.execute("UPDATE sessions_open SET given_state = %s", (f"speed:{due}",))
    assert [w for w in _wanted(conn, minute(2)) if w is not None] == []
    # The period rolls over: back to the tariff's speed.
    april = datetime(2026, 4, 1, tzinfo=UTC)
    check_limits(conn, april)
    [back] = _wanted(conn, april)
    assert back.desired_state == "speed:10M/20M" and back.reason == SPEED_CHANGED


def test_limit_speed_reaches_a_session_whose_login_did_not_say(conn):
    web, group, plan_id, alice = _setup(conn, speed="10M/20M")
    traffic_limit(conn, plan_id, group, "1", action="speed", mode="percent", percent="10")
    _live(conn, alice, None)
    flow(conn, IP, web, "in", 2 * MB, minute(0))
    run(conn, minute(1))
    check_limits(conn, minute(1))
    [wanted] = _wanted(conn, minute(1))
    assert (wanted.desired_state, wanted.reason) == ("speed:1M/2M", TRAFFIC_LIMIT)


def test_the_beat_task_and_the_command_check_limits_as_the_worker_role(
        db, conn, monkeypatch, tmp_path):
    from click.testing import CliRunner

    from cli.main import cli
    from tests.conftest import ebs_env
    from worker.traffic_tasks import rate_traffic

    web, group, plan_id, alice = _setup(conn)
    traffic_limit(conn, plan_id, group, "1")
    flow(conn, IP, web, "in", 2 * MB, minute(0))
    (tmp_path / "none.py").write_text("")
    env = ebs_env(db, tmp_path / "none.py")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    result = rate_traffic.run(at=minute(1).isoformat())
    assert result["limits"] == {"reached": 1, "lifted": 0, "blocked": 1, "unblocked": 0}
    assert _blocked(conn, alice)
    out = CliRunner().invoke(cli, ["traffic", "rate", "--at", "2026-04-01T00:00:00+00:00"],
                             env=env)
    assert out.exit_code == 0, out.output
    assert "1 lifted, 0 accounts blocked, 1 unblocked" in out.output
    assert not _blocked(conn, alice)
