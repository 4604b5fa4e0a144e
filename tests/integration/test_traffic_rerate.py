"""Re-rating after a price fix: exactly the difference is posted, a second re-rate posts
nothing, prepaid is consumed in bin order, one account alone when asked, and a range the
kept bins cannot recompute is refused or left alone, never half-done."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from billing import ledger
from flow.rerate import RerateRefused, rerate
from tests.integration.traffic_helpers import (
    MB,
    flow,
    holder,
    minute,
    prepaid,
    price,
    run,
    snapshot,
    time_period,
    traffic_charges,
)

UTCZ = ZoneInfo("UTC")
MARCH = (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))


def _setup(conn, ip="10.40.0.5", plan_id=None, group=None, web=None):
    return holder(conn, ip, tariff_id=plan_id, group=group, web=web)


def _set_price(conn, tariff_id, group_id, per_mb) -> None:
    conn.execute("UPDATE tariff_traffic_prices SET price_per_mb = %s"
                 " WHERE tariff_id = %s AND group_id = %s AND time_period_id IS NULL",
                 (Decimal(per_mb), tariff_id, group_id))


def _entries(conn, account_id) -> list[Decimal]:
    return [r[0] for r in conn.execute(
        "SELECT amount FROM ledger_entries WHERE account_id = %s AND kind = 'charge_traffic'"
        " ORDER BY id", (account_id,))]


def test_rerate_after_a_price_raise_posts_exactly_the_difference_once(conn):
    web, group, plan_id, alice = _setup(conn)
    price(conn, plan_id, group, "2")
    flow(conn, IP := "10.40.0.5", web, "in", MB, minute(0))
    flow(conn, IP, web, "out", MB // 2, minute(1))
    flow(conn, IP, web, "in", MB // 4, minute(2))
    run(conn, minute(3))
    assert traffic_charges(conn, alice) == Decimal("3.50")  # 1.75 MB x 2
    _set_price(conn, plan_id, group, "2.5")
    result = rerate(conn, *MARCH, UTCZ)
    assert (result.rows, result.recomputed, result.entries) == (1, 1, 1)
    assert result.amount == Decimal("0.88")  # 4.375 -> 4.38, less 3.50
    assert _entries(conn, alice) == [Decimal("-3.50"), Decimal("-0.88")]
    assert traffic_charges(conn, alice) == Decimal("4.38")
    assert conn.execute("SELECT cost, charged FROM traffic_usage").fetchone() == (
        Decimal("4.375"), Decimal("4.38"))
    assert ledger.verify(conn) == []
    # The same fix again: nothing at all changes.
    state = snapshot(conn)
    again = rerate(conn, *MARCH, UTCZ)
    assert (again.recomputed, again.entries, again.amount) == (0, 0, Decimal(0))
    assert snapshot(conn) == state
    # The rater goes on from the new cost: a further bin at the new price.
    flow(conn, IP, web, "in", MB, minute(4))
    run(conn, minute(5))
    assert traffic_charges(conn, alice) == Decimal("6.88")  # 2.75 MB x 2.5 = 6.875


def test_a_price_lowered_is_credited(conn):
    web, group, plan_id, alice = _setup(conn)
    price(conn, plan_id, group, "3")
    flow(conn, "10.40.0.5", web, "in", 2 * MB, minute(0))
    run(conn, minute(1))
    _set_price(conn, plan_id, group, "1")
    assert rerate(conn, *MARCH, UTCZ).amount == Decimal("-4.00")
    assert _entries(conn, alice) == [Decimal("-6.00"), Decimal("4.00")]
    assert ledger.verify(conn) == []


def test_prepaid_is_consumed_in_bin_order(conn):
    # A late bin rated after a later one took the allowance; re-rated in bin order the
    # earlier (day-priced) bin takes it and the later (night-priced) one is charged.
    web, group, plan_id, alice = _setup(conn)
    night = time_period(conn, [(datetime(2026, 1, 1, 10, 5, tzinfo=UTC), timedelta(hours=1),
                                "DAY")])
    price(conn, plan_id, group, "3")
    price(conn, plan_id, group, "1", night)
    prepaid(conn, plan_id, group, "1")
    flow(conn, "10.40.0.5", web, "in", MB, minute(5))   # night
    run(conn, minute(6))
    flow(conn, "10.40.0.5", web, "in", MB, minute(1))   # day, arrives late
    run(conn, minute(7))
    assert traffic_charges(conn, alice) == Decimal("3.00")
    result = rerate(conn, *MARCH, UTCZ)
    assert result.amount == Decimal("-2.00")
    assert traffic_charges(conn, alice) == Decimal("1.00")
    assert conn.execute("SELECT billed_bytes FROM traffic_usage").fetchone()[0] == MB


def test_one_account_alone(conn):
    web, group, plan_id, alice = _setup(conn)
    _, _, _, bob = _setup(conn, "10.40.0.6", plan_id, group, web)
    price(conn, plan_id, group, "1")
    flow(conn, "10.40.0.5", web, "in", MB, minute(0))
    flow(conn, "10.40.0.6", web, "in", MB, minute(0))
    run(conn, minute(1))
    _set_price(conn, plan_id, group, "2")
    result = rerate(conn, *MARCH, UTCZ, account_id=bob)
    assert (result.rows, result.entries) == (1, 1)
    assert (traffic_charges(conn, alice), traffic_charges(conn, bob)) == (
        Decimal("1.00"), Decimal("2.00"))


def test_range_outside_the_period_touches_nothing(conn):
    web, group, plan_id, alice = _setup(conn)
    price(conn, plan_id, group, "1")
    flow(conn, "10.40.0.5", web, "in", MB, minute(0))
    run(conn, minute(1))
    _set_price(conn, plan_id, group, "2")
    april = (datetime(2026, 4, 1, tzinfo=UTC), datetime(2026, 5, 1, tzinfo=UTC))
    assert rerate(conn, *april, UTCZ).rows == 0
    assert traffic_charges(conn, alice) == Decimal("1.00")


def test_bins_no_longer_kept_refuse_the_range_and_incomplete_rows_stay(conn):
    web, group, plan_id, _ = _setup(conn)
    price(conn, plan_id, group, "1")
    flow(conn, "10.40.0.5", web, "in", MB, minute(0))
    flow(conn, "10.40.0.5", web, "in", MB, minute(1))
    run(conn, minute(2))
    _set_price(conn, plan_id, group, "2")
    # A bin gone (kept bins reach back only so far): the row cannot be recomputed whole.
    conn.execute("DELETE FROM traffic_group_bins WHERE bin = %s", (minute(0),))
    state = snapshot(conn)
    result = rerate(conn, *MARCH, UTCZ)
    assert (result.incomplete, result.entries) == (1, 0)
    assert snapshot(conn) == state
    # The rater says since when bins are kept: a period starting earlier is refused.
    conn.execute("UPDATE traffic_rating_state SET group_bins_from = %s", (minute(0),))
    with pytest.raises(RerateRefused) as refused:
        rerate(conn, *MARCH, UTCZ)
    assert refused.value.code == "bins_not_kept"
    assert snapshot(conn) == state
    with pytest.raises(RerateRefused):
        rerate(conn, MARCH[1], MARCH[0], UTCZ)


def test_the_command_rerates_as_the_worker_role(db, conn, monkeypatch, tmp_path):
    from click.testing import CliRunner

    from cli.main import cli
    from tests.conftest import ebs_env

    web, group, plan_id, alice = _setup(conn)
    price(conn, plan_id, group, "1")
    flow(conn, "10.40.0.5", web, "in", 3 * MB, minute(0))
    run(conn, minute(1))
    _set_price(conn, plan_id, group, "1.5")
    (tmp_path / "none.py").write_text("")
    env = ebs_env(db, tmp_path / "none.py")
    args = ["traffic", "rerate", "--from", "2026-03-01T00:00:00+00:00",
            "--to", "2026-03-31T00:00:00+00:00", "--account", str(alice)]
    out = CliRunner().invoke(cli, args, env=env)
    assert out.exit_code == 0, out.output
    assert "1 usage rows looked at, 1 recomputed, 1 entries posting 1.50" in out.output
    again = CliRunner().invoke(cli, [*args, "--json"], env=env)
    assert again.exit_code == 0, again.output
    assert '"entries": 0' in again.output
    assert traffic_charges(conn, alice) == Decimal("4.50")
    bad = CliRunner().invoke(cli, ["traffic", "rerate", "--from", "2026-03-02",
                                   "--to", "2026-03-01"], env=env)
    assert bad.exit_code != 0 and "empty_range" in bad.output
