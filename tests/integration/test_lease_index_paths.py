"""A login's lease reads the subscriber's and the expired rows, not the pool's every lease.

ebs_radius_lease runs in plpgsql, which keeps one plan per statement for the life of
rlm_sql's connection. On a lease table without statistics (a young install, a table
autovacuum has not analysed yet) the planner once preferred the (pool, address) key for
"is there an expired row?" and read every lease of the pool on every login. Counted here
in index entries and heap rows read, from PostgreSQL's own per-transaction statistics:
ten logins over a pool holding 3,000 leases, past the five calls after which plpgsql
settles on a generic plan.
"""

from __future__ import annotations

import psycopg

HELD = 3000
LOGINS = 10


def seed(conn: psycopg.Connection) -> list[int]:
    """A pool with HELD live offers of other subscribers; no ANALYZE afterwards."""
    pool = conn.execute(
        "INSERT INTO ip_pools (name, range_start, range_end)"
        " VALUES ('crowd', '10.90.0.1', '10.90.31.254') RETURNING id").fetchone()[0]
    conn.execute(
        "INSERT INTO accounts (contract, login)"
        " SELECT 'c' || g, 'l' || g FROM generate_series(1, %s) g", (HELD + LOGINS,))
    conn.execute("INSERT INTO subaccounts (account_id, username)"
                 " SELECT id, login FROM accounts")
    ids = [row[0] for row in conn.execute("SELECT id FROM subaccounts ORDER BY id")]
    conn.execute(
        "INSERT INTO ip_leases (pool_id, address, state, subaccount_id, leased_at, expires_at)"
        " SELECT %s, '10.90.0.1'::inet + (n - 1), 'offered', id, now(),"
        "        now() + interval '1 hour'"
        "   FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM subaccounts"
        "          WHERE id = ANY(%s)) s", (pool, ids[:HELD]))
    return ids[HELD:]


def rows_read(conn: psycopg.Connection) -> int:
    """Index entries and sequentially scanned rows of ip_leases in this transaction."""
    index_entries = conn.execute(
        "SELECT coalesce(sum(pg_stat_get_xact_tuples_returned(indexrelid)), 0)"
        "  FROM pg_index WHERE indrelid = 'ip_leases'::regclass").fetchone()[0]
    scanned = conn.execute(
        "SELECT coalesce(seq_tup_read, 0) FROM pg_stat_xact_user_tables"
        " WHERE relname = 'ip_leases'").fetchone()[0]
    return int(index_entries) + int(scanned)


def test_fresh_logins_do_not_read_the_pool(db):
    with psycopg.connect(db, autocommit=True) as setup:
        fresh = seed(setup)
    with psycopg.connect(db) as conn:  # one transaction: the xact statistics add up
        answers = [conn.execute("SELECT ebs_radius_lease(%s, 'crowd')", (sid,)).fetchone()[0]
                   for sid in fresh]
        read = rows_read(conn)
        conn.rollback()
    assert all(answer.split()[0].isdigit() for answer in answers), answers
    addresses = {answer.split()[1] for answer in answers}
    assert len(addresses) == LOGINS
    # Each login: its own rows (none), the pool's expired rows (none), a few probes of
    # the (pool, address) key for a never-leased address. Reading the pool once would be
    # HELD rows for that login alone.
    assert read < LOGINS * 20, f"{read} rows read by {LOGINS} logins over {HELD} leases"
