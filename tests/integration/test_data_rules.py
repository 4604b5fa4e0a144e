"""Rules of the data held by the database for every path, not only by the forms and
services that ask first: an assignment never starts inside time already charged, and no
two IP pools share an address."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from billing.ip_pools import PoolError, check_pool_range
from tests.integration.charging_helpers import account, assign, tariff

SETTLED = datetime(2026, 2, 1, tzinfo=UTC)


def _settle(conn, charged_to: datetime, finished: bool = True) -> None:
    conn.execute("INSERT INTO charge_runs (charged_to, finished_at, entries, amount)"
                 " VALUES (%s, CASE WHEN %s THEN now() END, 0, 0)", (charged_to, finished))


def test_an_assignment_inside_charged_time_is_refused_by_the_database(conn):
    home, turbo = tariff(conn), tariff(conn)
    acc, other = account(conn), account(conn)
    first = assign(conn, acc, home, SETTLED - timedelta(days=31))
    _settle(conn, SETTLED)
    _settle(conn, SETTLED + timedelta(days=5), finished=False)  # a run still going counts not
    for moment in (SETTLED - timedelta(hours=1), SETTLED):
        with pytest.raises(psycopg.errors.CheckViolation,
                           match="an assignment cannot start inside time already charged"):
            assign(conn, acc, turbo, moment)
    with pytest.raises(psycopg.errors.CheckViolation):  # one row of many is enough
        conn.execute("INSERT INTO account_tariffs (account_id, tariff_id, assigned_at)"
                     " VALUES (%s, %s, %s), (%s, %s, %s)",
                     (acc, turbo, SETTLED + timedelta(days=1),
                      other, turbo, SETTLED - timedelta(days=1)))
    with pytest.raises(psycopg.errors.CheckViolation):  # nor moves out of it
        conn.execute("UPDATE account_tariffs SET assigned_at = %s WHERE id = %s",
                     (SETTLED + timedelta(days=2), first))
    with pytest.raises(psycopg.errors.CheckViolation):  # nor changes tariff inside it
        conn.execute("UPDATE account_tariffs SET tariff_id = %s WHERE id = %s", (turbo, first))
    assert conn.execute("SELECT count(*) FROM account_tariffs").fetchone()[0] == 1
    assign(conn, acc, turbo, SETTLED + timedelta(microseconds=1))
    later = assign(conn, other, turbo, SETTLED + timedelta(days=1))
    conn.execute("UPDATE account_tariffs SET assigned_at = %s WHERE id = %s",
                 (SETTLED + timedelta(days=2), later))  # both moments after: allowed
    assert conn.execute("SELECT count(*) FROM account_tariffs").fetchone()[0] == 3


def test_no_assignment_is_refused_before_the_first_finished_tick(conn):
    acc = account(conn)
    _settle(conn, SETTLED, finished=False)
    assign(conn, acc, tariff(conn), SETTLED - timedelta(days=300))
    assert conn.execute("SELECT count(*) FROM account_tariffs").fetchone()[0] == 1


def test_a_new_account_brings_its_history_in_its_own_transaction(conn):
    """A history import (ebs seed) creates the account and its past assignments together:
    the tick never charged that account, so nothing charged is reopened. Afterwards the
    account's settled time is closed like any other's."""
    home = tariff(conn)
    _settle(conn, SETTLED)
    with conn.transaction():
        acc = account(conn)
        assign(conn, acc, home, SETTLED - timedelta(days=30))
    with pytest.raises(psycopg.errors.CheckViolation):
        assign(conn, acc, tariff(conn), SETTLED - timedelta(days=10))
    assert conn.execute("SELECT count(*) FROM account_tariffs").fetchone()[0] == 1


def _pool(conn, name: str, start: str, end: str) -> int:
    return conn.execute("INSERT INTO ip_pools (name, range_start, range_end) VALUES (%s, %s, %s)"
                        " RETURNING id", (name, start, end)).fetchone()[0]


def test_overlapping_pools_are_refused_by_the_database(conn):
    main = _pool(conn, "main", "10.0.0.1", "10.0.0.100")
    _pool(conn, "next", "10.0.0.101", "10.0.0.200")  # touching is not overlapping
    _pool(conn, "v6", "2001:db8::1", "2001:db8::ffff")
    with pytest.raises(psycopg.errors.ExclusionViolation,
                       match=r"pool inside \(10.0.0.50 – 10.0.0.60\) overlaps pool main"):
        _pool(conn, "inside", "10.0.0.50", "10.0.0.60")
    with pytest.raises(psycopg.errors.ExclusionViolation):
        _pool(conn, "around", "9.255.255.0", "10.0.1.0")
    with pytest.raises(psycopg.errors.ExclusionViolation):  # two new rows of one statement
        conn.execute("INSERT INTO ip_pools (name, range_start, range_end) VALUES"
                     " ('a', '192.168.0.1', '192.168.0.10'), ('b', '192.168.0.5', '192.168.0.20')")
    with pytest.raises(psycopg.errors.ExclusionViolation):  # an edit that grows into another
        conn.execute("UPDATE ip_pools SET range_end = '10.0.0.150' WHERE id = %s", (main,))
    conn.execute("UPDATE ip_pools SET range_end = '10.0.0.90' WHERE id = %s", (main,))
    assert conn.execute("SELECT count(*) FROM ip_pools").fetchone()[0] == 3


def test_billing_names_the_pool_in_the_way(conn):
    main = _pool(conn, "main", "10.0.0.1", "10.0.0.100")
    with pytest.raises(PoolError) as refused:
        check_pool_range(conn, "10.0.0.90", "10.0.0.120")
    assert refused.value.code == "pool_overlap"
    assert (refused.value.overlaps.name, refused.value.overlaps.range_end) == ("main",
                                                                               "10.0.0.100")
    check_pool_range(conn, "10.0.0.1", "10.0.0.50", pool_id=main)  # its own range: fine
    check_pool_range(conn, "2001:db8::1", "2001:db8::ff")  # another family never overlaps
    with pytest.raises(PoolError) as mixed:
        check_pool_range(conn, "10.0.0.1", "2001:db8::1")
    assert mixed.value.code == "mixed_families"
