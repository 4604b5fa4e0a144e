"""Builders for the RADIUS-counter traffic and time charging tests: accounting packets
applied by ebs_acct_apply (as FreeRADIUS's rlm_sql calls it), runs of the session rater
that must change nothing when repeated, and what they wrote."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import count
from zoneinfo import ZoneInfo

from flow.session_rater import SessionRateResult, rate_sessions
from tests.integration.traffic_helpers import subaccount

_seq = count(1)
T0 = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
NAS_IP = "127.0.0.1"
GIGAWORD = 2 ** 32


def username(conn, account_id) -> str:
    sub = subaccount(conn, account_id)
    return conn.execute("SELECT username FROM subaccounts WHERE id = %s", (sub,)).fetchone()[0]


def new_session_id() -> str:
    return f"acct{next(_seq)}"


def acct(conn, status, unique_id, user, event_time, session_time, *, in_octets=0,
         in_giga=0, out_octets=0, out_giga=0) -> str:
    """One Accounting-Request as rlm_sql hands it to ebs_acct_apply."""
    return conn.execute(
        "SELECT ebs_acct_apply(%s, %s, %s, %s, %s, NULL, '', '', '', %s, %s, %s, %s, %s, %s,"
        " %s, 300)",
        (status, unique_id, unique_id, user, NAS_IP, in_octets, in_giga, out_octets,
         out_giga, session_time, event_time, "User-Request" if status == "Stop" else None),
    ).fetchone()[0]


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def run(conn, moment, tz="UTC", times=2, **options) -> SessionRateResult:
    """Rate at ``moment`` ``times`` times: the repeats must change nothing at all."""
    zone = ZoneInfo(tz)
    first = rate_sessions(conn, moment, zone, **options)
    state = snapshot(conn)
    for _ in range(times - 1):
        again = rate_sessions(conn, moment, zone, **options)
        assert again.sessions == 0 and again.traffic_entries == 0 and again.time_entries == 0
        assert snapshot(conn) == state
    return first


def snapshot(conn) -> tuple:
    return (
        conn.execute("SELECT account_id, amount, idempotency_key FROM ledger_entries"
                     " ORDER BY id").fetchall(),
        conn.execute("SELECT id, balance FROM accounts ORDER BY id").fetchall(),
        conn.execute("SELECT * FROM traffic_stats_hourly ORDER BY 1, 2, 3").fetchall(),
        conn.execute("SELECT * FROM traffic_usage ORDER BY id").fetchall(),
        conn.execute("SELECT * FROM time_usage ORDER BY id").fetchall(),
        conn.execute("SELECT acct_unique_id, input_octets, output_octets, seconds, closed_at"
                     " FROM session_rating_marks ORDER BY 1").fetchall(),
    )


def charges(conn, account_id, kind) -> Decimal:
    return -conn.execute("SELECT coalesce(sum(amount), 0) FROM ledger_entries"
                         " WHERE account_id = %s AND kind = %s",
                         (account_id, kind)).fetchone()[0]


def balance(conn, account_id) -> Decimal:
    return conn.execute("SELECT balance FROM accounts WHERE id = %s", (account_id,)).fetchone()[0]
