"""Sessions online over time: one sample every few minutes, for the dashboard's day chart.

Who was online at each hour of the last day could be counted from the closed sessions,
but that reads every session that ended in the day (at a large ISP's reconnect rate,
hundreds of thousands of rows a page view) and grows with the ISP. A sample is one row
written by the beat (``ebs.sample_online``); the chart reads at most a day of them by the
table's key, the same few rows at any size. The sample is the count the dashboard's
"online now" shows (the open sessions); the slot is the five minutes it falls in, so a
second run in one slot (a retried task, two beats) changes nothing.
"""

from __future__ import annotations

from datetime import datetime

import psycopg

SLOT_MINUTES = 5
KEEP_DAYS = 35  # the chart shows a day; a month is kept for a look back

_SAMPLE = f"""
INSERT INTO online_samples (sampled_at, sessions)
SELECT date_bin('{SLOT_MINUTES} minutes', coalesce(%(at)s, now()),
                timestamptz '2000-01-01 00:00+00'),
       count(*)
  FROM sessions_open
    ON CONFLICT (sampled_at) DO NOTHING
"""
_PRUNE = f"""
DELETE FROM online_samples
 WHERE sampled_at < coalesce(%(at)s, now()) - interval '{KEEP_DAYS} days'
"""


def record_sample(conn: psycopg.Connection, at: datetime | None = None) -> bool:
    """Count the open sessions into the slot of ``at`` (now); False when that slot has
    its sample already. Samples older than ``KEEP_DAYS`` go in the same transaction."""
    params = {"at": at}
    added = conn.execute(_SAMPLE, params).rowcount == 1
    conn.execute(_PRUNE, params)
    return added
