"""Accounts, tariffs, the ledger and the online sessions as REST resources: indexed
filters, server-side pages, money as strings, Admin's audited writes with field
messages, read-only ledger and sessions, and a fixed number of queries per list call."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.web.api_tools import api_as


def _seed(conn, count: int, start: int = 0) -> None:
    conn.execute(
        """
        INSERT INTO accounts (contract, login, full_name, phone, street)
        SELECT (50000 + g)::text, 'l' || g, 'Абонент ' || g, '+7900' || g, 'ул. ' || g
          FROM generate_series(%s::int, %s::int) g
        """, (start + 1, start + count))
    conn.execute(
        """
        INSERT INTO ledger_entries (account_id, kind, amount, idempotency_key, effective_at)
        SELECT id, 'payment', 100.10, 'seed:' || id, %s FROM accounts WHERE id > %s
        """, (datetime.now(UTC), start))
    conn.execute(
        """
        INSERT INTO sessions_open (acct_unique_id, acct_session_id, nas_ip, username,
                                   framed_ip, account_id, started_at, updated_at)
        SELECT 's' || id, 'a' || id, '10.9.0.1', login, '100.64.0.0'::inet + id::int, id,
               now(), now()
          FROM accounts WHERE id > %s
        """, (start,))
    conn.execute("INSERT INTO tariffs (name) SELECT 'T' || g FROM generate_series(%s::int,"
                 " %s::int) g", (start + 1, start + count))


def test_account_search_on_indexed_columns_with_pages(client, conn, staff):
    _seed(conn, 30)
    api = api_as(client, "ReadOnly")
    flt = lambda col, opr, value: {"filters": [{"col": col, "opr": opr, "value": value}]}  # noqa: E731
    for query in (flt("contract", "eq", "50007"), flt("login", "eq", "l7"),
                  flt("phone", "eq", "+79007")):
        found = api.get("/api/v1/account/", **query)
        assert found.status_code == 200, found.text
        assert [row["contract"] for row in found.json["result"]] == ["50007"], query
        assert found.json["count"] == 1
    named = api.get("/api/v1/account/", **flt("full_name", "lsw", "абонент 1"))
    assert named.json["count"] == 11  # 1, 10..19
    # A filter an index does not serve is not offered.
    assert api.get("/api/v1/account/", **flt("comment", "eq", "x")).status_code == 400
    assert api.get("/api/v1/account/", order_column="comment",
                   order_direction="asc").status_code == 400

    first = api.get("/api/v1/account/", page=0, page_size=10)
    second = api.get("/api/v1/account/", page=1, page_size=10)
    assert first.json["count"] == 30 and len(first.json["result"]) == 10
    assert not {r["id"] for r in first.json["result"]} & {r["id"] for r in second.json["result"]}
    assert len(api.get("/api/v1/account/", page_size=1000).json["result"]) == 30  # capped 100
    row = first.json["result"][0]
    assert row["balance"] == "100.10" and row["credit"] == "0.00"  # strings, never floats
    shown = api.get(f"/api/v1/account/{row['id']}")
    assert shown.status_code == 200 and shown.json["result"]["balance"] == "100.10"
    assert "password_hash" not in shown.json["result"]


def test_admin_writes_accounts_and_tariffs_with_field_messages_and_audit(client, conn, staff):
    api = api_as(client, "Admin")
    bad = api.post("/api/v1/account/", {"contract": "C-1", "login": "c1",
                                        "status": "suspended", "credit": "-1.00"})
    assert bad.status_code == 400
    assert set(bad.json["errors"]) == {"status", "credit"}
    made = api.post("/api/v1/account/", {"contract": "C-1", "login": "c1",
                                         "full_name": "Иванов", "credit": "50.00"})
    assert made.status_code == 201, made.text
    account = made.json["id"]
    clash = api.post("/api/v1/account/", {"contract": "C-1", "login": "c2"})
    assert clash.status_code == 409 and "C-1" in clash.json["message"]
    edited = api.put(f"/api/v1/account/{account}", {"phone": "+79001234567"})
    assert edited.status_code == 200, edited.text
    assert api.put(f"/api/v1/account/{account}", {"balance": "1000.00"}).status_code == 400
    assert conn.execute("SELECT phone, balance, credit FROM accounts").fetchone() == (
        "+79001234567", 0, 50)
    audit = conn.execute("SELECT action, object_type FROM staff_audit_log ORDER BY id").fetchall()
    assert audit == [("add", "accounts"), ("edit", "accounts")]

    tariff = api.post("/api/v1/tariff/", {"name": "Home 100", "package_cost": "500.00"})
    assert tariff.status_code == 201, tariff.text
    shown = api.get(f"/api/v1/tariff/{tariff.json['id']}").json["result"]
    assert shown["package_cost"] == "500.00" and shown["settlement_period_id"] is None
    negative = api.post("/api/v1/tariff/", {"name": "X", "package_cost": "-1.00"})
    assert negative.status_code == 400 and "negative" in negative.json["errors"][
        "package_cost"][0]
    assert api.open(f"/api/v1/account/{account}", "DELETE").status_code in (404, 405)


def test_ledger_and_sessions_are_read_only(client, conn, staff):
    _seed(conn, 3)
    account = conn.execute("SELECT min(id) FROM accounts").fetchone()[0]
    api = api_as(client, "Admin")
    entries = api.get("/api/v1/ledger/", filters=[
        {"col": "account_id", "opr": "eq", "value": account}])
    assert entries.status_code == 200, entries.text
    assert [(e["account_id"], e["amount"]) for e in entries.json["result"]] == [
        (account, "100.10")]
    entry = entries.json["result"][0]["id"]
    assert api.get(f"/api/v1/ledger/{entry}").json["result"]["idempotency_key"] == \
        f"seed:{account}"
    for method, url in (("POST", "/api/v1/ledger/"), ("PUT", f"/api/v1/ledger/{entry}"),
                        ("DELETE", f"/api/v1/ledger/{entry}"), ("POST", "/api/v1/session/")):
        assert api.open(url, method, {"amount": "1.00"}).status_code in (404, 405), url
    sessions = api.get("/api/v1/session/", filters=[
        {"col": "username", "opr": "eq", "value": "l2"}])
    assert sessions.status_code == 200, sessions.text
    [online] = sessions.json["result"]
    assert online["acct_unique_id"] == f"s{account + 1}" and online["framed_ip"].startswith(
        "100.64.")
    assert conn.execute("SELECT count(*) FROM ledger_entries").fetchone()[0] == 3


# Statements per list call, measured: the token's user, FAB's public-role lookup, the
# user's roles and groups, their permissions (one query), the capped count, the page.
BUDGET = {"/api/v1/account/": 7, "/api/v1/ledger/": 7, "/api/v1/tariff/": 7,
          "/api/v1/session/": 7}


@pytest.mark.parametrize("url", sorted(BUDGET))
def test_queries_per_list_call_are_fixed(client, conn, staff, count_queries, url):
    api = api_as(client, "Cashier")
    _seed(conn, 2)

    def count() -> int:
        with count_queries() as seen:
            assert api.get(url, page_size=25).status_code == 200
        return seen.count

    small = count()
    _seed(conn, 300, start=2)
    conn.execute("ANALYZE")
    large = count()
    assert large == small, f"{url}: {small} queries with 2 rows, {large} with 302"
    assert large <= BUDGET[url], f"{url}: {large} queries, budget {BUDGET[url]}"
