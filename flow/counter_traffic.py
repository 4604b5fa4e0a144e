"""Traffic counted from RADIUS accounting, for NASes that export no NetFlow.

A tariff in ``tariff_accounting_traffic`` names the traffic group its sessions' octets
count in; each session's growth since it was last rated (``rate_sessions``, built by
``billing.session_deltas``) becomes that group's usage in the minute the counters
describe, and is priced, prepaid and posted by the very rules of the collector's traffic
(``flow.rating.charge_deltas``: same ``traffic_usage`` rows, same cumulative rounding,
same ledger kind), and added to the same hourly statistics.

Directions are the subscriber's, as the collector's: "in" is what the subscriber
received, which the NAS counts as Acct-Output-Octets; "out" is Acct-Input-Octets.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import psycopg

from flow.groups import add_hourly_stats
from flow.rating import Charged, charge_deltas

# Several sessions of one account in one minute add up. The tariff is the one in force
# at the counters' minute.
_DELTAS = """
    CREATE TEMP TABLE rate_deltas ON COMMIT DROP AS
    SELECT date_trunc('minute', s.moment) AS bin, s.account_id, t.group_id,
           sum(CASE WHEN g.direction IN ('in', 'both') THEN s.output_delta ELSE 0 END
           )::bigint AS bytes_in,
           sum(CASE WHEN g.direction IN ('out', 'both') THEN s.input_delta ELSE 0 END
           )::bigint AS bytes_out
      FROM rate_sessions s
      CROSS JOIN LATERAL ebs_assignment_in_force(s.account_id,
                                                 date_trunc('minute', s.moment)) a
      JOIN tariff_accounting_traffic t ON t.tariff_id = a.tariff_id
      JOIN traffic_groups g ON g.id = t.group_id
     WHERE s.input_delta <> 0 OR s.output_delta <> 0
     GROUP BY 1, 2, 3
    HAVING sum(CASE WHEN g.direction IN ('in', 'both') THEN s.output_delta ELSE 0 END)
           + sum(CASE WHEN g.direction IN ('out', 'both') THEN s.input_delta ELSE 0 END) <> 0
"""


def charge_counter_traffic(conn: psycopg.Connection, tz: ZoneInfo) -> Charged:
    """Rate the octets of ``rate_sessions`` for the tariffs that count them."""
    conn.execute(_DELTAS)
    if not conn.execute("SELECT EXISTS (SELECT 1 FROM rate_deltas)").fetchone()[0]:
        return Charged()
    conn.execute("ANALYZE rate_deltas")
    add_hourly_stats(conn, tz)
    return charge_deltas(conn, tz)
