"""RADIUS against NetFlow: sessions and exporters whose accounting and flows disagree.

A session's accounting octets (gigawords folded in) are compared with the collector's
bytes of its framed address over its span, by the rater's rule (flow/attribution.py): a
bin belongs to the session that held the address then, the one started last before the
bin's end. Passthrough classes are left out, as their rows repeat bytes already counted
in an ordinary class (README, "The traffic collector"). Sessions of a tariff counted
from accounting (``tariff_accounting_traffic``: its NAS exports no NetFlow) are not
compared.

Raw bins are read once, not per session: reading ``flow_bins`` over each open session's
whole span every run would read every day a long session lasted, for every session
(``flow_bins`` is indexed by time only). Each run instead reads the bins since its
watermark and adds the bins older than ``late_minutes`` (final: the rater reads no
later rows either) to a tally per session and per NAS and hour; the newer bins are
read again by the next run and only added to this run's figures. A session first seen
after its start (the first run, an upgrade) has no whole tally and is not compared.

Exporters: per NAS and UTC hour, the bytes of its flows against the growth of its
sessions' counters seen in that hour; a NAS whose sessions' counters grew within
``silent_minutes`` while its flows stopped longer ago is ``silent`` at once.

One transaction per run under an advisory lock; a second run at once waits (or gives
way with ``wait=False``) and finds nothing new: the tallies move with the watermark.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg

from billing.wallclock import to_utc
from flow import locks

# The first run reads this far behind its final bins; older sessions are not compared.
FIRST_LOOKBACK = timedelta(hours=1)

_ROWS = """
    CREATE TEMP TABLE rec_rows ON COMMIT DROP AS
    SELECT r.bin, r.address, r.exporter, r.direction, sum(r.bytes)::bigint AS bytes,
           r.bin < %(final_to)s AS final
      FROM flow_bin_rows r
     WHERE r.bin >= %(lo)s AND r.bin < %(hi)s AND r.direction IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM traffic_classes c
                        WHERE c.id = r.class_id AND c.passthrough)
     GROUP BY r.bin, r.address, r.exporter, r.direction
"""

# The rater's holder rule, for sessions only (a static address takes a bin only when
# no session held it, so it never takes one from a session).
_HOLDERS = """
    CREATE TEMP TABLE rec_holders ON COMMIT DROP AS
    WITH addresses AS (
        SELECT address, min(bin) AS first_bin, max(bin) + interval '1 minute' AS last_end
          FROM rec_rows GROUP BY address
    ),
    candidates AS (
        SELECT a.address, h.acct_unique_id, h.started_at, h.stopped_at
          FROM addresses a
          CROSS JOIN LATERAL (
                SELECT s.acct_unique_id, s.started_at, 'infinity'::timestamptz AS stopped_at
                  FROM sessions_open s
                 WHERE s.framed_ip = a.address AND s.account_id IS NOT NULL
                   AND s.started_at < a.last_end
                UNION ALL
                SELECT s.acct_unique_id, s.started_at, s.stopped_at
                  FROM sessions_history s
                 WHERE s.framed_ip = a.address AND s.account_id IS NOT NULL
                   AND s.stopped_at > a.first_bin AND s.started_at < a.last_end
          ) h
    )
    SELECT DISTINCT ON (b.bin, b.address) b.bin, b.address, c.acct_unique_id
      FROM (SELECT DISTINCT bin, address FROM rec_rows) b
      JOIN candidates c
        ON c.address = b.address
       AND c.started_at < b.bin + interval '1 minute' AND c.stopped_at > b.bin
     ORDER BY b.bin, b.address, c.started_at DESC
"""

# The sessions a run looks at: the open ones, those that stopped since the previous
# run's final bins (by the stop's index) and those it watched that closed since (by
# key: a Stop spooled by FreeRADIUS may come late). Accounts never assigned a tariff
# counted from accounting pay no lookup of the tariff in force.
_CURRENT = """
    CREATE TEMP TABLE rec_current ON COMMIT DROP AS
    WITH accounting_accounts AS (
        SELECT DISTINCT account_id FROM account_tariffs
         WHERE tariff_id IN (SELECT tariff_id FROM tariff_accounting_traffic)
    ),
    closed AS (
        SELECT h.* FROM sessions_history h WHERE h.stopped_at >= %(lo)s
        UNION ALL
        SELECT h.*
          FROM traffic_reconcile_sessions t
          JOIN sessions_history h
            ON h.acct_unique_id = t.acct_unique_id
           AND h.stopped_at >= t.started_at AND h.stopped_at < %(lo)s
    ),
    sessions AS (
        SELECT o.acct_unique_id, o.account_id, o.nas_id, o.started_at,
               NULL::timestamptz AS stopped_at, o.updated_at AS moment,
               o.input_octets, o.output_octets
          FROM sessions_open o
         WHERE o.account_id IS NOT NULL
        UNION ALL
        (SELECT DISTINCT ON (h.acct_unique_id)
               h.acct_unique_id, h.account_id, h.nas_id, h.started_at, h.stopped_at,
               h.stopped_at, h.input_octets, h.output_octets
          FROM closed h
         WHERE h.account_id IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM sessions_open o
                            WHERE o.acct_unique_id = h.acct_unique_id)
         ORDER BY h.acct_unique_id, h.stopped_at DESC)
    )
    SELECT s.* FROM sessions s
     WHERE s.account_id NOT IN (SELECT account_id FROM accounting_accounts)
        OR NOT EXISTS (SELECT 1 FROM ebs_assignment_in_force(s.account_id, s.started_at) a
                         JOIN tariff_accounting_traffic t ON t.tariff_id = a.tariff_id)
"""

# A session first seen now is watched whole when its first bin is still to be read;
# its counters before that are not its NAS's growth of any hour we know.
_WATCH = """
    INSERT INTO traffic_reconcile_sessions AS t
           (acct_unique_id, account_id, nas_id, started_at, complete, input_octets,
            output_octets)
    SELECT c.acct_unique_id, c.account_id, c.nas_id, c.started_at, w.complete,
           CASE WHEN w.complete THEN 0 ELSE c.input_octets END,
           CASE WHEN w.complete THEN 0 ELSE c.output_octets END
      FROM rec_current c
      CROSS JOIN LATERAL (
            SELECT date_trunc('minute', c.started_at) >= %(lo)s AS complete) w
    ON CONFLICT (acct_unique_id) DO NOTHING
"""

_FORGET_VANISHED = """
    DELETE FROM traffic_reconcile_sessions t
     WHERE NOT EXISTS (SELECT 1 FROM rec_current c WHERE c.acct_unique_id = t.acct_unique_id)
"""

_ADD_SESSION_FLOWS = """
    UPDATE traffic_reconcile_sessions t
       SET flow_in = t.flow_in + f.bytes_in, flow_out = t.flow_out + f.bytes_out
      FROM (SELECT h.acct_unique_id,
                   coalesce(sum(r.bytes) FILTER (WHERE r.direction = 'in'), 0) AS bytes_in,
                   coalesce(sum(r.bytes) FILTER (WHERE r.direction = 'out'), 0) AS bytes_out
              FROM rec_rows r
              JOIN rec_holders h ON h.bin = r.bin AND h.address = r.address
             WHERE r.final
             GROUP BY h.acct_unique_id) f
     WHERE t.acct_unique_id = f.acct_unique_id
"""

# Exporters are NASes by the address they send from, as the collector knows them.
_ADD_EXPORTER_FLOWS = """
    INSERT INTO traffic_reconcile_exporter_hours AS e (nas_id, hour, flow_bytes)
    SELECT n.id, date_trunc('hour', r.bin), sum(r.bytes)
      FROM rec_rows r JOIN nas n ON n.ip_address = r.exporter
     WHERE r.final
     GROUP BY 1, 2
    ON CONFLICT (nas_id, hour) DO UPDATE SET flow_bytes = e.flow_bytes + EXCLUDED.flow_bytes
"""

_LAST_FLOWS = """
    INSERT INTO traffic_reconcile_exporters AS e (nas_id, last_flow_at)
    SELECT n.id, max(r.bin)
      FROM rec_rows r JOIN nas n ON n.ip_address = r.exporter
     GROUP BY n.id
    ON CONFLICT (nas_id) DO UPDATE
       SET last_flow_at = greatest(e.last_flow_at, EXCLUDED.last_flow_at)
"""

# What each watched session's counters grew by since the last run (a counter below its
# mark started again: all of it is growth), in the hour the counters arrived.
_GROWTH = """
    CREATE TEMP TABLE rec_growth ON COMMIT DROP AS
    SELECT c.acct_unique_id, c.nas_id, c.moment,
           CASE WHEN c.input_octets >= t.input_octets THEN c.input_octets - t.input_octets
                ELSE c.input_octets END
           + CASE WHEN c.output_octets >= t.output_octets
                  THEN c.output_octets - t.output_octets ELSE c.output_octets END AS bytes
      FROM rec_current c
      JOIN traffic_reconcile_sessions t ON t.acct_unique_id = c.acct_unique_id
     WHERE c.input_octets <> t.input_octets OR c.output_octets <> t.output_octets
"""

_ADD_GROWTH = """
    INSERT INTO traffic_reconcile_exporter_hours AS e (nas_id, hour, accounting_bytes)
    SELECT nas_id, date_trunc('hour', moment), sum(bytes)
      FROM rec_growth WHERE nas_id IS NOT NULL AND bytes > 0
     GROUP BY 1, 2
    ON CONFLICT (nas_id, hour) DO UPDATE
       SET accounting_bytes = e.accounting_bytes + EXCLUDED.accounting_bytes
"""

_LAST_TRAFFIC = """
    INSERT INTO traffic_reconcile_exporters AS e (nas_id, last_traffic_at)
    SELECT nas_id, max(moment) FROM rec_growth
     WHERE nas_id IS NOT NULL AND bytes > 0
     GROUP BY nas_id
    ON CONFLICT (nas_id) DO UPDATE
       SET last_traffic_at = greatest(e.last_traffic_at, EXCLUDED.last_traffic_at)
"""

_MARKS = """
    UPDATE traffic_reconcile_sessions t
       SET input_octets = c.input_octets, output_octets = c.output_octets
      FROM rec_current c
     WHERE c.acct_unique_id = t.acct_unique_id
       AND (c.input_octets <> t.input_octets OR c.output_octets <> t.output_octets)
"""

# Flagged: the difference reaches the floor and the tolerance's share of the larger
# figure. An open session's bins are counted up to its last interim (its counters say
# nothing later); the final tally may hold a few bins more when interims stopped.
_VERDICT = ("CASE WHEN abs({a} - {f}) >= %(min_bytes)s"
            " AND abs({a} - {f}) * 100 > %(tolerance)s * greatest({a}, {f})"
            " THEN 'mismatch' ELSE 'ok' END")

_SESSION_RESULTS = f"""
    CREATE TEMP TABLE rec_session_results ON COMMIT DROP AS
    WITH pending AS (
        SELECT h.acct_unique_id, sum(r.bytes) AS bytes
          FROM rec_rows r
          JOIN rec_holders h ON h.bin = r.bin AND h.address = r.address
          JOIN rec_current c ON c.acct_unique_id = h.acct_unique_id
         WHERE NOT r.final AND (c.stopped_at IS NOT NULL OR r.bin < c.moment)
         GROUP BY h.acct_unique_id
    ),
    figures AS (
        SELECT c.acct_unique_id, c.account_id, c.nas_id, c.started_at, c.stopped_at,
               (c.input_octets + c.output_octets) AS accounting_bytes,
               (t.flow_in + t.flow_out + coalesce(p.bytes, 0))::bigint AS flow_bytes
          FROM rec_current c
          JOIN traffic_reconcile_sessions t ON t.acct_unique_id = c.acct_unique_id
          LEFT JOIN pending p ON p.acct_unique_id = c.acct_unique_id
         WHERE t.complete
    )
    SELECT f.*, f.accounting_bytes - f.flow_bytes AS difference,
           {_VERDICT.format(a='f.accounting_bytes', f='f.flow_bytes')} AS state
      FROM figures f
"""

_WRITE_SESSIONS = """
    INSERT INTO traffic_reconciliation AS x
           (kind, acct_unique_id, account_id, nas_id, period_start, period_end,
            accounting_bytes, flow_bytes, difference, state, checked_at)
    SELECT 'session', r.acct_unique_id, r.account_id, r.nas_id, r.started_at, r.stopped_at,
           r.accounting_bytes, r.flow_bytes, r.difference, r.state, %(at)s
      FROM rec_session_results r
     WHERE r.state <> 'ok'
        OR EXISTS (SELECT 1 FROM traffic_reconciliation y
                    WHERE y.kind = 'session' AND y.acct_unique_id = r.acct_unique_id
                      AND y.period_start = r.started_at)
    ON CONFLICT (acct_unique_id, period_start) WHERE kind = 'session' DO UPDATE
       SET period_end = EXCLUDED.period_end, accounting_bytes = EXCLUDED.accounting_bytes,
           flow_bytes = EXCLUDED.flow_bytes, difference = EXCLUDED.difference,
           state = EXCLUDED.state, checked_at = EXCLUDED.checked_at
     WHERE (x.period_end, x.accounting_bytes, x.flow_bytes, x.state) IS DISTINCT FROM
           (EXCLUDED.period_end, EXCLUDED.accounting_bytes, EXCLUDED.flow_bytes,
            EXCLUDED.state)
"""

# A closed session whose last bin is final has its figures for good.
_RETIRE_SESSIONS = """
    DELETE FROM traffic_reconcile_sessions t
     USING rec_current c
     WHERE c.acct_unique_id = t.acct_unique_id AND c.stopped_at < %(final_to)s
"""

# Every NAS hour this run added to or read pending bins of, and the current hour of each
# NAS that went silent; silence outranks a mismatch. An hour is judged once its bins are
# final (the late window after its end: its last interims have arrived by then);
# before, it is 'open'.
_EXPORTER_RESULTS = f"""
    CREATE TEMP TABLE rec_exporter_results ON COMMIT DROP AS
    WITH pending AS (
        SELECT n.id AS nas_id, date_trunc('hour', r.bin) AS hour, sum(r.bytes) AS bytes
          FROM rec_rows r JOIN nas n ON n.ip_address = r.exporter
         WHERE NOT r.final
         GROUP BY 1, 2
    ),
    silent AS (
        SELECT nas_id FROM traffic_reconcile_exporters
         WHERE last_traffic_at >= %(silent_since)s
           AND (last_flow_at IS NULL OR last_flow_at < %(silent_since)s)
    ),
    hours AS (
        SELECT nas_id, hour FROM traffic_reconcile_exporter_hours
         WHERE hour >= date_trunc('hour', %(lo)s::timestamptz)
        UNION SELECT nas_id, hour FROM pending
        UNION SELECT nas_id, date_trunc('hour', %(at)s::timestamptz) FROM silent
    ),
    figures AS (
        SELECT h.nas_id, h.hour, coalesce(e.accounting_bytes, 0) AS accounting_bytes,
               (coalesce(e.flow_bytes, 0) + coalesce(p.bytes, 0))::bigint AS flow_bytes,
               h.hour = date_trunc('hour', %(at)s::timestamptz)
               AND h.nas_id IN (SELECT nas_id FROM silent) AS silent
          FROM hours h
          LEFT JOIN traffic_reconcile_exporter_hours e
            ON e.nas_id = h.nas_id AND e.hour = h.hour
          LEFT JOIN pending p ON p.nas_id = h.nas_id AND p.hour = h.hour
    )
    SELECT f.nas_id, f.hour, f.accounting_bytes, f.flow_bytes,
           f.accounting_bytes - f.flow_bytes AS difference,
           CASE WHEN f.silent THEN 'silent'
                WHEN f.hour + interval '1 hour' > %(final_to)s THEN 'open'
                ELSE {_VERDICT.format(a='f.accounting_bytes', f='f.flow_bytes')} END AS state
      FROM figures f
"""

_WRITE_EXPORTERS = """
    INSERT INTO traffic_reconciliation AS x
           (kind, nas_id, period_start, period_end, accounting_bytes, flow_bytes,
            difference, state, checked_at)
    SELECT 'exporter', r.nas_id, r.hour, r.hour + interval '1 hour', r.accounting_bytes,
           r.flow_bytes, r.difference, r.state, %(at)s
      FROM rec_exporter_results r
    ON CONFLICT (nas_id, period_start) WHERE kind = 'exporter' DO UPDATE
       SET accounting_bytes = EXCLUDED.accounting_bytes, flow_bytes = EXCLUDED.flow_bytes,
           difference = EXCLUDED.difference, state = EXCLUDED.state,
           checked_at = EXCLUDED.checked_at
     WHERE (x.accounting_bytes, x.flow_bytes, x.state) IS DISTINCT FROM
           (EXCLUDED.accounting_bytes, EXCLUDED.flow_bytes, EXCLUDED.state)
"""

_STATE = """
    INSERT INTO traffic_reconcile_state AS s (id, flows_final_to, ran_at)
    VALUES (true, %(final_to)s, %(at)s)
    ON CONFLICT (id) DO UPDATE
       SET flows_final_to = greatest(s.flows_final_to, EXCLUDED.flows_final_to),
           ran_at = EXCLUDED.ran_at
"""

_PRUNE = (
    "DELETE FROM traffic_reconcile_exporter_hours WHERE hour < %(keep_from)s",
    "DELETE FROM traffic_reconciliation WHERE period_start < %(keep_from)s"
    " AND (kind = 'exporter' OR period_end IS NOT NULL)",
)

# Each step and the name progress reports it by.
_STEPS = (
    ("flows", (_ROWS, "ANALYZE rec_rows", _HOLDERS, "ANALYZE rec_holders")),
    ("sessions", (_CURRENT, "ANALYZE rec_current", _WATCH, _FORGET_VANISHED,
                  _ADD_SESSION_FLOWS)),
    ("exporters", (_ADD_EXPORTER_FLOWS, _LAST_FLOWS, _GROWTH, _ADD_GROWTH, _LAST_TRAFFIC,
                   _MARKS)),
    ("results", (_SESSION_RESULTS, _WRITE_SESSIONS, _RETIRE_SESSIONS, _EXPORTER_RESULTS,
                 _WRITE_EXPORTERS, _STATE, *_PRUNE)),
)
STEP_NAMES = tuple(name for name, _ in _STEPS)


@dataclass
class ReconcileResult:
    """What a run found; ``skipped`` when another run held the lock and ``wait`` was off."""

    flows_final_to: str | None = None
    flow_rows: int = 0
    sessions_checked: int = 0
    sessions_mismatched: int = 0
    exporters_checked: int = 0
    exporters_mismatched: int = 0
    exporters_silent: int = 0
    skipped: bool = False

    def as_dict(self) -> dict:
        return asdict(self)

    def metric_line(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.as_dict().items())


def _minute(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


def settings_options(settings) -> dict:
    """:func:`reconcile`'s keyword arguments from the settings (the beat task and
    ``ebs traffic reconcile`` run it alike)."""
    return {"late_minutes": int(settings.FLOW_RATE_LATE_MINUTES),
            "tolerance_percent": Decimal(str(settings.FLOW_RECONCILE_TOLERANCE_PERCENT)),
            "min_bytes": int(settings.FLOW_RECONCILE_MIN_BYTES),
            "silent_minutes": int(settings.FLOW_SILENT_EXPORTER_MINUTES),
            "keep_days": int(settings.FLOW_RETENTION_DAYS)}


def reconcile(
    conn: psycopg.Connection,
    at: datetime,
    *,
    late_minutes: int = 15,
    tolerance_percent: Decimal = Decimal(10),
    min_bytes: int = 1024 * 1024,
    silent_minutes: int = 10,
    keep_days: int = 35,
    wait: bool = True,
    progress: Callable[[str], None] | None = None,
) -> ReconcileResult:
    """Compare accounting with flows up to the minute of ``at`` and write the results
    into ``traffic_reconciliation``. ``conn`` is in autocommit mode (the run is one
    transaction of its own); ``progress`` is called with each step's name when done."""
    if late_minutes < 0 or silent_minutes < 1 or tolerance_percent < 0 or min_bytes < 0:
        raise ValueError("late_minutes, tolerance_percent and min_bytes must be >= 0 and "
                         "silent_minutes >= 1")
    if not conn.autocommit:
        raise ValueError("reconcile() needs a connection in autocommit mode")
    at = to_utc(at, "at").astimezone(UTC)
    hi = _minute(at) + timedelta(minutes=1)
    result = ReconcileResult()
    with conn.transaction():
        if not locks.hold(conn, locks.RECONCILE, wait=wait):
            result.skipped = True
            return result
        row = conn.execute("SELECT flows_final_to FROM traffic_reconcile_state").fetchone()
        final_to = hi - timedelta(minutes=late_minutes)
        lo = row[0] if row else final_to - FIRST_LOOKBACK
        final_to = max(final_to, lo)
        params = {"lo": lo, "hi": max(hi, final_to), "final_to": final_to, "at": at,
                  "min_bytes": min_bytes, "tolerance": tolerance_percent,
                  "silent_since": at - timedelta(minutes=silent_minutes),
                  "keep_from": at - timedelta(days=keep_days)}
        for name, statements in _STEPS:
            for statement in statements:
                conn.execute(statement, params)
            if progress is not None:
                progress(name)
        result.flows_final_to = final_to.isoformat()
        result.flow_rows = conn.execute("SELECT count(*) FROM rec_rows").fetchone()[0]
        result.sessions_checked, result.sessions_mismatched = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE state = 'mismatch')"
            " FROM rec_session_results").fetchone()
        (result.exporters_checked, result.exporters_mismatched,
         result.exporters_silent) = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE state = 'mismatch'),"
            " count(*) FILTER (WHERE state = 'silent') FROM rec_exporter_results").fetchone()
    return result


def mismatches(conn: psycopg.Connection, start: datetime | None = None,
               end: datetime | None = None) -> list[dict]:
    """The flagged rows (mismatch, silent) whose period overlaps [start, end)."""
    cur = conn.execute(
        "SELECT kind, acct_unique_id, account_id, nas_id, period_start, period_end,"
        " accounting_bytes, flow_bytes, difference, state, checked_at"
        " FROM traffic_reconciliation"
        " WHERE state IN ('mismatch', 'silent')"
        "   AND (%(start)s::timestamptz IS NULL OR coalesce(period_end, 'infinity') > %(start)s)"
        "   AND (%(end)s::timestamptz IS NULL OR period_start < %(end)s)"
        " ORDER BY kind, period_start, id",
        {"start": start, "end": end})
    names = [c.name for c in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
