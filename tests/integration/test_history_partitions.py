"""Month partitions of sessions_history and auth_log: made three months ahead, so a new
month never lands in the default partition; dropped whole once all of a month is older
than its setting keeps, never a month with a row to keep; 0 keeps for ever. Run as the
worker's role, from the command line as an operator runs it."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import psycopg
import pytest
from click.testing import CliRunner

from billing import history_partitions
from cli.main import cli
from tests.conftest import ebs_env

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def _months(conn, table: str) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = %s::regclass ORDER BY 1", (table,))]


def _log(conn, at: datetime, user: str) -> None:
    conn.execute("INSERT INTO auth_log (logged_at, username, reason, accepted)"
                 " VALUES (%s, %s, 'ok', true)", (at, user))


def test_months_made_ahead_and_dropped_whole_past_their_retention(conn):
    conn.execute("SELECT ebs_ensure_month_partitions('auth_log', %s, %s)",
                 (datetime(2025, 1, 1, tzinfo=UTC), NOW))
    _log(conn, datetime(2025, 5, 31, 23, 0, tzinfo=UTC), "old")
    _log(conn, datetime(2025, 12, 7, 13, 0, tzinfo=UTC), "kept")  # inside 12 months
    result = history_partitions.maintain(conn, NOW, {"auth_log": 12, "sessions_history": 36})
    months = _months(conn, "auth_log")
    # 2025-12 holds a row 12 months minus an hour old: its month stays, 2025-11 goes.
    assert "auth_log_202511" in result["dropped"] and "auth_log_202512" in months
    assert "auth_log_202505" in result["dropped"] and "auth_log_202505" not in months
    assert {"auth_log_202701", "auth_log_202702", "auth_log_202703"} <= set(months)
    assert {"sessions_history_202703"} <= set(_months(conn, "sessions_history"))
    assert "auth_log_default" in months and result["default_rows"] == []
    assert [r[0] for r in conn.execute("SELECT username FROM auth_log")] == ["kept"]
    again = history_partitions.maintain(conn, NOW, {"auth_log": 12, "sessions_history": 36})
    assert again == {"created": 0, "dropped": [], "default_rows": []}


def test_zero_keeps_for_ever_and_a_stray_row_is_reported(conn):
    conn.execute("SELECT ebs_ensure_month_partitions('auth_log', %s, %s)",
                 (datetime(2020, 1, 1, tzinfo=UTC), datetime(2020, 2, 1, tzinfo=UTC)))
    _log(conn, datetime(2019, 6, 1, tzinfo=UTC), "before any partition")  # the default
    result = history_partitions.maintain(conn, NOW, {"auth_log": 0, "sessions_history": 0})
    assert result["dropped"] == [] and "auth_log_202001" in _months(conn, "auth_log")
    assert result["default_rows"] == ["auth_log"]


def test_only_the_history_tables_can_be_dropped_by_month(conn):
    with pytest.raises(psycopg.errors.RaiseException, match="not a month-partitioned"):
        conn.execute("SELECT ebs_drop_month_partitions('ledger_entries', now())")


def test_the_command_runs_as_the_worker_and_refuses_a_negative_setting(db, conn, tmp_path):
    settings = tmp_path / "settings_local.py"
    settings.write_text("AUTH_LOG_KEEP_MONTHS = 1\n", encoding="utf-8")
    conn.execute("SELECT ebs_ensure_month_partitions('auth_log', %s, %s)",
                 (datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 2, 1, tzinfo=UTC)))
    done = CliRunner().invoke(cli, ["db", "partitions"], env=ebs_env(db, settings))
    assert done.exit_code == 0, done.output
    assert "auth_log_202401" in json.loads(done.output)["dropped"]
    settings.write_text("AUTH_LOG_KEEP_MONTHS = -1\n", encoding="utf-8")
    refused = CliRunner().invoke(cli, ["db", "partitions"], env=ebs_env(db, settings))
    assert refused.exit_code == 1 and "AUTH_LOG_KEEP_MONTHS" in refused.output
