"""Time charging: minutes online priced by the time of day, prepaid minutes first (even
inside one interim), a session's seconds rounded up to the tarification step as a whole,
the rounded cumulative cost posted as its changes, exactly once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from billing import ledger
from tests.integration.charging_helpers import account, assign, settlement_period, tariff
from tests.integration.session_rating_helpers import acct, at, new_session_id, run, username
from tests.integration.traffic_helpers import balance, charges, time_period


def _setup(conn, *, step=60, prepaid_minutes="0", rollover=False, period=None):
    plan = tariff(conn)
    if period is not None:
        conn.execute("UPDATE tariffs SET settlement_period_id = %s WHERE id = %s",
                     (period, plan))
    conn.execute("INSERT INTO tariff_time_service (tariff_id, step_seconds, prepaid_minutes,"
                 " rollover) VALUES (%s, %s, %s, %s)",
                 (plan, step, Decimal(prepaid_minutes), rollover))
    alice = account(conn)
    assign(conn, alice, plan, datetime(2026, 1, 1, tzinfo=UTC))
    return plan, alice, username(conn, alice)


def _price(conn, tariff_id, per_minute, time_period_id=None) -> None:
    conn.execute("INSERT INTO tariff_time_prices (tariff_id, time_period_id, price_per_minute)"
                 " VALUES (%s, %s, %s)", (tariff_id, time_period_id, Decimal(per_minute)))


def _usage(conn):
    return conn.execute("SELECT prepaid_seconds, used_seconds, billed_seconds, charged"
                        " FROM time_usage ORDER BY period_start").fetchall()


def test_the_step_rounds_each_session_up_as_a_whole(conn):
    plan, alice, user = _setup(conn, step=60)
    _price(conn, plan, "1")
    sid = new_session_id()
    acct(conn, "Start", sid, user, at(0), 0)
    acct(conn, "Interim-Update", sid, user, at(0.5), 30)
    run(conn, at(1))
    # 30 s online: one step begun, one minute charged.
    assert charges(conn, alice, "charge_time") == Decimal("1.00")
    acct(conn, "Interim-Update", sid, user, at(1.5), 90)
    run(conn, at(2))
    assert charges(conn, alice, "charge_time") == Decimal("2.00")
    # Stop at 95 s: still inside the second step, nothing more.
    acct(conn, "Stop", sid, user, at(95 / 60), 95)
    run(conn, at(3))
    assert charges(conn, alice, "charge_time") == Decimal("2.00")
    assert _usage(conn) == [(0, 120, 120, Decimal("2.00"))]
    # A second session begins its own steps: 10 s is a minute.
    other = new_session_id()
    acct(conn, "Stop", other, user, at(5), 10)
    run(conn, at(6))
    assert charges(conn, alice, "charge_time") == Decimal("3.00")
    assert balance(conn, alice) == Decimal("-3.00")
    assert ledger.verify(conn) == []
    keys = [r[0] for r in conn.execute(
        "SELECT idempotency_key FROM ledger_entries WHERE kind = 'charge_time' ORDER BY id")]
    assert len(keys) == 3 and len(set(keys)) == 3


def test_night_minutes_are_priced_by_the_night(conn):
    plan, alice, user = _setup(conn, step=1)
    night = time_period(conn, [(datetime(2026, 1, 1, 22, 0, tzinfo=UTC), timedelta(hours=8),
                                "DAY")])
    _price(conn, plan, "1")
    _price(conn, plan, "0.5", night)
    sid = new_session_id()
    start = datetime(2026, 3, 10, 21, 58, tzinfo=UTC)
    acct(conn, "Start", sid, user, start, 0)
    # One interim across midnight of the price: 2 minutes by day, 3 by night.
    acct(conn, "Interim-Update", sid, user, start + timedelta(minutes=5), 300)
    run(conn, start + timedelta(minutes=6))
    assert charges(conn, alice, "charge_time") == Decimal("3.50")
    # 30 s more of night: 0.25, and the cumulative total rounds half up (3.75).
    acct(conn, "Interim-Update", sid, user, start + timedelta(minutes=5.5), 330)
    run(conn, start + timedelta(minutes=7))
    assert charges(conn, alice, "charge_time") == Decimal("3.75")


def test_prepaid_minutes_run_out_inside_one_interim(conn):
    plan, alice, user = _setup(conn, step=60, prepaid_minutes="3")
    _price(conn, plan, "2")
    sid = new_session_id()
    acct(conn, "Start", sid, user, at(0), 0)
    acct(conn, "Interim-Update", sid, user, at(2), 120)
    run(conn, at(3))
    assert charges(conn, alice, "charge_time") == 0
    # 5 minutes now: the third prepaid minute, then two priced.
    acct(conn, "Interim-Update", sid, user, at(5), 300)
    run(conn, at(6))
    assert charges(conn, alice, "charge_time") == Decimal("4.00")
    assert _usage(conn) == [(180, 300, 120, Decimal("4.00"))]


def test_unused_prepaid_minutes_roll_over_into_the_next_period(conn):
    period = settlement_period(conn, "MONTH", datetime(2026, 1, 1, tzinfo=UTC))
    plan, alice, user = _setup(conn, step=60, prepaid_minutes="10", rollover=True,
                               period=period)
    _price(conn, plan, "1")
    first = new_session_id()
    march = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
    acct(conn, "Stop", first, user, march + timedelta(minutes=4), 240)
    run(conn, march + timedelta(minutes=5))
    second = new_session_id()
    april = datetime(2026, 4, 2, 12, 0, tzinfo=UTC)
    acct(conn, "Stop", second, user, april + timedelta(minutes=20), 1200)
    run(conn, april + timedelta(minutes=21))
    # March leaves 6 of 10 minutes; April has 16 and is charged 4.
    assert _usage(conn) == [(600, 240, 0, 0), (960, 1200, 240, Decimal("4.00"))]
    assert charges(conn, alice, "charge_time") == Decimal("4.00")


def test_a_tariff_without_time_charging_is_not_charged(conn):
    plan = tariff(conn)
    bob = account(conn)
    assign(conn, bob, plan, datetime(2026, 1, 1, tzinfo=UTC))
    acct(conn, "Stop", new_session_id(), username(conn, bob), at(5), 300)
    assert run(conn, at(6)).sessions == 0
    assert charges(conn, bob, "charge_time") == 0



def test_seconds_beyond_the_time_since_the_start_are_not_believed(conn):
    plan, alice, user = _setup(conn, step=60)
    _price(conn, plan, "1")
    sid = new_session_id()
    acct(conn, "Start", sid, user, at(0), 0)
    # A corrupt interim claims 20 days online five minutes after the start.
    acct(conn, "Interim-Update", sid, user, at(5), 20 * 86400)
    result = run(conn, at(6))
    assert result.implausible == 1
    # Charged up to the run's moment plus a day of clock skew: 6 minutes + 1440.
    assert charges(conn, alice, "charge_time") == Decimal("1446.00")
    # As time passes, more of its claim is believed: five minutes later, five more.
    # A session an interim created dates its start back by its seconds (68 years here):
    # 400 days of it are believed, all of them before the account had a tariff.
    other = new_session_id()
    acct(conn, "Interim-Update", other, user, at(10), 2 ** 31 - 1)
    result = run(conn, at(11))
    assert (result.sessions, result.implausible) == (2, 2)
    assert charges(conn, alice, "charge_time") == Decimal("1451.00")

def test_the_beat_task_rates_as_the_worker_role(db, conn, monkeypatch, tmp_path):
    from tests.conftest import ebs_env
    from worker.session_rating_tasks import rate_sessions_task

    plan, alice, user = _setup(conn, step=60)
    _price(conn, plan, "1")
    sid = new_session_id()
    acct(conn, "Interim-Update", sid, user, at(5), 300)
    (tmp_path / "none.py").write_text("")
    env = ebs_env(db, tmp_path / "none.py")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    result = rate_sessions_task.run(at=at(6).isoformat())
    assert (result["time_entries"], result["time_amount"], result["skipped"]) == (
        1, "5.00", False)
    assert rate_sessions_task.run(at=at(6).isoformat())["sessions"] == 0
    assert charges(conn, alice, "charge_time") == Decimal("5.00")


def test_ebs_traffic_rate_rates_the_sessions_too(db, conn, monkeypatch, tmp_path):
    from click.testing import CliRunner

    from cli.main import cli
    from tests.conftest import ebs_env

    plan, alice, user = _setup(conn, step=60)
    _price(conn, plan, "1")
    sid = new_session_id()
    acct(conn, "Interim-Update", sid, user, at(5), 300)
    (tmp_path / "none.py").write_text("")
    env = ebs_env(db, tmp_path / "none.py")
    out = CliRunner().invoke(cli, ["traffic", "rate", "--at", at(6).isoformat()], env=env)
    assert out.exit_code == 0, out.output
    assert "sessions: 1 grew" in out.output and "1 entries posting 5.00" in out.output
    acct(conn, "Stop", sid, user, at(7), 420)
    out = CliRunner().invoke(cli, ["traffic", "rate", "--at", at(8).isoformat()], env=env)
    assert out.exit_code == 0, out.output
    assert "sessions: 1 grew" in out.output and "1 entries posting 2.00" in out.output
    assert charges(conn, alice, "charge_time") == Decimal("7.00")


def test_tiny_interims_lose_nothing_and_make_no_phantom_kopecks(conn):
    plan, alice, user = _setup(conn, step=1)
    _price(conn, plan, "0.01")
    sid = new_session_id()
    acct(conn, "Start", sid, user, at(0), 0)
    # 100 interims of 7 s each: 700 s at 0.01 a minute is 0.11666..., 0.12 in all.
    for k in range(1, 101):
        acct(conn, "Interim-Update", sid, user, at(k * 7 / 60), k * 7)
        run(conn, at(k * 7 / 60), times=1)
    assert charges(conn, alice, "charge_time") == Decimal("0.12")
    amounts = [r[0] for r in conn.execute(
        "SELECT amount FROM ledger_entries WHERE kind = 'charge_time'")]
    assert len(amounts) == 12 and set(amounts) == {Decimal("-0.01")}
    assert conn.execute("SELECT used_seconds, price_seconds FROM time_usage").fetchone() == (
        700, Decimal("7.00"))
