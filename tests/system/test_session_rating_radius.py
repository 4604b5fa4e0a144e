"""RADIUS-counter traffic and time charging down the real accounting path: radclient
sends Start, Interim-Update (with gigawords) and Stop to a real FreeRADIUS, whose rlm_sql
applies them (ebs_acct_apply); the session rater charges the exact bytes and minutes,
and a second run changes nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import psycopg
import pytest

from billing import ledger
from flow.session_rater import rate_sessions
from tests.harness import start_with_retry
from tests.system.test_radius_accounting import epoch, make_server, new_session, send

MB = 1024 * 1024
GIB4 = 2 ** 32
# Event times a few hours ago, on whole minutes.
T0 = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
UTC_ZONE = ZoneInfo("UTC")


@pytest.fixture(scope="module")
def rating_db(pg_server, template_db):
    name = f"rate_{uuid.uuid4().hex[:12]}"
    pg_server.create_database(name, template=template_db)
    yield pg_server.conninfo(name)
    pg_server.drop_database(name)


@pytest.fixture(scope="module")
def radius(rating_db, tmp_path_factory):
    base = tmp_path_factory.mktemp("radius-session-rating")
    server = start_with_retry(lambda: make_server(base / "conf", rating_db, "live"))
    yield server
    server.stop()


def _charges(conn, account_id, kind) -> Decimal:
    return -conn.execute("SELECT coalesce(sum(amount), 0) FROM ledger_entries"
                         " WHERE account_id = %s AND kind = %s",
                         (account_id, kind)).fetchone()[0]


def _rate(conn, at) -> None:
    first = rate_sessions(conn, at, UTC_ZONE)
    assert first.sessions == 1
    entries = conn.execute("SELECT count(*) FROM ledger_entries").fetchone()[0]
    again = rate_sessions(conn, at, UTC_ZONE)
    assert again.sessions == 0
    assert conn.execute("SELECT count(*) FROM ledger_entries").fetchone()[0] == entries


def test_interims_and_stop_through_freeradius_are_charged_exactly_once(radius, rating_db):
    with psycopg.connect(rating_db, autocommit=True) as conn:
        group = conn.execute("INSERT INTO traffic_groups (name, direction) VALUES"
                             " ('radius', 'both') RETURNING id").fetchone()[0]
        plan = conn.execute("INSERT INTO tariffs (name) VALUES ('by counters') RETURNING id"
                            ).fetchone()[0]
        conn.execute("INSERT INTO tariff_accounting_traffic (tariff_id, group_id)"
                     " VALUES (%s, %s)", (plan, group))
        conn.execute("INSERT INTO tariff_traffic_prices (tariff_id, group_id, price_per_mb)"
                     " VALUES (%s, %s, 0.01)", (plan, group))
        conn.execute("INSERT INTO tariff_time_prices (tariff_id, price_per_minute)"
                     " VALUES (%s, 0.5)", (plan,))
        conn.execute("INSERT INTO tariff_time_service (tariff_id, step_seconds)"
                     " VALUES (%s, 60)", (plan,))
        carol = conn.execute("INSERT INTO accounts (contract, login) VALUES ('C-9', 'carol')"
                             " RETURNING id").fetchone()[0]
        conn.execute("INSERT INTO subaccounts (account_id, username) VALUES (%s, 'carol')",
                     (carol,))
        conn.execute("INSERT INTO account_tariffs (account_id, tariff_id, assigned_at)"
                     " VALUES (%s, %s, %s)", (carol, plan, T0 - timedelta(days=1)))

        session = new_session()
        send(radius, "Start", session, user="carol", Event_Timestamp=epoch(T0))
        # 4 GiB + 1 MiB up (one gigaword), 3 MiB down, 5 minutes online.
        send(radius, "Interim-Update", session, user="carol", Acct_Input_Octets=MB,
             Acct_Input_Gigawords=1, Acct_Output_Octets=3 * MB, Acct_Session_Time=300,
             Event_Timestamp=epoch(T0 + timedelta(minutes=5)))
        _rate(conn, T0 + timedelta(minutes=6))
        # 4100 MiB at 0.01, 5 minutes at 0.50.
        assert _charges(conn, carol, "charge_traffic") == Decimal("41.00")
        assert _charges(conn, carol, "charge_time") == Decimal("2.50")

        # Stop at 12 min 30 s: 1 MiB more down; 750 s is 13 begun minutes.
        send(radius, "Stop", session, user="carol", Acct_Input_Octets=MB,
             Acct_Input_Gigawords=1, Acct_Output_Octets=4 * MB, Acct_Session_Time=750,
             Acct_Terminate_Cause="User-Request",
             Event_Timestamp=epoch(T0 + timedelta(minutes=12, seconds=30)))
        _rate(conn, T0 + timedelta(minutes=13))
        assert _charges(conn, carol, "charge_traffic") == Decimal("41.01")
        assert _charges(conn, carol, "charge_time") == Decimal("6.50")
        used = conn.execute("SELECT used_bytes FROM traffic_usage WHERE account_id = %s",
                            (carol,)).fetchone()[0]
        assert used == GIB4 + MB + 4 * MB
        assert conn.execute("SELECT used_seconds FROM time_usage WHERE account_id = %s",
                            (carol,)).fetchone()[0] == 780
        assert ledger.verify(conn) == []
