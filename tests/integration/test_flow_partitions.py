"""The collector's day partitions: made ahead, dropped after their retention, stored
classes' raw rows kept as long as any setting says, run by the worker's own role."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest

from flow import partitions
from tests.harness import role_conninfo

TODAY = date(2026, 12, 6)


def parts(conn, table: str) -> set[str]:
    return {r[0] for r in conn.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = %s::regclass", (table,))}


def day(table: str, offset: int) -> str:
    return f"{table}_{TODAY + timedelta(days=offset):%Y%m%d}"


@pytest.fixture
def worker(db):
    with psycopg.connect(role_conninfo(db, "worker"), autocommit=True) as connection:
        yield connection


def test_coming_days_are_made_once(conn, worker):
    first = partitions.maintain(worker, TODAY, 35, 365)
    again = partitions.maintain(worker, TODAY, 35, 365)
    expected = [day(t, k) for t in ("flow_bins", "flow_raw") for k in (0, 1, 2)]
    assert first["ensured"] == again["ensured"] == expected
    assert first["dropped"] == again["dropped"] == []
    for table in ("flow_bins", "flow_raw"):
        assert parts(conn, table) == {f"{table}_default", *(day(table, k) for k in (0, 1, 2))}
    bounds = conn.execute("SELECT pg_get_expr(relpartbound, oid) FROM pg_class"
                          " WHERE relname = %s", (day("flow_bins", 1),)).fetchone()[0]
    assert "2026-12-07 00:00:00+00" in bounds and "2026-12-08 00:00:00+00" in bounds
    # a bin of today lands in today's partition, not in the default one
    conn.execute("INSERT INTO flow_bins (packets, bytes, stamp_inserted)"
                 " VALUES (1, 100, '2026-12-06 23:59:00+00')")
    assert conn.execute("SELECT tableoid::regclass::text FROM flow_bins").fetchone()[0] == \
        day("flow_bins", 0)
    assert partitions.maintain(worker, TODAY, 35, 365)["default_rows"] == []


def test_expired_days_go_and_stored_days_stay(conn, worker):
    conn.execute("INSERT INTO traffic_classes (name, store, store_days)"
                 " VALUES ('lawful', true, 100), ('plain', false, 999)")
    for offset in (-35, -34, -10):
        conn.execute("SELECT ebs_flow_day_partition('flow_bins', %s)",
                     (TODAY + timedelta(days=offset),))
    for offset in (-100, -99, -40):
        conn.execute("SELECT ebs_flow_day_partition('flow_raw', %s)",
                     (TODAY + timedelta(days=offset),))
    old = datetime.combine(TODAY - timedelta(days=35), datetime.min.time(), UTC)
    conn.execute("INSERT INTO flow_rejects (peer_ip_src, packets, bytes, stamp_inserted)"
                 " VALUES ('192.0.2.1', 1, 10, %s), ('192.0.2.1', 1, 20, %s)",
                 (old, old + timedelta(days=1)))

    # 35 days of bins: today and 34 before it; raw rows: the class's 100 days win over
    # the setting's 60, and a raw day older than FLOW_RETENTION_DAYS survives
    result = partitions.maintain(worker, TODAY, 35, 60)
    assert result["dropped"] == [day("flow_bins", -35), day("flow_raw", -100)]
    assert {day("flow_bins", -34), day("flow_bins", -10)} <= parts(conn, "flow_bins")
    assert {day("flow_raw", -99), day("flow_raw", -40)} <= parts(conn, "flow_raw")
    assert result["rejects_deleted"] == 1
    assert conn.execute("SELECT bytes FROM flow_rejects").fetchall() == [(20,)]

    # a longer setting than any class keeps more; nothing is dropped twice
    assert partitions.maintain(worker, TODAY, 35, 200)["dropped"] == []
    conn.execute("UPDATE traffic_classes SET store = false")
    assert partitions.maintain(worker, TODAY, 35, 60)["dropped"] == [day("flow_raw", -99)]


def test_a_row_without_its_day_is_reported(conn, worker):
    conn.execute("INSERT INTO flow_bins (packets, bytes, stamp_inserted)"
                 " VALUES (1, 100, '2027-01-01 00:00:00+00')")
    assert partitions.maintain(worker, TODAY, 35, 365)["default_rows"] == ["flow_bins"]


def test_only_flow_tables_and_sane_retention(conn, worker):
    with pytest.raises(psycopg.errors.RaiseException, match="not a day-partitioned"):
        worker.execute("SELECT ebs_flow_day_partition('accounts', '2026-12-06')")
    with pytest.raises(psycopg.errors.RaiseException, match="not a day-partitioned"):
        worker.execute("SELECT ebs_flow_drop_days('accounts', '2026-12-06')")
    with pytest.raises(ValueError, match="at least one day"):
        partitions.maintain(worker, TODAY, 0, 365)


def test_the_task_reads_the_retention_settings(env, conn, monkeypatch):
    from worker.flow_tasks import flow_partitions

    today = datetime.now(UTC).date()
    conn.execute("SELECT ebs_flow_day_partition('flow_bins', %s)",
                 (today - timedelta(days=20),))
    result = flow_partitions.run()
    assert f"flow_bins_{today:%Y%m%d}" in result["ensured"]
    assert result["dropped"] == []  # 35 days by default
    monkeypatch.setenv("EBS_FLOW_RETENTION_DAYS", "20")
    assert flow_partitions.run()["dropped"] == [
        f"flow_bins_{today - timedelta(days=20):%Y%m%d}"]
