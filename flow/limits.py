"""Traffic limits: which accounts are past a limit of their tariff now, set-based.

A tariff's limit (``tariff_traffic_limits``) counts a group's bytes either over the
settlement period in force (the rated usage of the current assignment's period,
``traffic_usage``) or over a sliding window ending now (the rated bins,
``traffic_group_bins``, which the rater keeps for the longest window). An account whose
count reached the limit's megabytes has a row in ``account_traffic_limits``; the row goes
when the count falls below it: the period rolled over (the new period's usage starts at
nothing), the window moved past the usage, the account moved to another tariff, or the
limit was edited away.

``accounts.blocked_by_limit`` is these rows' to keep: it is true exactly while a block
limit is in force, and each change goes through the accounts' state trigger into
``account_status_history``. A speed limit in force is read by the enforcement
(worker/live_sessions.py) and changes the speed a session is due
(billing/traffic_limits.py), so the existing CoA path sends it.

Run after each rating run (``ebs.rate_traffic``, ``ebs traffic rate``), which also runs
every minute when no traffic came: that is what lifts a limit on time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

from billing.accounts import record_actor
from billing.traffic_pricing import MEGABYTE
from flow import locks

# The accounts that may be limited: those on a tariff with limits now (by the assignment
# in force, one index read each), and those with a limit in force (to lift it).
_CHECK = """
    CREATE TEMP TABLE limit_check ON COMMIT DROP AS
    WITH accounts_asked AS (
        SELECT DISTINCT t.account_id FROM account_tariffs t
         WHERE t.tariff_id IN (SELECT tariff_id FROM tariff_traffic_limits)
        UNION
        SELECT account_id FROM account_traffic_limits
    ),
    limited AS (
        SELECT q.account_id, f.id AS assignment_id, l.id AS limit_id, l.group_id,
               l.megabytes * %(megabyte)s AS limit_bytes, l.window_seconds
          FROM accounts_asked q
          CROSS JOIN LATERAL ebs_assignment_in_force(q.account_id, %(at)s) f
          JOIN tariff_traffic_limits l ON l.tariff_id = f.tariff_id
    ),
    in_period AS (
        SELECT m.account_id, m.limit_id, sum(u.used_bytes) AS used
          FROM limited m
          JOIN traffic_usage u
            ON u.account_id = m.account_id AND u.group_id = m.group_id
           AND u.assignment_id = m.assignment_id
           AND u.period_start <= %(at)s AND u.period_end > %(at)s
         WHERE m.window_seconds IS NULL
         GROUP BY 1, 2
    ),
    in_window AS (
        SELECT m.account_id, m.limit_id, sum(b.bytes_in + b.bytes_out) AS used
          FROM limited m
          JOIN traffic_group_bins b
            ON b.account_id = m.account_id AND b.group_id = m.group_id
           AND b.bin > %(at)s - make_interval(secs => m.window_seconds)
           AND b.bin <= %(at)s
         WHERE m.window_seconds IS NOT NULL
         GROUP BY 1, 2
    )
    SELECT m.account_id, m.limit_id,
           coalesce(p.used, w.used, 0)::numeric AS used, m.limit_bytes
      FROM limited m
      LEFT JOIN in_period p ON p.account_id = m.account_id AND p.limit_id = m.limit_id
      LEFT JOIN in_window w ON w.account_id = m.account_id AND w.limit_id = m.limit_id
"""

_LIFT = """
    DELETE FROM account_traffic_limits s
     WHERE NOT EXISTS (SELECT 1 FROM limit_check c
                        WHERE c.account_id = s.account_id AND c.limit_id = s.limit_id
                          AND c.used >= c.limit_bytes)
"""

_SET = """
    INSERT INTO account_traffic_limits AS s (account_id, limit_id, since, used_bytes)
    SELECT account_id, limit_id, %(at)s, used FROM limit_check WHERE used >= limit_bytes
    ON CONFLICT (account_id, limit_id) DO UPDATE SET used_bytes = EXCLUDED.used_bytes
       WHERE s.used_bytes <> EXCLUDED.used_bytes
    RETURNING (xmax = 0) AS inserted
"""

# One scan of accounts against the (few) block limits in force, hashed: it also unblocks
# an account whose block limit was deleted (its rows went by cascade).
_BLOCKS = """
    UPDATE accounts a SET blocked_by_limit = NOT a.blocked_by_limit
     WHERE a.blocked_by_limit <> (a.id IN (
               SELECT s.account_id FROM account_traffic_limits s
                 JOIN tariff_traffic_limits l ON l.id = s.limit_id
                WHERE l.action = 'block'))
    RETURNING a.blocked_by_limit
"""

_LONGEST_WINDOW = "SELECT coalesce(max(window_seconds), 0) FROM tariff_traffic_limits"


@dataclass(frozen=True, slots=True)
class LimitsResult:
    """What a check changed: limits reached and lifted, accounts blocked and unblocked."""

    reached: int = 0
    lifted: int = 0
    blocked: int = 0
    unblocked: int = 0

    def as_dict(self) -> dict:
        return {"reached": self.reached, "lifted": self.lifted, "blocked": self.blocked,
                "unblocked": self.unblocked}


def check_limits(conn: psycopg.Connection, at: datetime) -> LimitsResult:
    """Bring ``account_traffic_limits`` and ``accounts.blocked_by_limit`` to the usage at
    ``at``, in one transaction (the caller's, or its own)."""
    params = {"at": at, "megabyte": MEGABYTE}
    with conn.transaction():
        # Two checks at once (the beat's and a hand-run one) take turns.
        locks.hold(conn, locks.LIMITS)
        # Compiling these plans took longer than running them (20k limited accounts).
        conn.execute("SET LOCAL jit = off")
        conn.execute("DROP TABLE IF EXISTS limit_check")
        conn.execute(_CHECK, params)
        lifted = conn.execute(_LIFT).rowcount
        reached = sum(row[0] for row in conn.execute(_SET, params).fetchall())
        # The state history says the system did it, at the usage's moment, and why.
        record_actor(conn, at=at, actor="system", reason="traffic_limit")
        flags = [row[0] for row in conn.execute(_BLOCKS).fetchall()]
    return LimitsResult(reached=reached, lifted=lifted, blocked=sum(flags),
                        unblocked=len(flags) - sum(flags))


def group_bins_horizon(conn: psycopg.Connection, late_horizon: datetime,
                       keep: timedelta) -> datetime:
    """The moment before which the rater may drop ``traffic_group_bins``: behind its late
    window, the longest sliding window of a limit and ``keep`` (re-rating's reach)."""
    longest = timedelta(seconds=conn.execute(_LONGEST_WINDOW).fetchone()[0])
    return late_horizon - max(longest, keep)
