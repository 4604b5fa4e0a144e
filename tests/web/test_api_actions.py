"""The business actions through the REST API, against the real PostgreSQL (and Redis for
the kick): a payment with the client's idempotency key credits once however often it is
retried, bad input gets field messages, tariff changes follow the rule matrix, suspend
and resume follow the tariff, and each action leaves one audit row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tests.web.api_tools import api_as
from tests.web.test_operations import broker, queued, web_settings  # noqa: F401


def _account(conn, contract="A-1") -> int:
    return conn.execute("INSERT INTO accounts (contract, login) VALUES (%s, %s) RETURNING id",
                        (contract, contract.lower())).fetchone()[0]


def _balance(conn, account: int) -> Decimal:
    return conn.execute("SELECT balance FROM accounts WHERE id = %s", (account,)).fetchone()[0]


def _audit(conn, action: str) -> list[tuple]:
    return conn.execute("SELECT object_type, object_id, new_values FROM staff_audit_log"
                        " WHERE action = %s ORDER BY id", (action,)).fetchall()


def test_a_payment_credits_once_however_often_it_is_retried(client, conn, staff):
    account = _account(conn)
    api = api_as(client, "Cashier")
    url = f"/api/v1/account/{account}/payment"
    first = api.post(url, {"amount": "150.50", "idempotency_key": "bank-77"})
    assert first.status_code == 201, first.text
    entry = first.json["result"]
    assert entry["amount"] == "150.50" and entry["balance"] == "150.50"  # strings, not floats
    assert entry["kind"] == "payment" and entry["staff_user_id"] == staff["cashier"]
    assert _balance(conn, account) == Decimal("150.50")

    for _ in range(3):
        again = api.post(url, {"amount": "150.50", "idempotency_key": "bank-77"})
        assert again.status_code == 409
        assert again.json["matches_request"] is True
        assert again.json["result"]["id"] == entry["id"]
    other = api.post(url, {"amount": "99.00", "idempotency_key": "bank-77"})
    assert other.status_code == 409 and other.json["matches_request"] is False
    assert other.json["result"] == {**entry, "balance": "150.50"}
    assert _balance(conn, account) == Decimal("150.50")
    assert conn.execute("SELECT count(*) FROM ledger_entries").fetchone()[0] == 1
    assert [row[:2] for row in _audit(conn, "payment")] == [("ledger_entries", str(entry["id"]))]

    # Keys belong to their caller: another operator's "bank-77" is another payment.
    admin = api_as(client, "Admin")
    assert admin.post(url, {"amount": "10.00", "idempotency_key": "bank-77"}).status_code == 201
    assert _balance(conn, account) == Decimal("160.50")


BAD_PAYMENTS = [
    ({"amount": 150.5, "idempotency_key": "k"}, "amount", "as a string"),
    ({"amount": "0", "idempotency_key": "k"}, "amount", "greater than zero"),
    ({"amount": "-5.00", "idempotency_key": "k"}, "amount", "greater than zero"),
    ({"amount": "1.005", "idempotency_key": "k"}, "amount", "at most two decimals"),
    ({"amount": "ten", "idempotency_key": "k"}, "amount", "Not a valid amount"),
    ({"amount": "NaN", "idempotency_key": "k"}, "amount", "Not a valid amount"),
    ({"amount": "1e20", "idempotency_key": "k"}, "amount", "out of range"),
    ({"amount": "10.00"}, "idempotency_key", "Missing data"),
    ({"amount": "10.00", "idempotency_key": "has space"}, "idempotency_key", "letters"),
    ({"amount": "10.00", "idempotency_key": "k", "bonus": "1"}, "bonus", "Unknown field"),
]


def test_bad_payments_get_field_messages_and_post_nothing(client, conn, staff):
    account = _account(conn)
    api = api_as(client, "Cashier")
    for body, field, message in BAD_PAYMENTS:
        response = api.post(f"/api/v1/account/{account}/payment", body)
        assert response.status_code == 400, body
        assert message in " ".join(response.json["errors"][field]), (body, response.json)
    assert conn.execute("SELECT count(*) FROM ledger_entries").fetchone()[0] == 0


def test_not_json_and_unknown_account(client, conn, staff):
    api = api_as(client, "Cashier")
    account = _account(conn)
    broken = api.post(f"/api/v1/account/{account}/payment", raw="{not json")
    assert broken.status_code == 400 and "JSON object" in broken.json["message"]
    missing = api.post("/api/v1/account/999999/payment",
                       {"amount": "10.00", "idempotency_key": "k"})
    assert missing.status_code == 404 and "999999" in missing.json["message"]
    assert api.get("/api/v1/account/999999").status_code == 404
    assert conn.execute("SELECT count(*) FROM ledger_entries").fetchone()[0] == 0


def _tariffs(conn, effective="NOW"):
    period = conn.execute("INSERT INTO settlement_periods (name, unit, autostart, anchor)"
                          " VALUES ('month', 'MONTH', false, '2026-01-01Z') RETURNING id"
                          ).fetchone()[0]
    old, new = (conn.execute(
        "INSERT INTO tariffs (name, settlement_period_id, allow_self_suspension,"
        " suspension_max_days) VALUES (%s, %s, true, 30) RETURNING id", (name, period)
    ).fetchone()[0] for name in ("Old", "New"))
    conn.execute("INSERT INTO tariff_change_rules (from_tariff_id, to_tariff_id, allowed, cost,"
                 " min_balance, min_time_on_tariff, effective)"
                 " VALUES (%s, %s, true, 0, 0, '0', %s)", (old, new, effective))
    account = _account(conn)
    conn.execute("INSERT INTO account_tariffs (account_id, tariff_id, assigned_at)"
                 " VALUES (%s, %s, %s)", (account, old, datetime.now(UTC) - timedelta(days=3)))
    return account, old, new


def test_tariff_change_follows_the_rule_matrix(client, conn, staff):
    account, old, new = _tariffs(conn)
    api = api_as(client, "Cashier")
    url = f"/api/v1/account/{account}/tariff"
    assert api.post(url, {"tariff_id": "x"}).json["errors"]["tariff_id"]
    refused = api.post(url, {"tariff_id": old})
    assert refused.status_code == 422 and refused.json["reason"] == "same_tariff"
    done = api.post(url, {"tariff_id": new})
    assert done.status_code == 201, done.text
    assert done.json["result"]["applied"] is True and done.json["result"]["cost"] == "0.00"
    current = conn.execute("SELECT tariff_id FROM account_tariffs WHERE account_id = %s"
                           " ORDER BY assigned_at DESC LIMIT 1", (account,)).fetchone()[0]
    assert current == new
    back = api.post(url, {"tariff_id": old})  # no rule New -> Old
    assert back.status_code == 422 and back.json["reason"] == "not_allowed"
    assert api.post("/api/v1/account/999999/tariff", {"tariff_id": new}).status_code == 404
    assert len(_audit(conn, "tariff_change")) == 1


def test_a_change_at_the_next_period_is_scheduled(client, conn, staff):
    account, _old, new = _tariffs(conn, effective="NEXT_PERIOD")
    done = api_as(client, "Admin").post(f"/api/v1/account/{account}/tariff",
                                        {"tariff_id": new})
    assert done.status_code == 201, done.text
    result = done.json["result"]
    assert result["applied"] is False
    assert datetime.fromisoformat(result["effective_at"]) > datetime.now(UTC)
    assert conn.execute("SELECT status FROM tariff_changes").fetchone()[0] == "pending"


def test_suspend_and_resume_follow_the_tariff(client, conn, staff):
    account, _old, _new = _tariffs(conn)
    api = api_as(client, "Admin")
    assert api.post(f"/api/v1/account/{account}/suspend", {"days": 0}).json["errors"]["days"]
    too_long = api.post(f"/api/v1/account/{account}/suspend", {"days": 31})
    assert too_long.status_code == 422 and too_long.json["reason"] == "too_long"
    done = api.post(f"/api/v1/account/{account}/suspend", {"days": 7, "reason": "vacation"})
    assert done.status_code == 201, done.text
    assert done.json["result"]["cost"] == "0.00"
    assert conn.execute("SELECT status FROM accounts").fetchone()[0] == "suspended"
    again = api.post(f"/api/v1/account/{account}/suspend", {})
    assert again.status_code == 422 and again.json["reason"] == "already_suspended"
    resumed = api.post(f"/api/v1/account/{account}/resume")
    assert resumed.status_code == 200 and resumed.json["result"]["ended_at"]
    assert conn.execute("SELECT status FROM accounts").fetchone()[0] == "active"
    assert api.post(f"/api/v1/account/{account}/resume").json["reason"] == "not_suspended"
    assert api.post("/api/v1/account/999999/suspend", {}).status_code == 404
    assert [row[1] for row in _audit(conn, "suspend") + _audit(conn, "resume")] == [
        str(account), str(account)]


def _session(conn, unique_id="sess-1"):
    conn.execute("INSERT INTO sessions_open (acct_unique_id, acct_session_id, nas_ip, username,"
                 " started_at, updated_at) VALUES (%s, 'a1', '10.9.0.1', 'user1', now(), now())",
                 (unique_id,))


def test_kick_sends_the_task_after_the_audit_row_commits(client, conn, staff, broker):  # noqa: F811
    _session(conn)
    api = api_as(client, "Admin")
    done = api.post("/api/v1/session/sess-1/kick")
    assert done.status_code == 202, done.text
    assert queued(broker) == [("ebs.kick_session", ["sess-1"])]
    assert _audit(conn, "kick")[0][:2] == ("sessions_open", "sess-1")
    gone = api.post("/api/v1/session/sess-9/kick")
    assert gone.status_code == 404
    assert queued(broker) == [("ebs.kick_session", ["sess-1"])]
    cashier = api_as(client, "Cashier").post("/api/v1/session/sess-1/kick")
    assert cashier.status_code == 403
    assert len(queued(broker)) == 1 and len(_audit(conn, "kick")) == 1
