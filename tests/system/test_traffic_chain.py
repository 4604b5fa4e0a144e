"""The real chain: a pcap replayed by softflowd as NetFlow v5 or v9 to a private nfacctd
that is configured from the database, its rows in flow_bins, then the rater: the exact
bytes per group and the exact charges, for the plain case and for each rule that decides
who pays what: the holder of an address at the bin's time, a prepaid allowance running
out inside one bin, a night price, a limit's CoA to the NAS simulator and its lift, a
late bin, a re-rate after a price change and two rating runs at once.

Every expected figure is computed here from the flows the pcap holds and the prices the
test sets, never read back from what the rater wrote; each rating run is repeated and
must change nothing (tests/integration/traffic_helpers.run)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from billing import ledger
from billing.money import round_money
from billing.traffic_pricing import BYTE_PRICE_FACTOR, MEGABYTE
from cli.main import cli
from flow.rating import BIN
from flow.rerate import rerate
from tests.conftest import ebs_env
from tests.integration.charging_helpers import account, assign, settlement_period, tariff
from tests.integration.traffic_helpers import (
    group_bytes,
    prepaid,
    price,
    rate_at_once,
    run,
    session,
    snapshot,
    subaccount,
    time_period,
    traffic_charges,
    traffic_group,
    traffic_limit,
)
from tests.nas_simulator import COA_REQUEST
from tests.system.test_coa import make_nas, make_tariff, record
from tests.system.test_coa_follows_changes import account_on, given_state, start
from tests.system.test_coa_speed_schedule import rate_limits
from tests.system.test_nfacctd_harness import TCP, UDP, Flow
from tests.system.test_traffic_limit_coa import enforce_at
from tests.system.traffic_chain_helpers import (
    clear_of_the_minute_end,
    collect,
    collected_bins,
    flow_bin_partitions,
)

NAS_IP = "127.0.0.1"  # softflowd sends from here
PRICE = Decimal("1000")  # per MB: a few kilobytes cost roubles, so rounding shows
UTCZ = ZoneInfo("UTC")

ALICE_OUT = Flow("10.0.0.1", 40000, "192.0.2.10", 80, TCP, 5, 100)         # local
ALICE_IN = Flow("192.0.2.10", 80, "10.0.0.1", 40000, TCP, 7, 1000)         # local
ALICE_CDN = Flow("198.51.100.7", 443, "10.0.0.1", 50000, TCP, 10, 1400)    # cdn
BOB_OUT = Flow("10.0.0.9", 1234, "198.51.100.8", 123, UDP, 4, 48)          # static, cdn
NOBODY = Flow("10.0.0.3", 1234, "192.0.2.5", 4321, UDP, 1, 1400)           # pool, no session
FLOWS = [ALICE_OUT, ALICE_IN, ALICE_CDN, BOB_OUT, NOBODY]
ALICE = [ALICE_OUT, ALICE_IN, ALICE_CDN]
BOB = [BOB_OUT]


def _bytes(flows: list[Flow]) -> int:
    return sum(f.bytes for f in flows)


def _cost(flows_or_bytes: list[Flow] | int, per_mb: Decimal = PRICE) -> Decimal:
    """What ``flows_or_bytes`` cost at ``per_mb``, rounded once, as a cumulative total is."""
    nbytes = flows_or_bytes if isinstance(flows_or_bytes, int) else _bytes(flows_or_bytes)
    return round_money(nbytes * per_mb * BYTE_PRICE_FACTOR)


def _charge_entries(conn, account_id) -> list[Decimal]:
    return [r[0] for r in conn.execute(
        "SELECT amount FROM ledger_entries WHERE account_id = %s AND kind = 'charge_traffic'"
        " ORDER BY id", (account_id,))]


def _seed(conn) -> dict:
    ids = {}
    for name, network in (("local", "192.0.2.0/24"), ("cdn", "198.51.100.0/24")):
        ids[name] = conn.execute("INSERT INTO traffic_classes (name) VALUES (%s) RETURNING id",
                                 (name,)).fetchone()[0]
        conn.execute("INSERT INTO traffic_class_nodes (class_id, network) VALUES (%s, %s)",
                     (ids[name], network))
    ids["all"] = traffic_group(conn, [ids["local"], ids["cdn"]], "both", "sum")
    ids["local_in"] = traffic_group(conn, [ids["local"]], "in", "sum")
    conn.execute("INSERT INTO ip_pools (name, range_start, range_end)"
                 " VALUES ('main', '10.0.0.0', '10.0.0.127')")
    conn.execute("INSERT INTO nas (name, ip_address, secret)"
                 " VALUES ('nas1', %s, 'a-long-enough-secret-1234')", (NAS_IP,))
    ids["plan"] = plan = tariff(conn)
    period = settlement_period(conn, "MONTH", datetime(2026, 1, 1, tzinfo=UTC))
    conn.execute("UPDATE tariffs SET settlement_period_id = %s WHERE id = %s", (period, plan))
    price(conn, plan, ids["all"], str(PRICE))
    now = datetime.now(UTC)
    ids["alice"], ids["bob"], ids["carol"] = account(conn), account(conn), account(conn)
    for holder in (ids["alice"], ids["bob"], ids["carol"]):
        assign(conn, holder, plan, now - timedelta(days=1))
    session(conn, ids["alice"], "10.0.0.1", now - timedelta(hours=1))
    subaccount(conn, ids["bob"], "10.0.0.9")
    flow_bin_partitions(conn)
    return ids


@pytest.fixture
def chain(conn, chain_collector):
    ids = _seed(conn)
    return chain_collector(), ids


def _assert_plain_bytes(conn, ids) -> None:
    alice, bob = ids["alice"], ids["bob"]
    assert group_bytes(conn, alice, ids["all"]) == (ALICE_IN.bytes + ALICE_CDN.bytes,
                                                    ALICE_OUT.bytes)
    assert group_bytes(conn, alice, ids["local_in"]) == (ALICE_IN.bytes, 0)
    assert group_bytes(conn, bob, ids["all"]) == (0, BOB_OUT.bytes)


@pytest.mark.parametrize("version", [5, 9])
def test_replayed_netflow_is_rated_to_the_exact_bytes_and_charges(chain, conn, tmp_path,
                                                                  version):
    server, ids = chain
    collect(server, FLOWS, tmp_path / "flows.pcap", version)

    result = run(conn, datetime.now(UTC))  # run twice: the second changes nothing
    _assert_plain_bytes(conn, ids)
    assert traffic_charges(conn, ids["alice"]) == _cost(ALICE)
    assert traffic_charges(conn, ids["bob"]) == _cost(BOB)
    rejected = conn.execute("SELECT reason, sum(row_count), sum(bytes) FROM traffic_rejects"
                            " GROUP BY 1").fetchall()
    assert rejected == [("no_holder", 1, NOBODY.bytes)]
    assert result.entries == 2
    assert ledger.verify(conn) == []


HANDED_IN = Flow("192.0.2.20", 443, "10.0.0.2", 51000, TCP, 6, 900)     # local
HANDED_OUT = Flow("10.0.0.2", 51000, "198.51.100.20", 443, TCP, 3, 200)  # cdn


def test_an_address_is_charged_to_whoever_held_it_at_the_bin(chain, conn, tmp_path):
    """Alice held 10.0.0.2 over the bins (a session now in history, beside her open one
    on 10.0.0.1); Carol's open session has held it since the bins ended: she is today's
    holder and takes none of it."""
    server, ids = chain
    collect(server, [*FLOWS, HANDED_IN, HANDED_OUT], tmp_path / "flows.pcap", 9)
    bins = collected_bins(conn)
    handover = bins[-1] + BIN
    session(conn, ids["alice"], "10.0.0.2", bins[0] - timedelta(hours=1), handover)
    session(conn, ids["carol"], "10.0.0.2", handover)

    run(conn, max(datetime.now(UTC), handover))
    alice, carol = ids["alice"], ids["carol"]
    assert group_bytes(conn, alice, ids["all"]) == (
        ALICE_IN.bytes + ALICE_CDN.bytes + HANDED_IN.bytes, ALICE_OUT.bytes + HANDED_OUT.bytes)
    assert group_bytes(conn, alice, ids["local_in"]) == (ALICE_IN.bytes + HANDED_IN.bytes, 0)
    assert group_bytes(conn, carol, ids["all"]) == (0, 0)
    assert traffic_charges(conn, alice) == _cost([*ALICE, HANDED_IN, HANDED_OUT])
    assert traffic_charges(conn, carol) == 0
    assert traffic_charges(conn, ids["bob"]) == _cost(BOB)


def test_prepaid_runs_out_inside_one_bin(chain, conn, tmp_path):
    server, ids = chain
    allowance_mb = Decimal("0.01")  # 10,486 bytes: less than Alice's bin, more than Bob's
    allowance = int((allowance_mb * MEGABYTE).to_integral_value(ROUND_HALF_UP))
    assert _bytes(BOB) < allowance < _bytes(ALICE)
    prepaid(conn, ids["plan"], ids["all"], allowance_mb)
    clear_of_the_minute_end(15)
    collect(server, FLOWS, tmp_path / "flows.pcap", 9)
    assert len(collected_bins(conn)) == 1

    run(conn, datetime.now(UTC))
    _assert_plain_bytes(conn, ids)
    assert traffic_charges(conn, ids["alice"]) == _cost(_bytes(ALICE) - allowance)
    assert traffic_charges(conn, ids["bob"]) == 0
    usage = conn.execute(
        "SELECT account_id, prepaid_bytes, used_bytes, billed_bytes FROM traffic_usage"
        " ORDER BY account_id").fetchall()
    assert usage == [  # Alice's allowance is used up, Bob's not
        (ids["alice"], allowance, _bytes(ALICE), _bytes(ALICE) - allowance),
        (ids["bob"], allowance, _bytes(BOB), 0)]


def test_the_price_of_the_time_period_in_force_at_the_bin(chain, conn, tmp_path):
    """A night window around now priced lower; an evening window that ended an hour ago
    priced higher. The bins lie in the night one, whatever the hour of the run."""
    server, ids = chain
    night_price, evening_price = Decimal("250"), Decimal("5000")
    now = datetime.now(UTC)
    night = time_period(conn, [(now - timedelta(hours=1), timedelta(hours=2), "DAY")])
    evening = time_period(conn, [(now - timedelta(hours=3), timedelta(hours=2), "DAY")])
    price(conn, ids["plan"], ids["all"], str(night_price), night)
    price(conn, ids["plan"], ids["all"], str(evening_price), evening)
    collect(server, FLOWS, tmp_path / "flows.pcap", 9)

    run(conn, datetime.now(UTC))
    _assert_plain_bytes(conn, ids)
    assert traffic_charges(conn, ids["alice"]) == _cost(ALICE, night_price)
    assert traffic_charges(conn, ids["bob"]) == _cost(BOB, night_price)


LATE_IN = Flow("192.0.2.10", 80, "10.0.0.1", 40001, TCP, 9, 1200)   # Alice, local
LATE_OUT = Flow("10.0.0.9", 1235, "198.51.100.9", 123, UDP, 4, 48)  # Bob, cdn


def test_a_late_bin_is_rated_as_its_delta(chain, chain_collector, conn, tmp_path):
    """A second collector writes into the minute the first one wrote, after that bin was
    rated: only the change is posted; nothing is counted twice. The second is started
    first, so that between the two collections only a rating run passes."""
    server, ids = chain
    alice, bob = ids["alice"], ids["bob"]
    late = chain_collector()
    clear_of_the_minute_end(30)
    collect(server, FLOWS, tmp_path / "first.pcap", 9)
    [the_bin] = collected_bins(conn)
    run(conn, datetime.now(UTC))
    assert traffic_charges(conn, alice) == _cost(ALICE)

    collect(late, [LATE_IN, LATE_OUT], tmp_path / "late.pcap", 9)
    assert collected_bins(conn) == [the_bin]
    result = run(conn, datetime.now(UTC))
    assert (result.bins, result.entries) == (1, 2)
    assert group_bytes(conn, alice, ids["all"]) == (
        ALICE_IN.bytes + ALICE_CDN.bytes + LATE_IN.bytes, ALICE_OUT.bytes)
    assert group_bytes(conn, bob, ids["all"]) == (0, BOB_OUT.bytes + LATE_OUT.bytes)
    for holder, first, late in ((alice, ALICE, [LATE_IN]), (bob, BOB, [LATE_OUT])):
        assert _charge_entries(conn, holder) == [-_cost(first),
                                                 -(_cost(first + late) - _cost(first))]
        assert traffic_charges(conn, holder) == _cost(first + late)
    rejected = conn.execute("SELECT row_count, bytes FROM traffic_rejects").fetchall()
    assert rejected == [(1, NOBODY.bytes)]  # the bin counted again, not added twice
    assert ledger.verify(conn) == []


def test_a_rerate_after_a_price_change_posts_the_difference_once(chain, conn, tmp_path):
    server, ids = chain
    new_price = Decimal("400")
    collect(server, FLOWS, tmp_path / "flows.pcap", 9)
    bins = collected_bins(conn)
    run(conn, datetime.now(UTC))
    conn.execute("UPDATE tariff_traffic_prices SET price_per_mb = %s"
                 " WHERE tariff_id = %s AND group_id = %s",
                 (new_price, ids["plan"], ids["all"]))

    result = rerate(conn, bins[0], bins[-1] + BIN, UTCZ)
    holders = ((ids["alice"], ALICE), (ids["bob"], BOB))
    assert (result.rows, result.recomputed, result.entries) == (2, 2, 2)
    assert result.amount == sum(_cost(f, new_price) - _cost(f) for _, f in holders)
    for holder, flows in holders:
        old, new = _cost(flows), _cost(flows, new_price)
        assert _charge_entries(conn, holder) == [-old, old - new]  # a credit: the price fell
        assert traffic_charges(conn, holder) == new
    reversals = conn.execute("SELECT count(*) FROM ledger_entries WHERE kind = 'charge_traffic'"
                             " AND details->>'rerate' = 'true'").fetchone()[0]
    assert reversals == 2
    assert ledger.verify(conn) == []

    state = snapshot(conn)
    again = rerate(conn, bins[0], bins[-1] + BIN, UTCZ)
    assert (again.recomputed, again.entries, again.amount) == (0, 0, Decimal(0))
    assert snapshot(conn) == state


def test_two_rating_runs_at_once_post_each_change_once(chain, db, conn, tmp_path):
    server, ids = chain
    collect(server, FLOWS, tmp_path / "flows.pcap", 9)
    at = datetime.now(UTC)
    results, errors = rate_at_once(db, at, UTCZ)
    assert errors == []
    assert sorted(r.entries for r in results) == [0, 2]  # one run rated, the other waited
    _assert_plain_bytes(conn, ids)
    assert _charge_entries(conn, ids["alice"]) == [-_cost(ALICE)]
    assert _charge_entries(conn, ids["bob"]) == [-_cost(BOB)]
    assert ledger.verify(conn) == []


# The limit: the tariff of tests/system/test_coa (10M/20M, its pool 10.10.0.1-250) with a
# per-day limit of 0.01 MB (10,485.76 bytes) that slows a subscriber to 1M/2M.
LIMITED_IN = Flow("192.0.2.30", 443, "10.10.0.5", 52000, TCP, 10, 1400)  # 14,400 bytes
UNDER_OUT = Flow("10.10.0.7", 53000, "192.0.2.31", 80, TCP, 5, 100)      # 700 bytes


def test_a_limit_sends_its_coa_to_the_nas_and_lifts_at_the_period_end(
        env, db, conn, sim, chain_collector, tmp_path):
    from worker.traffic_tasks import rate_traffic

    make_nas(conn, sim.port)  # the exporter (127.0.0.1) is the NAS the CoA goes to
    days = conn.execute(
        "INSERT INTO settlement_periods (name, unit, autostart, anchor)"
        " VALUES ('days', 'DAY', false, '2026-01-01T00:00:00+03:00') RETURNING id"
    ).fetchone()[0]
    plan = make_tariff(conn)
    conn.execute("UPDATE tariffs SET settlement_period_id = %s WHERE id = %s", (days, plan))
    local = conn.execute("INSERT INTO traffic_classes (name) VALUES ('local') RETURNING id"
                         ).fetchone()[0]
    conn.execute("INSERT INTO traffic_class_nodes (class_id, network)"
                 " VALUES (%s, '192.0.2.0/24')", (local,))
    group = traffic_group(conn, [local])
    price(conn, plan, group, str(PRICE))
    traffic_limit(conn, plan, group, "0.01", action="speed", mode="absolute", speed="1M/2M")
    alice, alice_sub, alice_login = account_on(conn, plan)
    alice_uid = start(conn, alice_sub, alice_login, "speed:10M/20M", "10.10.0.5")
    carol, carol_sub, carol_login = account_on(conn, plan)
    carol_uid = start(conn, carol_sub, carol_login, "speed:10M/20M", "10.10.0.7")
    now = datetime.now(UTC)
    # The sessions held their addresses before the bin (a Start lands at its own moment).
    conn.execute("UPDATE sessions_open SET started_at = %s", (now - timedelta(hours=1),))
    flow_bin_partitions(conn)
    collect(chain_collector(), [LIMITED_IN, UNDER_OUT], tmp_path / "flows.pcap", 9)

    now = datetime.now(UTC)
    rated = rate_traffic.run(at=now.isoformat())
    assert rated["limits"] == {"reached": 1, "lifted": 0, "blocked": 0, "unblocked": 0}
    assert group_bytes(conn, alice, group) == (LIMITED_IN.bytes, 0)
    assert group_bytes(conn, carol, group) == (0, UNDER_OUT.bytes)
    assert traffic_charges(conn, alice) == _cost([LIMITED_IN])
    assert traffic_charges(conn, carol) == _cost([UNDER_OUT])

    summary = enforce_at(now)
    assert (summary["coa"], summary["ACK"]) == (1, 1)
    [packet] = sim.packets()
    assert packet.authentic and packet.code == COA_REQUEST
    assert rate_limits(packet.packet) == [b"1M/2M"]
    assert record(conn, alice_uid) == [("coa", "speed:1M/2M", "ACK", None, 1, "done")]
    assert given_state(conn, alice_uid) == "speed:1M/2M"
    assert record(conn, carol_uid) == []
    assert enforce_at(now + timedelta(seconds=30)).get("coa") is None  # nothing repeated

    # The day ends: its usage is over, the limit lifts and the tariff's speed comes back.
    period_end = conn.execute("SELECT period_end FROM traffic_usage WHERE account_id = %s",
                              (alice,)).fetchone()[0]
    # Ahead of the clock: `ebs traffic rate --at` (the beat's task refuses a future time).
    (tmp_path / "none.py").write_text("")
    out = CliRunner().invoke(cli, ["traffic", "rate", "--at", period_end.isoformat(), "--json"],
                             env=ebs_env(db, tmp_path / "none.py"))
    assert out.exit_code == 0, out.output
    lifted = json.loads(out.output.splitlines()[-1])
    assert lifted["limits"] == {"reached": 0, "lifted": 1, "blocked": 0, "unblocked": 0}
    back = enforce_at(period_end + timedelta(seconds=30))
    assert (back["coa"], back["ACK"]) == (1, 1)
    assert rate_limits(sim.packets()[-1].packet) == [b"10M/20M"]
    assert given_state(conn, alice_uid) == "speed:10M/20M"
    assert record(conn, carol_uid) == []
    assert traffic_charges(conn, alice) == _cost([LIMITED_IN])  # the lift charges nothing
