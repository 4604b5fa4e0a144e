"""Operations pages: Disconnect and speed re-apply reach the real Redis broker as named
tasks, NAS edits announce themselves, the auth log filters, the lists stay bounded."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
import redis

from stack.servers.base import free_port
from tests.web.conftest import CASHIER, READONLY, csrf_token, login, submit

QUEUE = "celery"  # the default queue: a Redis list of kombu messages


@pytest.fixture
def web_settings(web_settings, redis_server):
    web_settings.REDIS_HOST = "127.0.0.1"
    web_settings.REDIS_PORT = redis_server.port
    web_settings.REDIS_DB = 0
    web_settings.REDIS_PASSWORD = redis_server.password
    return web_settings


@pytest.fixture
def broker(redis_server):
    client = redis.Redis.from_url(redis_server.url)
    client.delete(QUEUE)
    yield client
    client.delete(QUEUE)


def queued(broker) -> list[tuple[str, list]]:
    """(task name, positional args) of each message waiting on the default queue."""
    found = []
    for raw in broker.lrange(QUEUE, 0, -1):
        message = json.loads(raw)
        body = message["body"]
        if message["properties"].get("body_encoding") == "base64":
            body = base64.b64decode(body)
        args, _kwargs, _embed = json.loads(body)
        found.append((message["headers"]["task"], args))
    return found


def _nas(conn) -> int:
    return conn.execute(
        "INSERT INTO nas (name, vendor, ip_address, secret) "
        "VALUES ('core', 'mikrotik', '10.9.0.1', 'secret-123-16-ch') RETURNING id").fetchone()[0]


def _sessions(conn, count: int, start: int = 0, nas_ip: str = "10.9.0.1") -> None:
    conn.execute(
        """
        INSERT INTO sessions_open (acct_unique_id, acct_session_id, nas_ip, username,
                                   framed_ip, started_at, updated_at)
        SELECT 'sess-' || g, 'a' || g, %s::inet, 'user' || g,
               '100.64.0.0'::inet + g, now() - g * interval '1 minute', now()
          FROM generate_series(%s::int, %s::int) g
        """,
        (nas_ip, start + 1, start + count),
    )


def _action(client, view: str, name: str, rowid: str, follow: bool = True):
    listing = client.get(f"/{view}/list/")
    return client.post(f"/{view}/action_post", data={
        "csrf_token": csrf_token(listing.text), "action": name, "rowid": rowid},
        follow_redirects=follow)


def test_disconnect_sends_one_kick_task_for_the_session(as_admin, conn, broker):
    _sessions(conn, 3)
    page = _action(as_admin, "opensessionview", "kick", "sess-2")
    assert "Disconnect requested for 1 session(s)." in page.text
    assert queued(broker) == [("ebs.kick_session", ["sess-2"])]


def test_reapply_speed_sends_change_speed(as_admin, conn, broker):
    _sessions(conn, 2)
    page = _action(as_admin, "opensessionview", "change_speed", "sess-1")
    assert "Speed change requested for 1 session(s)." in page.text
    assert queued(broker) == [("ebs.change_speed", ["sess-1"])]


@pytest.mark.parametrize("credentials", [CASHIER, READONLY])
def test_cashier_and_readonly_see_sessions_but_cannot_kick(client, conn, broker, credentials):
    _sessions(conn, 1)
    login(client, *credentials)
    listing = client.get("/opensessionview/list/")
    assert listing.status_code == 200 and "user1" in listing.text
    assert "Disconnect" not in listing.text
    token = csrf_token(client.get("/resetmypassword/form").text)
    for name in ("kick", "change_speed"):
        refused = client.post("/opensessionview/action_post",
                              data={"csrf_token": token, "action": name, "rowid": "sess-1"})
        assert refused.status_code in (302, 403)
    assert queued(broker) == []


def test_nas_edit_announces_the_change_once(as_admin, conn, broker):
    nas = _nas(conn)
    submit(as_admin, f"/nasview/edit/{nas}", {
        "name": "core-2", "vendor": "mikrotik", "ip_address": "10.9.0.1",
        "secret": "secret-123-16-ch", "coa_port": "3799", "acct_interim_interval": "300",
        "description": ""})
    assert conn.execute("SELECT name FROM nas").fetchone()[0] == "core-2"
    assert sorted(queued(broker)) == [("ebs.flow_changed", []), ("ebs.nas_changed", [nas])]


def test_nas_add_and_delete_announce_too(as_admin, conn, broker):
    submit(as_admin, "/nasview/add", {
        "name": "edge", "vendor": "cisco", "ip_address": "10.9.0.2", "secret": "secret-456-16-ch",
        "description": ""})
    nas = conn.execute("SELECT id FROM nas WHERE name = 'edge'").fetchone()[0]
    listing = as_admin.get("/nasview/list/")
    as_admin.post(f"/nasview/delete/{nas}", data={"csrf_token": csrf_token(listing.text)})
    assert conn.execute("SELECT count(*) FROM nas").fetchone()[0] == 0
    assert sorted(queued(broker)) == [("ebs.flow_changed", [])] * 2 + [
        ("ebs.nas_changed", [nas])] * 2


def test_session_search_by_login_ip_and_nas(as_admin, conn, broker):
    _sessions(conn, 3)
    _sessions(conn, 1, start=3, nas_ip="10.9.0.7")
    by_login = as_admin.get("/opensessionview/list/?_flt_0_username=user2").text
    assert "user2" in by_login and "user3" not in by_login
    by_ip = as_admin.get("/opensessionview/list/?_flt_0_framed_ip=100.64.0.3").text
    assert "user3" in by_ip and "user2" not in by_ip
    by_nas = as_admin.get("/opensessionview/list/?_flt_0_nas_ip=10.9.0.7").text
    assert "user4" in by_nas and "user1" not in by_nas


def _auth(conn, username: str, reason: str, accepted: bool, at: datetime) -> None:
    conn.execute("INSERT INTO auth_log (logged_at, username, reason, accepted) "
                 "VALUES (%s, %s, %s, %s)", (at, username, reason, accepted))


def _reasons(html: str) -> list[str]:
    """The reason cells of the list, top to bottom (the search form lists them all too)."""
    return re.findall(r">\s*(Accepted|Wrong password|Negative balance|Unknown login)\s*</td>",
                      html)


def test_auth_log_filters_by_login_and_reason_newest_first(as_admin, conn):
    now = datetime.now(UTC)
    _auth(conn, "ivanov", "wrong_password", False, now - timedelta(minutes=5))
    _auth(conn, "ivanov", "ok", True, now - timedelta(minutes=1))
    _auth(conn, "petrov", "balance_negative", False, now - timedelta(minutes=3))
    everyone = as_admin.get("/authlogview/list/").text
    assert _reasons(everyone) == ["Accepted", "Negative balance", "Wrong password"]
    ivanov = as_admin.get("/authlogview/list/?_flt_0_username=ivanov").text
    assert _reasons(ivanov) == ["Accepted", "Wrong password"]
    debtors = as_admin.get("/authlogview/list/?_flt_0_reason=balance_negative").text
    assert _reasons(debtors) == ["Negative balance"]
    assert "petrov" in debtors and "ivanov" not in debtors


def test_auth_log_filters_by_nas_on_its_index(as_admin, conn):
    """The search form offers each NAS by name; choosing one lists that NAS's requests
    only, newest first, read from the (nas_ip, logged_at) index."""
    now = datetime.now(UTC)
    conn.execute("INSERT INTO nas (name, ip_address, secret) VALUES "
                 "('Север', '10.20.0.1', 'north-secret-16chars'), "
                 "('Юг', '10.20.0.2', 'south-secret-16chars')")
    for minutes, user, nas in ((5, "north1", "10.20.0.1"), (3, "south1", "10.20.0.2"),
                               (1, "north2", "10.20.0.1")):
        conn.execute("INSERT INTO auth_log (logged_at, username, nas_ip, reason, accepted) "
                     "VALUES (%s, %s, %s, 'ok', true)",
                     (now - timedelta(minutes=minutes), user, nas))
    page = as_admin.get("/authlogview/list/").text
    # FAB's filter script carries each field's HTML as a JSON string.
    widget = json.loads(re.search(r'"nas_ip": ("<select.*?</select>")', page.replace(
        "\\u003c", "<").replace("\\u003e", ">")).group(1))
    assert re.findall(r'<option value="([^"]+)">([^<]+)</option>', widget) == [
        ("10.20.0.1", "Север (10.20.0.1)"), ("10.20.0.2", "Юг (10.20.0.2)")]
    north = as_admin.get("/authlogview/list/?_flt_0_nas_ip=10.20.0.1").text
    assert re.findall(r"(north\d|south\d)", north.split('class="table table-hover')[-1]) == \
        ["north2", "north1"]
    # Millions of rows: the planner must still pick the NAS's index for this filter.
    conn.execute("SET enable_seqscan = off")
    plan = "\n".join(r[0] for r in conn.execute(
        "EXPLAIN SELECT * FROM auth_log WHERE nas_ip = '10.20.0.1' "
        "ORDER BY logged_at DESC LIMIT 25"))
    conn.execute("RESET enable_seqscan")
    assert "auth_log_default_nas_ip_logged_at_idx" in plan or "nas_ip_logged_at_idx" in plan, plan


def test_cashier_reads_auth_log_and_leases(as_cashier, conn):
    _auth(conn, "ivanov", "unknown_login", False, datetime.now(UTC))
    assert _reasons(as_cashier.get("/authlogview/list/").text) == ["Unknown login"]
    pool = conn.execute("INSERT INTO ip_pools (name, kind, range_start, range_end) "
                        "VALUES ('P', 'ipv4_vpn', '10.1.0.1', '10.1.0.9') RETURNING id"
                        ).fetchone()[0]
    conn.execute("INSERT INTO ip_leases (pool_id, address, state, expires_at) "
                 "VALUES (%s, '10.1.0.5', 'active', now() + interval '1 hour'), "
                 "(%s, '10.1.0.6', 'free', now())", (pool, pool))
    leases = as_cashier.get("/ipleaseview/list/?_flt_0_address=10.1.0.5").text
    assert "10.1.0.5" in leases and "10.1.0.6" not in leases


# The auth log's search form lists the NASes: one statement more.
BUDGET = {"/opensessionview/list/": 6, "/authlogview/list/": 7, "/ipleaseview/list/": 6}


def _count(client, counter, url) -> int:
    with counter() as seen:
        assert client.get(url).status_code == 200, url
    return seen.count


@pytest.mark.parametrize("page", sorted(BUDGET))
def test_operations_lists_cost_the_same_at_any_size(as_admin, conn, count_queries, page):
    def seed(count, start):
        _sessions(conn, count, start)
        conn.execute("INSERT INTO auth_log (username, reason, accepted) "
                     "SELECT 'user' || g, 'ok', true FROM generate_series(%s::int, %s::int) g",
                     (start + 1, start + count))

    seed(2, 0)
    small = _count(as_admin, count_queries, page)
    seed(300, 2)
    conn.execute("ANALYZE sessions_open")
    large = _count(as_admin, count_queries, page)
    assert large == small, f"{page}: {small} queries with 2 rows, {large} with 302"
    assert large <= BUDGET[page], f"{page}: {large} queries, budget {BUDGET[page]}"


def test_without_a_broker_the_edit_stands_and_the_kick_says_so(app, as_admin, conn, broker):
    app.config["EBS_SETTINGS"].REDIS_PORT = free_port()  # nothing listens there
    nas = _nas(conn)
    submit(as_admin, f"/nasview/edit/{nas}", {
        "name": "core-3", "vendor": "mikrotik", "ip_address": "10.9.0.1",
        "secret": "secret-123-16-ch", "description": ""})
    assert conn.execute("SELECT name FROM nas").fetchone()[0] == "core-3"
    _sessions(conn, 1)
    page = _action(as_admin, "opensessionview", "kick", "sess-1")
    assert "The task queue is unavailable" in page.text
    assert queued(broker) == []


def test_the_pages_speak_russian(as_admin, conn):
    _auth(conn, "ivanov", "wrong_password", False, datetime.now(UTC))
    as_admin.get("/lang/ru")
    assert "Сессии онлайн" in as_admin.get("/opensessionview/list/").text
    log = as_admin.get("/authlogview/list/").text
    assert "Журнал авторизаций" in log and "Неверный пароль" in log
    assert "Аренды IP-адресов" in as_admin.get("/ipleaseview/list/").text


def test_kicking_a_session_that_has_closed_sends_nothing(as_admin, conn, broker):
    _sessions(conn, 1)
    listing = as_admin.get("/opensessionview/list/")
    conn.execute("DELETE FROM sessions_open")
    page = as_admin.post("/opensessionview/action_post", data={
        "csrf_token": csrf_token(listing.text), "action": "kick", "rowid": "sess-1"},
        follow_redirects=True)
    assert "The session is no longer online." in page.text
    assert queued(broker) == []


def test_auth_log_shows_each_answer_time_in_milliseconds(as_admin, conn):
    conn.execute("INSERT INTO auth_log (username, reason, accepted, answer_us) VALUES"
                 " ('quick', 'ok', true, 12345), ('spooled', 'degraded', true, NULL)")
    page = as_admin.get("/authlogview/list/").text
    assert "Answered in, ms" in page
    table = page.split('class="table table-hover')[-1]
    rows = {login: cells for login, cells in re.findall(
        r">\s*(quick|spooled)\s*</td>(.*?)</tr>", table, re.S)}
    assert re.findall(r"<td>\s*([\d.,]+)\s*</td>", rows["quick"])[-1] == "12.3"
    assert not re.search(r"<td>\s*[\d.,]+\s*</td>\s*$", rows["spooled"].strip())
