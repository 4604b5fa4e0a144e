"""The enforcement's candidate query (worker.live_sessions) against its policy
(billing.enforcement.plan), on a generated grid of sessions in a real PostgreSQL.

The query restates in SQL which sessions the policy can leave alone (a healthy account,
an active tariff without a window, a normal address, nothing sent, given what is due);
a session it skips must be one plan leaves alone, at every moment, or a change would
never reach it. Every session of the grid is fetched and planned here, candidate or
not, and each that plan would act on must be among the candidates."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import count, product
from zoneinfo import ZoneInfo

from billing import ledger
from billing.enforcement import GUEST, plan, speed_edges, speed_states
from worker.live_sessions import candidates, fetch, load_tariff_rules

MOSCOW = ZoneInfo("Europe/Moscow")
DAY = datetime(2026, 12, 1, 12, tzinfo=MOSCOW)
MOMENTS = (DAY, DAY.replace(hour=23, minute=0, second=30), DAY.replace(hour=23, minute=30),
           DAY + timedelta(hours=19, minutes=0, seconds=30))
_seq = count(1)


def _tariffs(conn) -> dict[str, int]:
    """Plain 10M/20M, day/night, no speed, inactive, windowed, with a guest pool, and a
    plain one whose speed was edited to 30M/30M (sessions given 10M/20M by its login)."""
    pool = conn.execute("INSERT INTO ip_pools (name, range_start, range_end) VALUES"
                        " ('grid', '10.50.0.1', '10.50.255.250') RETURNING id").fetchone()[0]
    guests = conn.execute("INSERT INTO ip_pools (name, range_start, range_end) VALUES"
                          " ('grid-guests', '10.99.0.1', '10.99.0.250') RETURNING id"
                          ).fetchone()[0]
    nights = conn.execute("INSERT INTO time_periods (name) VALUES ('grid nights') RETURNING id"
                          ).fetchone()[0]
    conn.execute("INSERT INTO time_period_nodes (time_period_id, starts_at, length, repeat)"
                 " VALUES (%s, %s, interval '8 hours', 'DAY')",
                 (nights, datetime(2026, 1, 1, 23, tzinfo=MOSCOW)))
    window = conn.execute("INSERT INTO time_periods (name) VALUES ('grid window') RETURNING id"
                          ).fetchone()[0]
    conn.execute("INSERT INTO time_period_nodes (time_period_id, starts_at, length, repeat)"
                 " VALUES (%s, %s, interval '10 hours', 'DAY')",
                 (window, datetime(2026, 1, 1, 8, tzinfo=MOSCOW)))
    made = {}
    for name, speed, night, active, windowed, guest in [
        ("plain", "10M/20M", None, True, False, False),
        ("nights", "10M/20M", "50M/100M", True, False, False),
        ("unlimited", None, None, True, False, False),
        ("inactive", "10M/20M", None, False, False, False),
        ("windowed", "10M/20M", None, True, True, False),
        ("guest", "10M/20M", None, True, False, True),
        ("edited", "30M/30M", None, True, False, False),
    ]:
        made[name] = tariff = conn.execute(
            "INSERT INTO tariffs (name, ip_pool_id, guest_pool_id, active,"
            " access_time_period_id) VALUES (%s, %s, %s, %s, %s) RETURNING id",
            (f"grid {name}", pool, guests if guest else None, active,
             window if windowed else None)).fetchone()[0]
        if speed:
            conn.execute("INSERT INTO tariff_speeds (tariff_id, speed) VALUES (%s, %s)",
                         (tariff, speed))
        if night:
            conn.execute("INSERT INTO tariff_speeds (tariff_id, time_period_id, speed)"
                         " VALUES (%s, %s, %s)", (tariff, nights, night))
    return made


GIVEN = (None, "speed:10M/20M", "speed:50M/100M", "speed:none", GUEST)
LAST = (None, ("disconnect", "disconnected", "ACK"), ("disconnect", "disconnected", "NAK"),
        ("coa", "speed:10M/20M", "ACK"), ("coa", "speed:50M/100M", "NAK"),
        ("coa", "speed:10M/20M", "timeout"), ("disconnect", "guest", "timeout"))


def _grid(tariffs: dict[str, int]) -> list[tuple]:
    """Every money/status case with every tariff once, then a seeded sample of the rest."""
    money = [("active", "100", False), ("active", "0", False), ("active", "-5", False),
             ("active", "100", True), ("suspended", "100", False)]
    tariff_ids = [*tariffs.values(), None]
    cases = list(product(money, tariff_ids, GIVEN, (False, True), LAST, (-600, -20)))
    rng = random.Random(20261206)
    return rng.sample(cases, 900)


def _populate(conn, tariffs: dict[str, int]) -> None:
    nas = conn.execute(
        "INSERT INTO nas (name, vendor, ip_address, secret, coa_port) VALUES"
        " ('grid', 'mikrotik', '127.0.0.1', 'grid-secret-16ch', 3799) RETURNING id").fetchone()[0]
    started_base = DAY.replace(hour=23)
    for (status, balance, blocked), tariff, given, guest_ip, last, minutes in _grid(tariffs):
        n = next(_seq)
        account = conn.execute(
            "INSERT INTO accounts (contract, login, status, blocked_by_balance)"
            " VALUES (%s, %s, %s, %s) RETURNING id",
            (f"g{n}", f"g{n}", status, blocked)).fetchone()[0]
        sub = conn.execute("INSERT INTO subaccounts (account_id, username) VALUES (%s, %s)"
                           " RETURNING id", (account, f"grid{n}")).fetchone()[0]
        if tariff is not None:
            conn.execute("INSERT INTO account_tariffs (account_id, tariff_id, assigned_at)"
                         " VALUES (%s, %s, %s)", (account, tariff, DAY - timedelta(days=30)))
        if Decimal(balance):
            ledger.post(conn, ledger.Entry(account, "payment", Decimal(balance), f"g:{n}",
                                           DAY - timedelta(days=1)))
        uid = f"grid-{n}"
        address = f"10.99.0.{n % 250 + 1}" if guest_ip else f"10.50.{n // 250}.{n % 250 + 1}"
        started = started_base + timedelta(minutes=minutes)
        conn.execute(
            "INSERT INTO sessions_open (acct_unique_id, acct_session_id, subaccount_id,"
            " account_id, nas_id, nas_ip, username, framed_ip, started_at, updated_at,"
            " given_state) VALUES (%s, %s, %s, %s, %s, '127.0.0.1', %s, %s, %s, %s, %s)",
            (uid, f"s{n}", sub, account, nas, f"grid{n}", address, started, started, given))
        if last is not None:
            kind, desired, result = last
            conn.execute(
                "INSERT INTO coa_requests (acct_unique_id, desired_state, kind, state, result,"
                " requested_at, finished_at) VALUES (%s, %s, %s, 'done', %s, %s, %s)",
                (uid, desired, kind, result, started, started))


def test_every_session_plan_acts_on_is_a_candidate(conn):
    tariffs = _tariffs(conn)
    _populate(conn, tariffs)
    ids = [r[0] for r in conn.execute("SELECT acct_unique_id FROM sessions_open"
                                      " WHERE acct_unique_id LIKE 'grid-%%'")]
    assert len(ids) == 900
    rules = load_tariff_rules(conn)
    acted_on = 0
    for now in MOMENTS:
        found = set(candidates(conn, now.astimezone(UTC), speed_edges(rules, now, MOSCOW),
                               speed_states(rules, now, MOSCOW)))
        rows = fetch(conn, now, ids)
        assert len(rows) == len(ids)
        wanted = {row.acct_unique_id for row in rows
                  if plan(row, now, MOSCOW, rules) is not None}
        assert wanted - found == set(), f"skipped at {now}: {sorted(wanted - found)[:5]}"
        acted_on += len(wanted)
        # The query is a narrowing, not everything: healthy sessions given what is due
        # are left out.
        assert len(found) < len(ids)
    assert acted_on > 300  # the grid exercises the policy, not only its quiet cases
