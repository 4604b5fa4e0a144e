"""assignment_totals against the rule they sum: for any moment at a bucket boundary, the
accounts per tariff from ``ebs_assignment_moves`` equal those from
``billing.assignments.all_in_force`` over the table itself, and the moves in a range equal
the assignments made in it — after inserts one and many at a time, moved and re-pointed
assignments, deletions, a deleted account, and a fold."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from itertools import pairwise

from billing.assignments import all_in_force
from billing.schema import MIGRATIONS_DIR
from tests.integration.charging_helpers import account, tariff

START = datetime(2026, 1, 1, tzinfo=UTC)
QUARTER = timedelta(minutes=15)


def _in_force(conn, at: datetime) -> Counter:
    rows = conn.execute(
        f"SELECT tariff_id, count(*) FROM ({all_in_force('%s', before=True)}) x GROUP BY 1",
        (at,)).fetchall()
    return Counter(dict(rows))


def _made(conn, start: datetime, end: datetime) -> Counter:
    rows = conn.execute(
        "SELECT tariff_id, count(*) FROM account_tariffs"
        " WHERE assigned_at >= %s AND assigned_at < %s GROUP BY 1", (start, end)).fetchall()
    return Counter(dict(rows))


def _totals(conn, start, end) -> tuple[Counter, Counter]:
    rows = conn.execute("SELECT tariff_id, starts, ends FROM ebs_assignment_moves(%s, %s)",
                        (start, end)).fetchall()
    return (Counter({t: s for t, s, _ in rows}),
            Counter({t: s - e for t, s, e in rows}))


def _moments(rng: random.Random, count: int) -> list[datetime]:
    """Bucket boundaries over the year, and the three edges of a UTC day (a local
    midnight east of UTC falls inside a UTC day)."""
    picked = [START + QUARTER * rng.randrange(0, 4 * 24 * 365) for _ in range(count)]
    return [*picked, START, START + timedelta(days=40, hours=21),
            START + timedelta(days=41)]


def _check(conn, rng: random.Random) -> None:
    moments = sorted(_moments(rng, 12))
    for end in moments:
        _, in_force = _totals(conn, "-infinity", end)
        assert +in_force == _in_force(conn, end), end
    for start, end in pairwise(moments):
        made, _ = _totals(conn, start, end)
        assert +made == _made(conn, start, end), (start, end)


def _random_at(rng: random.Random) -> datetime:
    return START + timedelta(seconds=rng.randrange(0, 365 * 86400))


def test_totals_follow_every_kind_of_change(conn):
    rng = random.Random(20261207)
    tariffs = [tariff(conn) for _ in range(4)]
    accounts = [account(conn) for _ in range(30)]
    # Many at once, as a bulk change or an import does.
    conn.execute(
        "INSERT INTO account_tariffs (account_id, tariff_id, assigned_at)"
        " SELECT a, (%s::int[])[1 + (a %% 4)], %s FROM unnest(%s::bigint[]) a",
        (tariffs, START, accounts))
    _check(conn, rng)
    for _ in range(120):  # one at a time, out of order, the same account again and again
        conn.execute(
            "INSERT INTO account_tariffs (account_id, tariff_id, assigned_at)"
            " VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
            (rng.choice(accounts), rng.choice(tariffs), _random_at(rng)))
    _check(conn, rng)
    ids = [row[0] for row in conn.execute("SELECT id FROM account_tariffs").fetchall()]
    for assignment in rng.sample(ids, 25):  # moved in time, to another tariff, or both
        conn.execute(
            "UPDATE account_tariffs SET assigned_at = %s, tariff_id = %s WHERE id = %s",
            (_random_at(rng), rng.choice(tariffs), assignment))
    conn.execute("UPDATE account_tariffs SET tariff_id = %s WHERE tariff_id = %s",
                 (tariffs[0], tariffs[1]))
    _check(conn, rng)
    conn.execute("DELETE FROM account_tariffs WHERE id = ANY (%s)", (rng.sample(ids, 20),))
    conn.execute("DELETE FROM accounts WHERE id = %s", (accounts[0],))
    _check(conn, rng)
    removed = conn.execute("SELECT ebs_assignment_totals_fold()").fetchone()[0]
    assert removed > 0
    _check(conn, rng)
    assert conn.execute("SELECT ebs_assignment_totals_fold()").fetchone()[0] == 0


def test_the_migration_counted_what_was_there(conn):
    """Rows the migration found are counted as the triggers count new ones: rebuilding
    from the table gives the totals the triggers keep."""
    tariffs = [tariff(conn) for _ in range(2)]
    accounts = [account(conn) for _ in range(5)]
    for number, who in enumerate(accounts):
        for step in range(3):
            conn.execute(
                "INSERT INTO account_tariffs (account_id, tariff_id, assigned_at)"
                " VALUES (%s, %s, %s)",
                (who, tariffs[(number + step) % 2], START + timedelta(days=30 * step)))
    conn.execute("SELECT ebs_assignment_totals_fold()")
    kept = _both(conn)
    migration = next(MIGRATIONS_DIR.glob("*_assignment_totals.sql"))
    conn.execute("DELETE FROM assignment_totals; DELETE FROM assignment_totals_daily")
    body = migration.read_text().split("WITH spans AS", 1)[1]
    conn.execute("DROP TRIGGER account_tariffs_totals_insert ON account_tariffs")
    conn.execute("WITH spans AS" + body)
    assert _both(conn) == kept


def _both(conn) -> tuple[list, list]:
    return (conn.execute("SELECT bucket, tariff_id, starts, ends FROM assignment_totals"
                         " ORDER BY 1, 2").fetchall(),
            conn.execute("SELECT day, tariff_id, starts, ends FROM assignment_totals_daily"
                          " ORDER BY 1, 2").fetchall())
