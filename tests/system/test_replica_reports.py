"""A real streaming standby of the test cluster (stack/replica.py), and the web app's
reports read from it (webapp/report_db.py): the report's statement is seen by the
standby's pg_stat_statements and not by the primary's; a replica stopped or replaying
too far behind leaves the reports to the primary, and the log says so; ``ebs db replica``
makes, keeps, shows and forgets a standby. The replay lag under a charge tick is measured
and written to var/test-artefacts/replica_lag.json (docs/replica.md has the figures)."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import psycopg
import pytest
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families
from psycopg.conninfo import conninfo_to_dict

from billing.charging.tick import charge
from cli.main import cli
from stack import replica
from stack.servers.base import free_port
from stack.servers.postgres import PostgresServer
from tests.integration.charging_helpers import periodic_service, settlement_period, tariff
from tests.web.conftest import (  # noqa: F401 (web_state, web_template: fixtures)
    ADMIN,
    settings_for,
    staff,
    start_app,
    web_state,
    web_template,
)
from tests.web.conftest import login as web_login

REPORT_PAGE = "/reports/payments/?start=2026-10-01&end=2026-10-31"
# The payments report's statement, as pg_stat_statements keeps its text.
REPORT_SQL = "%date_trunc(%AS period%FROM ledger_totals t%"
DASHBOARD_SQL = "%FROM account_stats_deltas%"
LAG_ACCOUNTS = 20_000


@pytest.fixture(scope="module")
def standby(pg_server, web_template, tmp_path_factory):  # noqa: F811
    """A hot standby of the session's cluster through a slot of its own, started; the
    slot is dropped at the end (the primary would keep WAL for it for ever)."""
    base = tmp_path_factory.mktemp("replica")
    slot = f"ebs_test_{uuid.uuid4().hex[:8]}"
    primary = replica.Primary(admin_conninfo=pg_server.admin_conninfo(), host="127.0.0.1",
                              port=pg_server.port, secrets=pg_server.secrets)
    server = PostgresServer(datadir=base / "data", port=free_port(), socket_dir=base / "run",
                            durable=False, standby=True)
    assert replica.setup(primary, server.datadir, slot) == "made"
    server.socket_dir.mkdir(parents=True, exist_ok=True)
    server.start()
    yield server, primary, slot
    server.stop()
    replica.drop_slot(pg_server.admin_conninfo(), slot)


@pytest.fixture
def db(pg_server, web_template):  # noqa: F811
    """A web test's database made after the standby's copy: it reaches the standby as
    WAL, as any later change does."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    pg_server.create_database(name, template=web_template)
    yield pg_server.conninfo(name)
    pg_server.drop_database(name)


def _lsn(conn: psycopg.Connection, query: str) -> int:
    """An LSN as a number of bytes (pg_lsn's text is two hex halves)."""
    high, low = conn.execute(query).fetchone()[0].split("/")
    return (int(high, 16) << 32) + int(low, 16)


def _primary_lsn(conn) -> int:
    """Where the primary's WAL ends, commits not yet flushed included (the test cluster
    commits asynchronously: its walwriter flushes them within 200 ms)."""
    return _lsn(conn, "SELECT pg_current_wal_insert_lsn()::text")


def _replayed_lsn(conn) -> int:
    return _lsn(conn, "SELECT pg_last_wal_replay_lsn()::text")


def wait_replayed(primary_conn, standby_conn, timeout: float = 20.0) -> float:
    """Wait until the standby has replayed all the primary has written now; seconds."""
    target, started = _primary_lsn(primary_conn), time.monotonic()
    while _replayed_lsn(standby_conn) < target:
        assert time.monotonic() - started < timeout, "the standby did not catch up"
        time.sleep(0.01)
    return time.monotonic() - started


def _dbname(conninfo: str) -> str:
    return conninfo_to_dict(conninfo)["dbname"]


@pytest.fixture
def replica_conn(standby, db):
    """The standby's copy of the test's database, as its superuser over its socket."""
    server = standby[0]
    deadline = time.monotonic() + 20
    while True:  # the database itself arrives as WAL
        try:
            connection = psycopg.connect(server.admin_conninfo(_dbname(db)), autocommit=True)
            break
        except psycopg.OperationalError:
            assert time.monotonic() < deadline, "the database never reached the standby"
            time.sleep(0.05)
    with connection:
        yield connection


def _calls(conn, pattern: str) -> int:
    """Calls of statements like ``pattern`` the web role made in this database."""
    return conn.execute(
        "SELECT coalesce(sum(s.calls), 0)::int FROM pg_stat_statements s"
        "  JOIN pg_roles r ON r.oid = s.userid"
        " WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
        "   AND r.rolname = 'ebs_web' AND s.query LIKE %s", (pattern,)).fetchone()[0]


@pytest.fixture
def payment(conn, staff):  # noqa: F811 (the web tests' staff fixture)
    """One subscriber who paid 1,234.50 on 15 October 2026, on the primary."""
    conn.execute("INSERT INTO accounts (contract, login, full_name) "
                 "VALUES ('90001', 'rep1', 'Reader')")
    conn.execute(
        "INSERT INTO ledger_entries (account_id, kind, amount, idempotency_key, effective_at,"
        " staff_user_id, details) SELECT id, 'payment', 1234.50, 'rep-p1', %s, %s,"
        " '{\"source\": \"cashier\"}'::jsonb FROM accounts WHERE contract = '90001'",
        (datetime(2026, 10, 15, 12, tzinfo=ZoneInfo("Europe/Moscow")), staff["cashier"]))


def _app(db, web_state, standby, **overrides):  # noqa: F811 (web_state: a fixture)
    settings = settings_for(db, web_state)
    settings.DB_REPLICA_HOST = "127.0.0.1"
    settings.DB_REPLICA_PORT = standby[0].port
    settings.DB_REPLICA_RETRY_SECONDS = 0
    for name, value in overrides.items():
        setattr(settings, name, value)
    return start_app(settings)


@pytest.fixture
def make_client(db, web_state, standby):  # noqa: F811
    """A logged-in admin's test client of an app whose reports read the standby."""
    apps = []

    def make(**overrides):
        app = _app(db, web_state, standby, **overrides)
        apps.append(app)
        client = app.test_client()
        web_login(client, *ADMIN)
        return client

    yield make
    for app in apps:
        with app.app_context():
            from webapp import report_db
            from webapp.extensions import db as sqla

            found = report_db.route(app)
            if found is not None:
                found.dispose()
            sqla.session.remove()
            sqla.engine.dispose()


def test_rows_written_on_the_primary_are_read_on_the_standby(standby, conn, replica_conn):
    server, primary, slot = standby
    assert replica_conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]
    conn.execute("INSERT INTO accounts (contract, login) VALUES ('90002', 'rep2')")
    wait_replayed(conn, replica_conn)
    assert replica_conn.execute(
        "SELECT login FROM accounts WHERE contract = '90002'").fetchone() == ("rep2",)
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        replica_conn.execute("INSERT INTO accounts (contract, login) VALUES ('x', 'x')")
    # A second set-up keeps the standby as it is; the slot holds its place on the primary.
    assert replica.setup(primary, server.datadir, slot) == "kept"
    with psycopg.connect(primary.admin_conninfo, autocommit=True) as admin:
        found = {row["slot_name"]: row for row in replica.standbys(admin)}
    assert found[slot]["state"] == "streaming"
    # The replication role may stream and nothing else.
    with psycopg.connect(primary.admin_conninfo, autocommit=True) as admin:
        assert admin.execute(
            "SELECT rolreplication, rolsuper, rolcreaterole, rolcreatedb FROM pg_roles"
            " WHERE rolname = 'ebs_replica'").fetchone() == (True, False, False, False)


def test_a_report_page_is_read_on_the_replica_and_not_the_primary(
        make_client, conn, replica_conn, payment):
    client = make_client()
    wait_replayed(conn, replica_conn)
    before = (_calls(conn, REPORT_SQL), _calls(replica_conn, REPORT_SQL))
    page = client.get(REPORT_PAGE)
    assert page.status_code == 200
    assert "1,234.50\xa0RUB" in page.text
    after = (_calls(conn, REPORT_SQL), _calls(replica_conn, REPORT_SQL))
    assert after[0] == before[0], "the primary ran the report"
    assert after[1] == before[1] + 1, "the replica did not run the report"
    # Its connection is the reports' own, read-only.
    assert replica_conn.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'ebs-web-reports'"
        " AND usename = 'ebs_web' AND datname = current_database()").fetchone()[0] >= 1
    # The CSV streams from the replica too, and so does the dashboard.
    csv_before = _calls(replica_conn, REPORT_SQL)
    assert "1234.50" in client.get(REPORT_PAGE + "&format=csv").get_data(as_text=True)
    assert _calls(replica_conn, REPORT_SQL) == csv_before + 1
    dash = (_calls(conn, DASHBOARD_SQL), _calls(replica_conn, DASHBOARD_SQL))
    assert client.get("/").status_code == 200
    assert (_calls(conn, DASHBOARD_SQL), _calls(replica_conn, DASHBOARD_SQL)) == (
        dash[0], dash[1] + 1)


def test_a_replica_replaying_too_far_behind_leaves_reports_to_the_primary(
        make_client, conn, replica_conn, payment, caplog):
    client = make_client(DB_REPLICA_MAX_LAG_SECONDS=1)
    wait_replayed(conn, replica_conn)
    assert client.get(REPORT_PAGE).status_code == 200  # on the replica
    replica_conn.execute("SELECT pg_wal_replay_pause()")
    try:
        # A payment the standby receives but does not replay.
        conn.execute(
            "INSERT INTO ledger_entries (account_id, kind, amount, idempotency_key,"
            " effective_at) SELECT id, 'payment', 100.00, 'rep-p2', %s FROM accounts"
            " WHERE contract = '90001'", (datetime(2026, 10, 16, 12, tzinfo=UTC),))
        time.sleep(1.5)
        primary_before = _calls(conn, REPORT_SQL)
        with caplog.at_level(logging.INFO, logger="webapp.report_db"):
            page = client.get(REPORT_PAGE)
        assert page.status_code == 200
        assert "1,334.50\xa0RUB" in page.text  # the primary's figures, the new payment in
        assert _calls(conn, REPORT_SQL) == primary_before + 1
        assert "reports read the primary" in caplog.text and "behind" in caplog.text
    finally:
        replica_conn.execute("SELECT pg_wal_replay_resume()")
    wait_replayed(conn, replica_conn)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="webapp.report_db"):
        replica_before = _calls(replica_conn, REPORT_SQL)
        assert "1,334.50\xa0RUB" in client.get(REPORT_PAGE).text
    assert _calls(replica_conn, REPORT_SQL) == replica_before + 1
    assert "reports read the replica" in caplog.text


def test_with_the_replica_stopped_the_report_answers_from_the_primary(
        make_client, standby, conn, replica_conn, payment, caplog):
    client = make_client(DB_REPLICA_RETRY_SECONDS=600)
    wait_replayed(conn, replica_conn)
    server = standby[0]
    server.stop()
    try:
        primary_before = _calls(conn, REPORT_SQL)
        with caplog.at_level(logging.WARNING, logger="webapp.report_db"):
            page = client.get(REPORT_PAGE)
        assert page.status_code == 200 and "1,234.50\xa0RUB" in page.text
        assert _calls(conn, REPORT_SQL) == primary_before + 1
        assert "reports read the primary" in caplog.text
        assert "does not answer" in caplog.text
        # Back, it is left alone until DB_REPLICA_RETRY_SECONDS pass: no page waits on
        # a connection to a replica that just failed.
        server.start()
        assert client.get(REPORT_PAGE).status_code == 200
        assert _calls(conn, REPORT_SQL) == primary_before + 2
    finally:
        server.start()


def test_a_server_that_is_no_standby_is_passed_over(make_client, pg_server, payment,
                                                   caplog):
    """DB_REPLICA_HOST naming a primary (a standby promoted, a typo) serves no report."""
    with caplog.at_level(logging.WARNING, logger="webapp.report_db"):
        client = make_client(DB_REPLICA_PORT=pg_server.port)
        assert "1,234.50\xa0RUB" in client.get(REPORT_PAGE).text
    assert "is not a standby" in caplog.text


def test_cli_refuses_a_used_directory_and_an_unreachable_primary(
        pg_server, tmp_path, monkeypatch, db):
    from tests.conftest import ebs_env

    for name, value in ebs_env(db).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("EBS_STATE_DIR", str(tmp_path / "state"))
    used = tmp_path / "used"
    used.mkdir()
    (used / "notes.txt").write_text("an operator's file")
    admin = pg_server.admin_conninfo()
    result = CliRunner().invoke(cli, ["db", "replica", "setup", "--datadir", str(used),
                                      "--primary-admin", admin, "--no-start"])
    assert result.exit_code == 1
    assert "is not empty and holds no standby" in result.output
    assert (used / "notes.txt").exists()
    closed = free_port()
    result = CliRunner().invoke(cli, [
        "db", "replica", "setup", "--datadir", str(tmp_path / "new"), "--no-start",
        "--primary-admin", f"host=127.0.0.1 port={closed} user=postgres dbname=postgres"])
    assert result.exit_code == 1
    assert "cannot reach the primary" in result.output
    assert not (tmp_path / "new").exists()


def test_cli_makes_starts_keeps_and_forgets_a_standby(pg_server, tmp_path, monkeypatch, db):
    """``ebs db replica`` end to end on the test cluster, as on the local stack: its state
    directory is the cluster's, so the replication role's password file is the one the
    module's standby was made with."""
    from tests.conftest import ebs_env

    for name, value in ebs_env(db).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("EBS_STATE_DIR", str(pg_server.secrets.parent))
    slot, port = f"ebs_cli_{uuid.uuid4().hex[:8]}", free_port()
    where = ["--datadir", str(tmp_path / "standby"), "--port", str(port)]
    primary = ["--primary-admin", pg_server.admin_conninfo(), "--primary-host", "127.0.0.1",
               "--primary-port", str(pg_server.port)]
    runner = CliRunner()
    try:
        made = runner.invoke(cli, ["db", "replica", "setup", *where, *primary, "--slot", slot])
        assert made.exit_code == 0, made.output
        assert f"standby made: {tmp_path / 'standby'}, slot {slot}" in made.output
        assert f"standby running on port {port}" in made.output
        again = runner.invoke(cli, ["db", "replica", "setup", *where, *primary, "--slot", slot])
        assert again.exit_code == 0 and "standby kept" in again.output, again.output

        def status_says(text: str, seconds: float) -> None:
            deadline = time.monotonic() + seconds
            while True:
                status = runner.invoke(cli, ["db", "replica", "status", "--primary-admin",
                                             pg_server.admin_conninfo()])
                if text in status.output:
                    return
                assert time.monotonic() < deadline, status.output
                time.sleep(0.1)

        status_says(f"{slot}: streaming from 127.0.0.1", 20)
        stopped = runner.invoke(cli, ["db", "replica", "stop", *where])
        assert stopped.exit_code == 0, stopped.output
        # the primary's sender notices the standby gone
        status_says(f"{slot}: not connected; its slot keeps", 10)
    finally:
        runner.invoke(cli, ["db", "replica", "stop", *where])
        dropped = runner.invoke(cli, ["db", "replica", "drop-slot", "--slot", slot,
                                      "--primary-admin", pg_server.admin_conninfo()])
    assert f"slot {slot} dropped" in dropped.output


def _tick_load(conn, count: int) -> None:
    """``count`` subscribers on a tariff with a monthly fee charged at the period's start."""
    period = settlement_period(conn, anchor=datetime(2026, 1, 1, tzinfo=UTC))
    plan = tariff(conn)
    periodic_service(conn, plan, period, "300.00", "AT_START")
    conn.execute("INSERT INTO accounts (contract, login) SELECT 'L' || g, 'lag' || g"
                 " FROM generate_series(1, %s) g", (count,))
    conn.execute("INSERT INTO account_tariffs (account_id, tariff_id, assigned_at)"
                 " SELECT id, %s, '2026-01-01T00:00:00Z' FROM accounts"
                 " WHERE contract LIKE 'L%%'", (plan,))


class LagSampler(threading.Thread):
    """Samples the primary's WAL positions (inserted: commits included before the
    walwriter flushes them; flushed: what streaming can send) and the standby's replayed
    position every few milliseconds; :meth:`lags` gives, for each sample, how long the
    standby took to replay up to the primary's position then."""

    INSERTED, FLUSHED = 1, 2
    REPLAYED, RECEIVED = 3, 4

    def __init__(self, primary_conninfo: str, standby_conninfo: str) -> None:
        super().__init__(daemon=True)
        self.primary = psycopg.connect(primary_conninfo, autocommit=True)
        self.standby = psycopg.connect(standby_conninfo, autocommit=True)
        self.samples: list[tuple[float, int, int, int, int]] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            inserted = _primary_lsn(self.primary)
            flushed = _lsn(self.primary, "SELECT pg_current_wal_flush_lsn()::text")
            replayed = _replayed_lsn(self.standby)
            received = _lsn(self.standby, "SELECT pg_last_wal_receive_lsn()::text")
            self.samples.append((time.monotonic(), inserted, flushed, replayed, received))
            time.sleep(0.005)

    def stop(self) -> None:
        self.done.set()
        self.join()
        self.primary.close()
        self.standby.close()

    def lags(self, position: int, reached: int = REPLAYED) -> list[float]:
        """Sorted seconds from each sample to the first sample whose ``reached`` position
        on the standby (REPLAYED or RECEIVED) reached ``position`` (INSERTED or FLUSHED)
        of it."""
        out, j = [], 0
        for sample in self.samples:
            while j < len(self.samples) and self.samples[j][reached] < sample[position]:
                j += 1
            if j == len(self.samples):
                break
            out.append(max(self.samples[j][0] - sample[0], 0.0))
        return sorted(out)


def _ms(values: list[float], share: float) -> float:
    return round(1000 * values[min(int(len(values) * share), len(values) - 1)], 1)


def test_replay_lag_under_a_charge_tick(standby, db, conn, replica_conn, artefacts):
    _tick_load(conn, LAG_ACCOUNTS)
    wait_replayed(conn, replica_conn)
    start_lsn = _primary_lsn(conn)
    sampler = LagSampler(db, standby[0].admin_conninfo(_dbname(db)))
    sampler.start()
    started = time.monotonic()
    summary = charge(conn, datetime(2026, 1, 2, tzinfo=UTC), ZoneInfo("Europe/Moscow"))
    tick_seconds = time.monotonic() - started
    catch_up = wait_replayed(conn, replica_conn)
    time.sleep(0.05)
    sampler.stop()
    assert summary.entries == LAG_ACCOUNTS
    assert replica_conn.execute(
        "SELECT count(*) FROM ledger_entries WHERE kind = 'charge_periodic'"
    ).fetchone()[0] == LAG_ACCOUNTS
    lags = sampler.lags(LagSampler.INSERTED)
    flushed = sampler.lags(LagSampler.FLUSHED)
    received = sampler.lags(LagSampler.FLUSHED, LagSampler.RECEIVED)
    behind = [sample[1] - sample[3] for sample in sampler.samples]
    figures = {
        "accounts": LAG_ACCOUNTS, "charges": summary.entries,
        "tick_seconds": round(tick_seconds, 3),
        "wal_bytes": _primary_lsn(conn) - start_lsn,
        "samples": len(lags),
        "replay_lag_p50_ms": _ms(lags, 0.5), "replay_lag_p95_ms": _ms(lags, 0.95),
        "replay_lag_max_ms": _ms(lags, 1.0),
        "replay_lag_from_flush_p50_ms": _ms(flushed, 0.5),
        "replay_lag_from_flush_p95_ms": _ms(flushed, 0.95),
        "replay_lag_from_flush_max_ms": _ms(flushed, 1.0),
        "receive_lag_from_flush_p95_ms": _ms(received, 0.95),
        "receive_lag_from_flush_max_ms": _ms(received, 1.0),
        "bytes_behind_max": max(behind),
        "catch_up_after_tick_ms": round(1000 * catch_up, 1),
    }
    (artefacts / "replica_lag.json").write_text(json.dumps(figures, indent=1) + "\n")
    print("replica lag under a charge tick:", json.dumps(figures))
    assert len(lags) > 10
    # Streaming keeps up with the tick: what the primary has flushed is on the standby
    # well within a second here, never seconds later.
    assert flushed[-1] < 5.0


def test_the_metrics_say_whether_the_replica_serves_and_how_far_behind(
        make_client, standby, conn, replica_conn):
    client = make_client()
    wait_replayed(conn, replica_conn)

    def scrape() -> dict:
        answer = client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"})
        assert answer.status_code == 200
        return {sample.name: sample.value for family in text_string_to_metric_families(
            answer.get_data(as_text=True)) for sample in family.samples}

    serving = scrape()
    assert serving["ebs_replica_serving_reports"] == 1
    assert 0 <= serving["ebs_replica_replay_lag_seconds"] < 5
    server = standby[0]
    server.stop()
    try:
        away = scrape()
        assert away["ebs_replica_serving_reports"] == 0
        assert "ebs_replica_replay_lag_seconds" not in away
    finally:
        server.start()
