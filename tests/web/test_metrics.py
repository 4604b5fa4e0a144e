"""GET /metrics scraped and parsed as Prometheus parses it: the figures of a database and
a broker holding known rows come out with their labels and values; an address outside
METRICS_NETWORKS finds nothing there; a broker that is away is counted as a problem and
the database's figures still come."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from billing import health
from stack import health as host_health

REDIS_DB = 5  # apart from the queues other tests read


@pytest.fixture
def web_settings(web_settings, redis_server):
    web_settings.REDIS_HOST = "127.0.0.1"
    web_settings.REDIS_PORT = redis_server.port
    web_settings.REDIS_DB = REDIS_DB
    web_settings.REDIS_PASSWORD = redis_server.password
    return web_settings


@pytest.fixture
def broker(redis_server):
    client = redis.Redis(host="127.0.0.1", port=redis_server.port, db=REDIS_DB,
                         password=redis_server.password)
    client.flushdb()
    yield client
    client.flushdb()


def scrape(client, address: str = "127.0.0.1") -> dict:
    """{(metric name, labels as a sorted tuple): value} of one scrape."""
    answer = client.get("/metrics", environ_base={"REMOTE_ADDR": address})
    assert answer.status_code == 200, answer.status_code
    assert answer.content_type.startswith("text/plain; version=")
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(answer.get_data(as_text=True))
            for sample in family.samples}


def _rows(conn) -> None:
    now = datetime.now(UTC)
    nas = conn.execute("INSERT INTO nas (name, vendor, ip_address, secret)"
                       " VALUES ('bras-1', 'mikrotik', '10.9.0.1', 'metrics-secret-0123456789')"
                       " RETURNING id").fetchone()[0]
    account = conn.execute("INSERT INTO accounts (contract, login) VALUES ('m1', 'm1')"
                           " RETURNING id").fetchone()[0]
    conn.execute("INSERT INTO charge_runs (charged_to, started_at, finished_at)"
                 " VALUES (%s, %s, %s)", (now - timedelta(minutes=5), now - timedelta(
                     seconds=70), now - timedelta(seconds=60)))
    conn.execute("INSERT INTO auth_log (username, reason, accepted) VALUES"
                 " ('a', 'ok', true), ('b', 'ok', true), ('c', 'wrong_password', false),"
                 " ('d', 'ok', true)")
    conn.execute("INSERT INTO auth_log (logged_at, username, reason, accepted)"
                 " VALUES (now() - interval '1 hour', 'old', 'wrong_password', false)")
    conn.execute("INSERT INTO coa_requests (acct_unique_id, desired_state, kind, state,"
                 " result, finished_at) VALUES ('s1', 'off', 'disconnect', 'done', 'ACK',"
                 " now()), ('s2', 'off', 'disconnect', 'done', 'timeout', now()),"
                 " ('s3', 'off', 'disconnect', 'sending', NULL, NULL)")
    conn.execute("INSERT INTO gateway_payments (backend, provider_txn_id, account_id,"
                 " amount, currency, state) VALUES ('getpaid.backends.qiwi', 't1', %s,"
                 " 100, 'RUB', 'paid')", (account,))
    conn.execute("INSERT INTO gateway_notifications (backend, method, path, outcome)"
                 " VALUES ('getpaid.backends.qiwi', 'POST', '/x', 'refused:forbidden'),"
                 " ('getpaid.backends.qiwi', 'POST', '/x', 'ok')")
    conn.execute("INSERT INTO sessions_open (acct_unique_id, acct_session_id, nas_id,"
                 " nas_ip, started_at, updated_at) VALUES ('u1', 's1', %s, '10.9.0.1',"
                 " now() - interval '1 hour', now() - interval '20 minutes')", (nas,))
    conn.execute("INSERT INTO traffic_reconciliation (kind, nas_id, period_start,"
                 " accounting_bytes, flow_bytes, difference, state, checked_at)"
                 " VALUES ('exporter', %s, now() - interval '2 hours', 0, 5, 5, 'silent',"
                 " now())", (nas,))
    conn.execute("INSERT INTO messages (idempotency_key, channel, backend, recipient, body,"
                 " due_at) VALUES ('k1', 'sms', 'sms.ru', '+79160000000', 'x', now())")


def test_the_figures_come_out_with_their_labels(client, conn, broker, tmp_path):
    _rows(conn)
    broker.rpush(health.CELERY_QUEUE, b"{}", b"{}", b"{}")
    broker.set(health.WORKER_SEEN_KEY, datetime.now(UTC).timestamp() - 30)
    # A FreeRADIUS host's drain publishes its spool's backlog as it measures it.
    spool = tmp_path / "spool"
    spool.mkdir()
    (spool / "detail-20261207-1500").write_bytes(b"x" * 1234)
    host_health.publish_spool(broker, host_health.spool_backlog(spool, conn), "radius-1")

    metrics = scrape(client)
    assert metrics[("ebs_up", ())] == 1 and metrics[("ebs_problems", ())] == 0
    assert metrics[("ebs_celery_queue_depth", ())] == 3
    assert 30 <= metrics[("ebs_worker_last_seen_seconds", ())] < 60
    assert 60 <= metrics[("ebs_charge_tick_age_seconds", ())] < 90
    assert metrics[("ebs_auth_requests_5m", (("accepted", "true"), ("reason", "ok")))] == 3
    assert metrics[("ebs_auth_requests_5m", (("accepted", "false"),
                                             ("reason", "wrong_password")))] == 1
    assert metrics[("ebs_auth_rate", ())] == pytest.approx(4 / 300)
    assert {k[1][0][1]: v for k, v in metrics.items() if k[0] == "ebs_coa_requests_1h"} == {
        "ACK": 1, "timeout": 1, "pending": 1}
    assert metrics[("ebs_gateway_payments_1h", (("backend", "getpaid.backends.qiwi"),
                                                ("state", "paid")))] == 1
    assert metrics[("ebs_gateway_callbacks_1h", (("backend", "getpaid.backends.qiwi"),
                                                 ("outcome", "refused")))] == 1
    assert metrics[("ebs_reconciliation_attention_1d", (("state", "silent"),))] == 1
    assert 1190 < metrics[("ebs_nas_accounting_age_seconds", (("nas", "bras-1"),))] < 1300
    assert metrics[("ebs_acct_spool_files", (("host", "radius-1"),))] == 1
    assert metrics[("ebs_acct_spool_bytes", (("host", "radius-1"),))] == 1234
    assert metrics[("ebs_acct_spool_oldest_seconds", (("host", "radius-1"),))] < 60
    assert metrics[("ebs_messages_queued", ())] == 1


def test_only_the_metrics_networks_find_the_endpoint(client):
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.0.0.5"}).status_code == 404
    assert scrape(client, "::1")[("ebs_up", ())] == 1


def test_a_broker_away_is_a_problem_and_the_rest_still_comes(client, conn, web_settings):
    web_settings.REDIS_PORT = 1  # nothing listens there
    _rows(conn)
    metrics = scrape(client)
    assert metrics[("ebs_problems", ())] == 1
    assert ("ebs_celery_queue_depth", ()) not in metrics
    assert metrics[("ebs_messages_queued", ())] == 1
    lines = health.lines(host_health.snapshot(web_settings, conn))
    assert any(line.startswith("problem") and "broker" in line for line in lines)
    assert any("wrong_password 1" in line for line in lines)
    assert any(line.startswith("accounting spool") for line in lines)  # measured here


def test_answer_times_per_nas_are_quantiles_of_the_last_five_minutes(client, conn):
    conn.execute("INSERT INTO nas (name, vendor, ip_address, secret)"
                 " VALUES ('bras-2', 'mikrotik', '10.9.0.2', 'metrics-secret-0123456789')")
    conn.execute("INSERT INTO auth_log (username, nas_ip, reason, accepted, answer_us)"
                 " SELECT 'u' || us, '10.9.0.2', 'ok', true, us"
                 "   FROM unnest(ARRAY[1000, 2000, 3000, 4000, 100000]) AS us")
    # A sender not in the nas table is named by its address; a row from the auth spool
    # (no answer time) and an hour-old row are not counted.
    conn.execute("INSERT INTO auth_log (username, nas_ip, reason, accepted, answer_us)"
                 " VALUES ('x', '192.0.2.9', 'unknown_nas', false, 500),"
                 " ('spooled', '10.9.0.2', 'degraded', true, NULL)")
    conn.execute("INSERT INTO auth_log (logged_at, username, nas_ip, reason, accepted,"
                 " answer_us) VALUES (now() - interval '1 hour', 'old', '10.9.0.2', 'ok',"
                 " true, 9000000)")
    metrics = scrape(client)
    times = {labels: value for (name, labels), value in metrics.items()
             if name == "ebs_radius_auth_answer_seconds_5m"}
    # percentile_cont over 1, 2, 3, 4 and 100 ms
    assert times[(("nas", "bras-2"), ("quantile", "0.5"))] == pytest.approx(0.003)
    assert times[(("nas", "bras-2"), ("quantile", "0.95"))] == pytest.approx(0.0808)
    assert times[(("nas", "bras-2"), ("quantile", "0.99"))] == pytest.approx(0.09616)
    assert times[(("nas", "192.0.2.9"), ("quantile", "0.5"))] == pytest.approx(0.0005)
    assert metrics[("ebs_radius_auth_answered_5m", (("nas", "bras-2"),))] == 5
    assert metrics[("ebs_radius_auth_answered_5m", (("nas", "192.0.2.9"),))] == 1
    lines = health.lines(health.snapshot(conn, None))
    assert f"{'NAS bras-2':24} 5 logins answered in p50 3.0 / p95 80.8 / p99 96.2 ms" \
        " (last 5 min)" in lines
