"""What each session grew by since it was last rated: the input of RADIUS-counter traffic
and time charging.

Accounting keeps only a session's latest counters (``ebs_acct_apply`` folds the
gigawords in and never lets a counter of one row go back); a rating run compares them
with what it rated last time, per Acct-Unique-Session-Id (``session_rating_marks``), and
rates the growth, at the moment the counters describe: ``started_at`` plus the seconds
online the NAS reported (``session_time``; when the NAS sends none, the span from the
start to the last interim's arrival, or to the stop). A counter below its mark started
again from zero (a NAS reboot, a new session under a reused id): its whole value is the
growth, never a negative usage.

Sessions read: the open ones, and the closed ones whose history row a run can still be
the first to see — stopped inside the window behind the previous run, or marked open
at the last run (their Stop may come any time later, through the detail-file buffer),
or closed by the stale-session sweep within a day (the real Stop, with the final
counters, may still come and updates that history row).
A session that started and stopped between two runs and whose Stop came later than the
window is not seen. Only accounts ever assigned a tariff with RADIUS-counter traffic or
time prices are read, so a NetFlow-only installation pays one empty lookup.

Everything runs inside the rater's transaction and leaves the temporary table
``rate_sessions``; ``keep_marks`` then records what was rated.
"""

from __future__ import annotations

from datetime import datetime

import psycopg

from billing.sessions import STALE_CAUSE

# A NAS's seconds online are believed up to the time since the session's start plus a
# day of clock skew, and never beyond 400 days (no NAS keeps a session that long; a
# session an Interim created has its start derived from the seconds, so only this bounds
# it): a session_time far beyond (a broken NAS, a corrupt packet) would otherwise charge
# years in one interim. The excess is not rated, and counted.
SKEW_SECONDS = 86_400
MAX_SECONDS = 400 * 86_400

# The seconds a row's counters describe (see the module's docstring).
_SECONDS = """
    CASE WHEN {r}.session_time > 0 THEN {r}.session_time::bigint
         ELSE greatest(floor(extract(epoch FROM {r}.{until} - {r}.started_at)), 0)::bigint
    END
"""

_SESSIONS = f"""
    CREATE TEMP TABLE rate_sessions ON COMMIT DROP AS
    WITH rated_tariffs AS (
        SELECT tariff_id FROM tariff_accounting_traffic
        UNION SELECT tariff_id FROM tariff_time_prices
        UNION SELECT tariff_id FROM tariff_time_service
    ),
    rated_accounts AS (
        SELECT DISTINCT account_id FROM account_tariffs
         WHERE tariff_id IN (SELECT tariff_id FROM rated_tariffs)
    ),
    -- Two ways into history, each by its own index: the window by the stop, the
    -- sessions marked open at the last run by their key (their Stop may be late, but
    -- not earlier than a day before the run that saw them open).
    closed AS (
        SELECT h.* FROM sessions_history h WHERE h.stopped_at >= %(since)s
        UNION ALL
        SELECT h.*
          FROM session_rating_marks m
          JOIN sessions_history h
            ON h.acct_unique_id = m.acct_unique_id
           AND h.stopped_at >= m.updated_at - interval '1 day'
           AND h.stopped_at < %(since)s
         WHERE (m.closed_at IS NULL OR m.swept)
           AND NOT EXISTS (SELECT 1 FROM sessions_open o
                            WHERE o.acct_unique_id = m.acct_unique_id)
    ),
    current AS (
        SELECT o.acct_unique_id, o.account_id, o.started_at, o.input_octets,
               o.output_octets, {_SECONDS.format(r='o', until='updated_at')} AS seconds,
               NULL::timestamptz AS closed_at, false AS swept
          FROM sessions_open o
         WHERE o.account_id IN (SELECT account_id FROM rated_accounts)
        UNION ALL
        (SELECT DISTINCT ON (h.acct_unique_id)
               h.acct_unique_id, h.account_id, h.started_at, h.input_octets,
               h.output_octets, {_SECONDS.format(r='h', until='stopped_at')}, h.stopped_at,
               h.terminate_cause = '{STALE_CAUSE}'
          FROM closed h
         WHERE h.account_id IN (SELECT account_id FROM rated_accounts)
           AND NOT EXISTS (SELECT 1 FROM sessions_open o
                            WHERE o.acct_unique_id = h.acct_unique_id)
         ORDER BY h.acct_unique_id, h.stopped_at DESC)
    ),
    believed AS (
        SELECT c.*, c.seconds > b.bound AS implausible, least(c.seconds, b.bound) AS kept
          FROM current c
          CROSS JOIN LATERAL (
                SELECT least(greatest(floor(extract(epoch FROM %(at)s - c.started_at)), 0)
                             ::bigint + {SKEW_SECONDS}, {MAX_SECONDS}) AS bound
          ) b
    )
    SELECT c.acct_unique_id, c.account_id, c.started_at, c.closed_at, c.swept,
           c.input_octets, c.output_octets, c.kept AS seconds, c.implausible,
           CASE WHEN c.input_octets >= coalesce(m.input_octets, 0)
                THEN c.input_octets - coalesce(m.input_octets, 0)
                ELSE c.input_octets END AS input_delta,
           CASE WHEN c.output_octets >= coalesce(m.output_octets, 0)
                THEN c.output_octets - coalesce(m.output_octets, 0)
                ELSE c.output_octets END AS output_delta,
           CASE WHEN c.kept >= coalesce(m.seconds, 0) THEN coalesce(m.seconds, 0)
                ELSE 0 END AS seconds_before,
           c.started_at + make_interval(secs => c.kept) AS moment
      FROM believed c
      LEFT JOIN session_rating_marks m ON m.acct_unique_id = c.acct_unique_id
     WHERE m.acct_unique_id IS NULL
        OR c.input_octets <> m.input_octets OR c.output_octets <> m.output_octets
        OR c.kept <> m.seconds
        OR (c.closed_at IS NULL) <> (m.closed_at IS NULL) OR c.swept <> m.swept
"""

_KEEP_MARKS = """
    INSERT INTO session_rating_marks AS m
        (acct_unique_id, input_octets, output_octets, seconds, closed_at, swept, updated_at)
    SELECT acct_unique_id, input_octets, output_octets, seconds, closed_at, swept, %(at)s
      FROM rate_sessions
    ON CONFLICT (acct_unique_id) DO UPDATE
       SET input_octets = EXCLUDED.input_octets, output_octets = EXCLUDED.output_octets,
           seconds = EXCLUDED.seconds, closed_at = EXCLUDED.closed_at,
           swept = EXCLUDED.swept, updated_at = EXCLUDED.updated_at
"""

# A closed session's mark goes once no window can read its history row again (a swept
# one a day after, unless its real Stop came); a mark whose session is neither open nor
# found for a week (its history dropped) goes too.
_DROP_MARKS = """
    DELETE FROM session_rating_marks m
     WHERE (m.closed_at IS NOT NULL AND NOT m.swept AND m.closed_at < %(since)s)
        OR (m.swept AND m.updated_at < %(at)s - interval '1 day')
        OR (m.closed_at IS NULL AND m.updated_at < %(at)s - interval '7 days'
            AND NOT EXISTS (SELECT 1 FROM sessions_open o
                             WHERE o.acct_unique_id = m.acct_unique_id))
"""


def session_deltas(conn: psycopg.Connection, since: datetime, at: datetime) -> tuple[int, int]:
    """Build ``rate_sessions``: each session whose counters or seconds differ from its
    mark, with the growth of its counters and the seconds rated before; history rows
    stopped at or after ``since`` are looked at, ``at`` is the run's moment. Returns how
    many sessions, and how many of them reported more seconds than could be believed."""
    conn.execute(_SESSIONS, {"since": since, "at": at})
    conn.execute("ANALYZE rate_sessions")
    return conn.execute("SELECT count(*), count(*) FILTER (WHERE implausible)"
                        " FROM rate_sessions").fetchone()


def keep_marks(conn: psycopg.Connection, next_since: datetime, at: datetime) -> None:
    """Record what ``rate_sessions`` was rated for, and drop the marks no later run
    needs: those of sessions closed before ``next_since``, where the next run's window
    will begin."""
    conn.execute(_KEEP_MARKS, {"at": at})
    conn.execute(_DROP_MARKS, {"since": next_since, "at": at})
