"""A subscriber never sees or acts on another's data: every cabinet route, taken from the
app's URL map (a new route is walked without anyone adding it here), is called while
logged in as A with every parameter filled with B's objects.

* A route with a path parameter pointing at an object (its name from the vocabulary
  below: a route whose parameter is not in it fails the walk, so that it is added here
  with B's object) answers 403 or 404 to GET and to POST.
* A route without one is called with B's objects in the query string and, for POST,
  in the form as well (with A's CSRF token): the answer shows nothing of B, and B's
  state is the same afterwards.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from billing import ledger
from tests.integration.charging_helpers import assign, tariff
from tests.web.cabinet_helpers import cabinet_login, subscriber
from tests.web.conftest import csrf_token

# Routes that act on no account: the login form, logout, the language switch.
OPEN_ENDPOINTS = {"cabinet.login", "cabinet.logout", "cabinet.language", "cabinet.static"}
# What of B may never reach A's pages.
B_NAME = "Beatrice Zzyzx"
B_PHONE = "+79990001122"
B_EMAIL = "zzyzx@example.org"
B_IP = "10.99.88.77"
B_ENTRY_TEXT = "zzyzx-entry-text"
B_MARKERS = (B_NAME, B_PHONE, B_EMAIL, B_IP, B_ENTRY_TEXT)
NOW = datetime.now(UTC)
_PARAMETER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")  # <name> or <converter:name>


def make_b(conn) -> dict:
    """B with one object of every kind the vocabulary names; returns their values."""
    b_id, _, _ = subscriber(conn, full_name=B_NAME)
    conn.execute("UPDATE accounts SET phone = %s, email = %s WHERE id = %s",
                 (B_PHONE, B_EMAIL, b_id))
    b_tariff = tariff(conn)
    assign(conn, b_id, b_tariff, NOW - timedelta(days=40))
    entry = ledger.post(conn, ledger.Entry(b_id, "payment", Decimal("123.45"),
                                           f"iso:{uuid.uuid4()}", NOW - timedelta(days=1),
                                           description=B_ENTRY_TEXT))
    common = ("nas_ip, username, framed_ip, started_at, account_id, acct_session_id,"
              " acct_unique_id")
    conn.execute(f"INSERT INTO sessions_history ({common}, stopped_at) VALUES"
                 " ('10.0.0.1', 'bz', %s, %s, %s, 'bz-1', 'bz-u1', %s)",
                 (B_IP, NOW - timedelta(hours=5), b_id, NOW - timedelta(hours=4)))
    conn.execute(f"INSERT INTO sessions_open ({common}, updated_at) VALUES"
                 " ('10.0.0.1', 'bz', %s, %s, %s, 'bz-2', 'bz-u2', %s)",
                 (B_IP, NOW - timedelta(hours=1), b_id, NOW))
    order = conn.execute(
        "INSERT INTO gateway_payments (backend, provider_txn_id, account_id, amount, currency)"
        " VALUES ('payments.w1ru', %s, %s, 50, 'RUB') RETURNING id, provider_txn_id",
        (f"w1-{uuid.uuid4()}", b_id)).fetchone()
    other = tariff(conn)
    change = conn.execute(
        "INSERT INTO tariff_changes (account_id, from_tariff_id, to_tariff_id, effective_at,"
        " requested_at, source) VALUES (%s, %s, %s, %s, %s, 'matrix') RETURNING id",
        (b_id, b_tariff, other, NOW + timedelta(days=5), NOW)).fetchone()[0]
    suspension = conn.execute(
        "INSERT INTO account_suspensions (account_id, tariff_id, starts_at, planned_until,"
        " requested_by) VALUES (%s, %s, %s, %s, 'subscriber') RETURNING id",
        (b_id, b_tariff, NOW + timedelta(days=1), NOW + timedelta(days=8))).fetchone()[0]
    promise = conn.execute(
        "INSERT INTO promised_payments (account_id, amount, taken_at, expires_at)"
        " VALUES (%s, 10, %s, %s) RETURNING id",
        (b_id, NOW - timedelta(days=1), NOW + timedelta(days=4))).fetchone()[0]
    contract = conn.execute("SELECT contract FROM accounts WHERE id = %s",
                            (b_id,)).fetchone()[0]
    return {
        "account": b_id,
        "values": {
            "session_id": ["bz-u1", "bz-u2", "bz-1"],
            "entry_id": [str(entry.id)],
            "contract": [contract],
            "payment_id": [str(order[0])],
            "order_id": [order[1], str(order[0])],
            "tariff_id": [str(b_tariff)],
            "change_id": [str(change)],
            "card_number": ["0007-000001"],
            "suspension_id": [str(suspension)],
            "promise_id": [str(promise)],
            "account_id": [str(b_id)],
        },
    }


def state_of(conn, account_id: int) -> tuple:
    """Everything of B that an action of A could change."""
    return conn.execute(
        """
        SELECT a.balance, a.status, a.phone, a.email, a.password_hash, a.full_name,
               (SELECT count(*) FROM ledger_entries WHERE account_id = a.id),
               (SELECT count(*) FROM account_tariffs WHERE account_id = a.id),
               (SELECT array_agg(status ORDER BY id) FROM tariff_changes
                 WHERE account_id = a.id),
               (SELECT array_agg(coalesce(ended_at::text, '') ORDER BY id)
                  FROM account_suspensions WHERE account_id = a.id),
               (SELECT array_agg(coalesce(closed_at::text, '') ORDER BY id)
                  FROM promised_payments WHERE account_id = a.id),
               (SELECT array_agg(state ORDER BY id) FROM gateway_payments
                 WHERE account_id = a.id),
               (SELECT count(*) FROM sessions_open WHERE account_id = a.id)
          FROM accounts a WHERE a.id = %s
        """, (account_id,)).fetchone()


def cabinet_rules(app) -> list:
    rules = [rule for rule in app.url_map.iter_rules()
             if rule.endpoint.startswith("cabinet.") and rule.endpoint not in OPEN_ENDPOINTS]
    assert rules, "the walk found no cabinet pages"
    return sorted(rules, key=lambda rule: rule.rule)


def urls_for(rule, values: dict) -> list[str]:
    """The rule's URL once per B value of each of its arguments."""
    unknown = set(rule.arguments) - set(values)
    assert not unknown, (
        f"{rule.rule}: parameter(s) {sorted(unknown)} are not in the isolation walk's "
        "vocabulary; name them from it, or add B's object for them here")
    urls = []
    for name in sorted(rule.arguments):
        for value in values[name]:
            args = {arg: values[arg][0] for arg in rule.arguments}
            args[name] = value
            urls.append(_PARAMETER.sub(lambda m, args=args: str(args[m.group(1)]),
                                       rule.rule))
    return urls


def query_string(values: dict) -> str:
    return "&".join(f"{name}={vals[0]}" for name, vals in values.items())


def shows_nothing_of_b(answer, where: str) -> None:
    body = answer.get_data(as_text=True)
    for marker in B_MARKERS:
        assert marker not in body, f"{where} shows B's {marker!r}"


@pytest.fixture
def walk(app, conn):
    a_id, a_login, a_password = subscriber(conn, full_name="Alice Able")
    a_tariff = tariff(conn)
    assign(conn, a_id, a_tariff, NOW - timedelta(days=40))
    b = make_b(conn)
    client = app.test_client()
    assert cabinet_login(client, a_login, a_password).status_code == 200
    return client, b


def test_every_cabinet_route_refuses_or_hides_another_subscribers_objects(app, conn, walk):
    client, b = walk
    values = b["values"]
    before = state_of(conn, b["account"])
    token = csrf_token(client.get("/cabinet/").get_data(as_text=True))
    walked = []
    for rule in cabinet_rules(app):
        methods = rule.methods - {"HEAD", "OPTIONS"}
        if rule.arguments:
            for url in urls_for(rule, values):
                for method in sorted(methods):
                    answer = client.open(url, method=method,
                                         data={"csrf_token": token} if method == "POST"
                                         else None)
                    assert answer.status_code in (403, 404), (method, url, answer.status_code)
                    walked.append((method, url))
            continue
        url = f"{rule.rule}?{query_string(values)}"
        if "GET" in methods:
            answer = client.get(url)
            assert answer.status_code < 500, (url, answer.status_code)
            shows_nothing_of_b(answer, f"GET {url}")
            walked.append(("GET", url))
        if "POST" in methods:
            form = {name: vals[0] for name, vals in values.items()}
            answer = client.post(url, data={**form, "csrf_token": token, "confirm": "1"})
            assert answer.status_code < 500, (url, answer.status_code)
            shows_nothing_of_b(answer, f"POST {url}")
            walked.append(("POST", url))
        # A still holds the session (no route logged A out or into B).
        assert client.get("/cabinet/").status_code == 200
    assert state_of(conn, b["account"]) == before, "an action of A changed B"
    print(f"walked {len(walked)} requests over {len(cabinet_rules(app))} routes")


def test_the_walk_fills_parameters_and_fails_an_unknown_one(app, conn):
    """The walk itself: it builds B's URLs for a parameter it knows and refuses to
    pass over one it does not (so a new route cannot slip through unfilled)."""
    from werkzeug.routing import Map, Rule

    rules = Map([Rule("/cabinet/orders/<order_id>/return", endpoint="x"),
                 Rule("/cabinet/things/<int:thing>", endpoint="y")])
    known, unknown = list(rules.iter_rules())
    values = {"order_id": ["w1-b", "7"]}
    assert urls_for(known, values) == ["/cabinet/orders/w1-b/return",
                                       "/cabinet/orders/7/return"]
    with pytest.raises(AssertionError, match="vocabulary"):
        urls_for(unknown, values)


# Posts that change nothing and may come from a provider's page: LiqPay may post its
# result to the order's page, which only reads our database (webapp/cabinet/pay.py).
CSRF_EXEMPT = {"cabinet.pay_order"}


def test_every_cabinet_form_needs_its_csrf_token(app, conn, walk):
    client, b = walk
    values = b["values"]
    posts = [rule for rule in app.url_map.iter_rules()
             if rule.endpoint.startswith("cabinet.") and "POST" in rule.methods
             and rule.endpoint not in CSRF_EXEMPT]
    assert len(posts) >= 8, [rule.rule for rule in posts]
    for rule in posts:
        url = urls_for(rule, values)[0] if rule.arguments else rule.rule
        form = {name: vals[0] for name, vals in values.items()}
        answer = client.post(url, data={**form, "confirm": "1"})
        assert answer.status_code == 400, (rule.rule, answer.status_code)
