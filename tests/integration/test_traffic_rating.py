"""Rating: per-MB prices by the time of usage, prepaid first (even inside one bin), the
cumulative rounded total posted as its changes, late bins as deltas, and runs that
repeat or overlap changing nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import psycopg
import pytest

from billing import ledger
from flow.rater import rate
from tests.integration.charging_helpers import account, assign, settlement_period, tariff
from tests.integration.traffic_helpers import (
    MB,
    balance,
    flow,
    group_bytes,
    holder,
    minute,
    prepaid,
    price,
    rate_at_once,
    run,
    session,
    snapshot,
    time_period,
    traffic_charges,
    traffic_class,
    traffic_group,
)

IP = "10.20.0.5"


def _setup(conn, **options):
    return holder(conn, IP, **options)


def test_exact_charges_per_mb_and_balance_follows(conn):
    web, group, plan, alice = _setup(conn)
    price(conn, plan, group, "2.50")
    flow(conn, IP, web, "in", MB, minute(0))
    flow(conn, IP, web, "out", MB // 2, minute(0))
    flow(conn, IP, web, "in", MB // 4, minute(1))
    run(conn, minute(3))
    # 1.75 MB x 2.50 = 4.375, rounded half up.
    assert traffic_charges(conn, alice) == Decimal("4.38")
    assert balance(conn, alice) == Decimal("-4.38")
    assert ledger.verify(conn) == []
    usage = conn.execute("SELECT used_bytes, billed_bytes, cost, charged FROM traffic_usage"
                         ).fetchall()
    assert usage == [(7 * MB // 4, 7 * MB // 4, Decimal("4.375"), Decimal("4.38"))]


def test_tiny_bins_lose_nothing_and_make_no_phantom_kopecks(conn):
    web, group, plan, alice = _setup(conn)
    price(conn, plan, group, "1")
    # 1000 bytes cost 0.00095367431640625: each bin alone rounds to nothing.
    for k in range(40):
        flow(conn, IP, web, "in", 1000, minute(k))
        run(conn, minute(k), times=1)
    exact = Decimal(40 * 1000) / Decimal(MB)
    assert traffic_charges(conn, alice) == exact.quantize(Decimal("0.01"))  # 0.04
    entries = conn.execute("SELECT amount FROM ledger_entries WHERE kind = 'charge_traffic'"
                           " ORDER BY id").fetchall()
    assert [e[0] for e in entries] == [Decimal("-0.01")] * 4
    cost = conn.execute("SELECT cost FROM traffic_usage").fetchone()[0]
    assert cost == exact


def test_prepaid_runs_out_inside_one_bin(conn):
    web, group, plan, alice = _setup(conn)
    price(conn, plan, group, "10")
    prepaid(conn, plan, group, "1")
    flow(conn, IP, web, "in", MB // 2, minute(0))
    run(conn, minute(1))
    assert traffic_charges(conn, alice) == 0
    # 1 MB in one bin: half of it is the allowance's rest, half is priced.
    flow(conn, IP, web, "in", MB, minute(2))
    run(conn, minute(3))
    assert traffic_charges(conn, alice) == Decimal("5.00")
    assert conn.execute("SELECT prepaid_bytes, used_bytes, billed_bytes FROM traffic_usage"
                        ).fetchone() == (MB, Decimal(3 * MB // 2), Decimal(MB // 2))


def test_prepaid_is_consumed_in_bin_order_within_one_run(conn):
    # A night price after a day price: the allowance covers the earlier (day) bytes.
    web, group, plan, alice = _setup(conn)
    night = time_period(conn, [(datetime(2026, 1, 1, 10, 2, tzinfo=UTC), timedelta(hours=1),
                                "DAY")])
    price(conn, plan, group, "3")
    price(conn, plan, group, "1", night)
    prepaid(conn, plan, group, "1")
    flow(conn, IP, web, "in", MB, minute(2))     # night: 1 MB, beyond the allowance
    flow(conn, IP, web, "in", MB, minute(1))     # day: 1 MB, the allowance
    run(conn, minute(3))
    assert traffic_charges(conn, alice) == Decimal("1.00")


def test_night_price_window_by_the_time_of_usage(conn):
    tz = "Europe/Moscow"  # UTC+3: 22:00 local is 19:00 UTC
    web, group, plan, alice = _setup(conn)
    night = time_period(conn, [(datetime(2026, 1, 1, 22, 0, tzinfo=ZoneInfo(tz)),
                                timedelta(hours=8), "DAY")])
    price(conn, plan, group, "2")
    price(conn, plan, group, "0.5", night)
    evening = datetime(2026, 3, 10, 18, 59, tzinfo=UTC)  # 21:59 local
    flow(conn, IP, web, "in", MB, evening)
    flow(conn, IP, web, "in", MB, evening + timedelta(minutes=1))  # 22:00 local: night
    flow(conn, IP, web, "in", MB, evening + timedelta(hours=8))   # 05:59 local: night
    flow(conn, IP, web, "in", MB, evening + timedelta(hours=8, minutes=1))  # 06:00: day
    # Rated long after: the price is the usage time's, not the run's.
    run(conn, evening + timedelta(hours=8, minutes=5), tz=tz, late_minutes=600)
    assert traffic_charges(conn, alice) == Decimal("2") + Decimal("0.5") * 2 + Decimal("2")


def test_a_late_bin_is_rated_as_a_delta_not_lost_and_not_doubled(conn):
    web, group, plan, alice = _setup(conn)
    price(conn, plan, group, "1")
    flow(conn, IP, web, "in", MB, minute(0))
    flow(conn, IP, web, "in", MB, minute(1))
    run(conn, minute(5))
    assert traffic_charges(conn, alice) == Decimal("2.00")
    flow(conn, IP, web, "in", MB // 4, minute(1))    # arrives late for a rated bin
    flow(conn, IP, web, "in", MB, minute(6))
    result = run(conn, minute(7))
    assert result.changed == 2
    assert traffic_charges(conn, alice) == Decimal("3.25")
    stats = conn.execute("SELECT sum(bytes_in) FROM traffic_stats_hourly").fetchone()[0]
    assert stats == 3 * MB + MB // 4


def test_a_run_catches_up_in_chunks_and_stops_at_its_moment(conn):
    web, group, plan, alice = _setup(conn)
    price(conn, plan, group, "1")
    for k in range(0, 50, 7):
        flow(conn, IP, web, "in", MB, minute(k))
    run(conn, minute(-1), late_minutes=5)  # sets the watermark before the traffic
    seen = []
    result = run(conn, minute(30), times=1, late_minutes=5, chunk_minutes=10,
                 progress=lambda r, hi, end: seen.append(hi))
    assert seen == [minute(10), minute(20), minute(30), minute(31)]
    assert result.chunks == 4
    assert traffic_charges(conn, alice) == Decimal("5.00")  # minutes 0, 7, 14, 21, 28
    run(conn, minute(60), late_minutes=5)
    assert traffic_charges(conn, alice) == Decimal("8.00")


def test_two_runs_at_once_rate_once(db, conn):
    web, group, plan, alice = _setup(conn)
    price(conn, plan, group, "1")
    for k in range(20):
        flow(conn, IP, web, "in", MB, minute(k))
    results, errors = rate_at_once(db, minute(20), ZoneInfo("UTC"), chunk_minutes=5)
    assert errors == []
    assert traffic_charges(conn, alice) == Decimal("20.00")
    assert sum(r.entries for r in results) == conn.execute(
        "SELECT count(*) FROM ledger_entries WHERE kind = 'charge_traffic'").fetchone()[0]
    assert ledger.verify(conn) == []


def test_a_run_that_would_wait_gives_way(db, conn):
    web, group, plan, _ = _setup(conn)
    price(conn, plan, group, "1")
    flow(conn, IP, web, "in", MB, minute(0))
    with psycopg.connect(db) as holder:
        holder.execute("SELECT pg_advisory_xact_lock(hashtext('ebs.rate_traffic')::bigint)")
        result = rate(conn, minute(2), ZoneInfo("UTC"), wait=False)
        assert result.skipped and result.entries == 0
    assert rate(conn, minute(2), ZoneInfo("UTC"), wait=False).entries == 1


def test_each_settlement_period_grants_its_prepaid_and_rollover_carries_the_rest(conn):
    web, group, plan, alice = _setup(conn, period_unit="DAY")
    price(conn, plan, group, "1")
    prepaid(conn, plan, group, "2", rollover=True)
    day1 = datetime(2026, 3, 10, 23, 58, tzinfo=UTC)
    flow(conn, IP, web, "in", MB, day1)                          # day 1: 1 of 2 MB
    flow(conn, IP, web, "in", 4 * MB, day1 + timedelta(minutes=3))  # day 2: 2 + 1 rolled
    run(conn, day1 + timedelta(minutes=5))
    assert traffic_charges(conn, alice) == Decimal("1.00")
    rows = conn.execute("SELECT period_start, prepaid_bytes, used_bytes FROM traffic_usage"
                        " ORDER BY period_start").fetchall()
    assert rows == [(datetime(2026, 3, 10, tzinfo=UTC), 2 * MB, MB),
                    (datetime(2026, 3, 11, tzinfo=UTC), 3 * MB, 4 * MB)]


def test_the_first_period_prepaid_is_prorated_by_local_days(conn):
    web, group, plan, alice = _setup(conn, assigned_at=datetime(2026, 3, 22, tzinfo=UTC))
    price(conn, plan, group, "1")
    prepaid(conn, plan, group, "31", prorate=True)  # March: 10 of 31 days left
    at = datetime(2026, 3, 25, tzinfo=UTC)
    flow(conn, IP, web, "in", 12 * MB, at)
    run(conn, at + timedelta(minutes=2))
    assert traffic_charges(conn, alice) == Decimal("2.00")
    assert conn.execute("SELECT prepaid_bytes FROM traffic_usage").fetchone()[0] == 10 * MB


def test_usage_is_priced_by_the_tariff_in_force_at_the_bin(conn):
    web, group, cheap, alice = _setup(conn)
    price(conn, cheap, group, "1")
    dear = tariff(conn)
    price(conn, dear, group, "5")
    assign(conn, alice, dear, minute(1))
    flow(conn, IP, web, "in", MB, minute(0))
    flow(conn, IP, web, "in", MB, minute(1))
    run(conn, minute(3))
    assert traffic_charges(conn, alice) == Decimal("6.00")


def test_traffic_without_a_price_is_counted_but_not_charged(conn):
    web, unpriced, plan, alice = _setup(conn, period_unit=None)
    other = traffic_group(conn, [web])
    price(conn, plan, other, "1")
    flow(conn, IP, web, "in", MB, minute(0))
    before = snapshot(conn)
    run(conn, minute(2))
    assert traffic_charges(conn, alice) == Decimal("1.00")  # the priced group only
    assert group_bytes(conn, alice, unpriced) == (MB, 0)
    assert snapshot(conn) != before
    # Without a settlement period, usage is accumulated per local calendar month.
    assert conn.execute("SELECT period_start, period_end FROM traffic_usage").fetchone() == (
        datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))


def test_the_beat_task_and_the_command_rate_as_the_worker_role(db, conn, monkeypatch, tmp_path):
    from click.testing import CliRunner

    from cli.main import cli
    from tests.conftest import ebs_env
    from worker.traffic_tasks import rate_traffic

    web, group, plan, alice = _setup(conn)
    price(conn, plan, group, "1")
    flow(conn, IP, web, "in", MB, minute(0))
    (tmp_path / "none.py").write_text("")
    env = ebs_env(db, tmp_path / "none.py")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    result = rate_traffic.run(at=minute(2).isoformat())
    assert (result["entries"], result["amount"], result["skipped"]) == (1, "1.00", False)
    assert rate_traffic.run(at=minute(2).isoformat())["entries"] == 0

    flow(conn, IP, web, "in", MB // 2, minute(1))  # late
    flow(conn, IP, web, "out", MB // 2, minute(3))
    out = CliRunner().invoke(cli, ["traffic", "rate", "--at", minute(4).isoformat()], env=env)
    assert out.exit_code == 0, out.output
    assert "2 group values changed" in out.output and "1 entries posting 1.00" in out.output
    assert traffic_charges(conn, alice) == Decimal("2.00")
    again = CliRunner().invoke(cli, ["traffic", "rate", "--at", minute(4).isoformat(),
                                     "--json"], env=env)
    assert again.exit_code == 0, again.output
    assert '"entries": 0' in again.output
    bad = CliRunner().invoke(cli, ["traffic", "rate", "--at", "soon"], env=env)
    assert bad.exit_code == 2 and "not an ISO time" in bad.output


def test_the_prorated_share_in_sql_counts_local_days_as_billing_does(conn):
    from billing.periods import SettlementPeriod, local_days, period_bounds

    tz = ZoneInfo("Europe/Moscow")
    web = traffic_class(conn)
    group = traffic_group(conn, [web])
    plan = tariff(conn)
    anchor = datetime(2026, 1, 1, tzinfo=tz)
    period = settlement_period(conn, "MONTH", anchor)
    conn.execute("UPDATE tariffs SET settlement_period_id = %s WHERE id = %s", (period, plan))
    prepaid(conn, plan, group, "31", prorate=True)
    usage_at = datetime(2026, 3, 28, 10, tzinfo=UTC)
    start, end = period_bounds(SettlementPeriod("MONTH", anchor=anchor), usage_at, tz)
    moments = [datetime(2026, 3, 5, 20, 30, tzinfo=UTC),   # 23:30 local, the 5th
               datetime(2026, 3, 5, 21, 30, tzinfo=UTC),   # 00:30 local, the 6th
               datetime(2026, 3, 1, 0, 0, tzinfo=UTC),     # 03:00 local, the 1st
               datetime(2026, 3, 27, 12, tzinfo=UTC)]
    expected = {}
    for n, assigned_at in enumerate(moments):
        holder = account(conn)
        assign(conn, holder, plan, assigned_at)
        session(conn, holder, f"10.40.0.{n + 1}", assigned_at)
        flow(conn, f"10.40.0.{n + 1}", web, "in", 1000, usage_at)
        share = Decimal(31 * MB * local_days(assigned_at, end, tz)) / local_days(start, end, tz)
        expected[holder] = share.quantize(Decimal(1), rounding=ROUND_HALF_UP)
    rate(conn, usage_at + timedelta(minutes=1), tz)
    granted = dict(conn.execute("SELECT account_id, prepaid_bytes FROM traffic_usage").fetchall())
    assert granted == expected
    assert expected[min(expected)] == 27 * MB  # 31 days less the 4 before the 5th


def test_a_failing_run_leaves_nothing_half_written(conn):
    web, group, plan, alice = _setup(conn)
    price(conn, plan, group, "1")
    flow(conn, IP, web, "in", MB, minute(0))
    # The key the first posting will take is already used: the ledger and the usage
    # would part, so the run fails whole.
    usage_id = conn.execute("SELECT nextval(pg_get_serial_sequence('traffic_usage', 'id'))"
                            ).fetchone()[0] + 1
    ledger.post(conn, ledger.Entry(alice, "payment", Decimal("1"), f"traffic:{usage_id}:1",
                                   minute(0)))
    before = snapshot(conn)
    with pytest.raises(psycopg.errors.UniqueViolation):
        rate(conn, minute(2), ZoneInfo("UTC"))
    assert snapshot(conn) == before
    for table in ("traffic_rating_state", "traffic_bin_marks", "traffic_group_bins"):
        assert conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0


def test_rows_later_than_the_late_window_are_not_read(conn):
    web, group, plan, alice = _setup(conn)
    price(conn, plan, group, "1")
    run(conn, minute(20), late_minutes=5)
    flow(conn, IP, web, "in", MB, minute(2))     # 19 minutes behind the watermark
    flow(conn, IP, web, "in", MB, minute(17))    # within the 5 minutes behind it
    run(conn, minute(21), late_minutes=5)
    assert traffic_charges(conn, alice) == Decimal("1.00")
    assert conn.execute("SELECT min(bin) FROM traffic_bin_marks").fetchone()[0] >= minute(17)


def test_a_connection_inside_a_transaction_is_refused(db):
    with psycopg.connect(db) as conn, pytest.raises(ValueError, match="autocommit"):
        rate(conn, minute(0), ZoneInfo("UTC"))
