"""Builders for the RADIUS-counter traffic and time charging tests: accounting packets
applied by ebs_acct_apply (as FreeRADIUS's rlm_sql calls it) and runs of the session
rater that must change nothing when repeated; charges and balances are read by
``traffic_helpers``."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import count
from zoneinfo import ZoneInfo

from flow.session_rater import SessionRateResult, rate_sessions
from tests.integration.traffic_helpers import T0, repeated, subaccount
from tests.integration.traffic_helpers import snapshot as traffic_snapshot

_seq = count(1)
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
    return repeated(
        conn, lambda: rate_sessions(conn, moment, zone, **options), times,
        lambda again: again.sessions == 0 and again.traffic_entries == 0
        and again.time_entries == 0, snapshot)


def snapshot(conn) -> tuple:
    """The traffic rater's writes, the time usage and the sessions' marks."""
    return traffic_snapshot(
        conn, "SELECT * FROM time_usage ORDER BY id",
        "SELECT acct_unique_id, input_octets, output_octets, seconds, closed_at"
        " FROM session_rating_marks ORDER BY 1")
