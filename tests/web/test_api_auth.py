"""Token login (FAB's JWT) and the forced password change, which the API cannot bypass:
a login with a documented default password gets a token that every resource refuses
with 403 until the password changes; refreshing the token does not lift it."""

from __future__ import annotations

from billing.staff import ensure_staff
from tests.web.api_tools import LOGIN, Api, api_as, token
from tests.web.conftest import login

ME = "/api/v1/me/"


def test_login_gives_a_token_and_a_wrong_password_gets_401(client):
    api = api_as(client, "Cashier")
    me = api.get(ME)
    assert me.status_code == 200
    assert me.json["username"] == "cashier" and me.json["roles"] == ["Cashier"]
    assert me.json["password_change_required"] is False
    wrong = client.post(LOGIN, json={"username": "cashier", "password": "nope-nope-1",
                                     "provider": "db"})
    assert wrong.status_code == 401
    assert client.get("/api/v1/account/").status_code == 401  # no token
    bad = client.get("/api/v1/account/", headers={"Authorization": "Bearer not.a.jwt"})
    assert bad.status_code in (401, 422)


def test_a_browser_session_does_not_open_the_api(client, conn):
    login(client, "cashier", "cashier-Secret-1")
    assert client.get("/cashier/").status_code == 200
    assert client.get("/api/v1/account/").status_code == 401
    account = conn.execute("INSERT INTO accounts (contract, login) VALUES ('B-1', 'b1')"
                           " RETURNING id").fetchone()[0]
    paid = client.post(f"/api/v1/account/{account}/payment",
                       json={"amount": "10.00", "idempotency_key": "k1"})
    assert paid.status_code == 401
    assert conn.execute("SELECT count(*) FROM ledger_entries").fetchone()[0] == 0


def test_default_password_locks_every_resource_until_it_is_changed(client, conn):
    ensure_staff(conn, "chief", "admin", "Admin")  # the documented default password
    response = client.post(LOGIN, json={"username": "chief", "password": "admin",
                                        "provider": "db", "refresh": True})
    assert response.status_code == 200
    api = Api(client, response.json["access_token"])
    for url in ("/api/v1/account/", "/api/v1/tariff/", "/api/v1/ledger/",
                "/api/v1/session/", "/api/v1/_openapi"):
        locked = api.get(url)
        assert locked.status_code == 403, url
        assert locked.json["reason"] == "password_change_required"
        assert "/api/v1/me/password" in locked.json["message"]
    assert api.post("/api/v1/account/1/payment", {"amount": "1.00",
                                                  "idempotency_key": "x"}).status_code == 403
    assert api.get(ME).json["password_change_required"] is True

    # A refreshed access token carries the lock on.
    refresh = response.json["refresh_token"]
    renewed = client.post("/api/v1/security/refresh",
                          headers={"Authorization": f"Bearer {refresh}"})
    assert renewed.status_code == 200
    assert Api(client, renewed.json["access_token"]).get(
        "/api/v1/account/").status_code == 403

    # A weak new password is refused with the field's message; a good one lifts the lock
    # for the token in hand.
    weak = api.post("/api/v1/me/password", {"current_password": "admin",
                                          "password": "changeme"})
    assert weak.status_code == 400
    assert "documented default" in weak.json["errors"]["password"][0]
    assert api.post("/api/v1/me/password", {}).json["errors"]["password"]
    assert api.get("/api/v1/account/").status_code == 403
    done = api.post("/api/v1/me/password", {"current_password": "admin",
                                          "password": "Chief-Secret-9"})
    assert done.status_code == 200
    assert api.get("/api/v1/account/").status_code == 200
    assert Api(client, renewed.json["access_token"]).get(
        "/api/v1/account/").status_code == 200

    # The old password no longer logs in; the new one does, unlocked.
    old = client.post(LOGIN, json={"username": "chief", "password": "admin",
                                   "provider": "db"})
    assert old.status_code == 401
    fresh = Api(client, token(client, "chief", "Chief-Secret-9"))
    assert fresh.get(ME).json["password_change_required"] is False
    row = conn.execute("SELECT action, object_type, new_values FROM staff_audit_log"
                       " WHERE object_type = 'ab_user'").fetchone()
    assert row == ("edit", "ab_user", {"password": "***"})


def test_a_password_changed_in_the_browser_lifts_the_lock_too(client, conn):
    from tests.web.conftest import csrf_token

    ensure_staff(conn, "chief", "admin", "Admin")
    api = Api(client, token(client, "chief", "admin"))
    assert api.get("/api/v1/account/").status_code == 403
    page = login(client, "chief", "admin")
    client.post("/resetmypassword/form", data={
        "current_password": "admin", "password": "Chief-Secret-9",
        "conf_password": "Chief-Secret-9", "csrf_token": csrf_token(page.text)})
    assert api.get("/api/v1/account/").status_code == 200
