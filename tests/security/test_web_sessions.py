# ruff: noqa: F811  (pytest fixtures imported from tests.security.web_fixtures)
"""Sessions and tokens end when what they were granted on changes: a password change, a
logout, a deactivation, a source network no longer allowed (checked on every request, answered
with the generic failure). Changing one's password takes the current one. Every answer
carries the security headers, and the session cookie its flags."""

from __future__ import annotations

from tests.security.web_fixtures import (  # noqa: F401  (fixtures)
    db,
    make_app,
    staff,
    web_settings,
    web_state,
    web_template,
)
from tests.web.api_tools import LOGIN, Api
from tests.web.conftest import CASHIER, csrf_token, login

NEW = "cashier-Secret-2"
REFRESH = "/api/v1/security/refresh"


def _tokens(client, password: str = CASHIER[1]) -> dict:
    answer = client.post(LOGIN, json={"username": CASHIER[0], "password": password,
                                      "provider": "db", "refresh": True})
    assert answer.status_code == 200, answer.text
    return answer.json


def _refresh(client, tokens: dict) -> int:
    return client.post(REFRESH, headers={
        "Authorization": f"Bearer {tokens['refresh_token']}"}).status_code


def _in_session(client) -> bool:
    return client.get("/cashier/", follow_redirects=False).status_code == 200


def test_a_password_change_ends_refresh_tokens_and_other_sessions(make_app):
    app = make_app()
    browser, other, api_client = app.test_client(), app.test_client(), app.test_client()
    login(browser, *CASHIER)
    login(other, *CASHIER)
    tokens = _tokens(api_client)
    assert _refresh(api_client, tokens) == 200 and _in_session(other)

    api = Api(api_client, tokens["access_token"])
    changed = api.post("/api/v1/me/password", {"current_password": CASHIER[1],
                                               "password": NEW})
    assert changed.status_code == 200
    assert _refresh(api_client, tokens) == 401
    assert not _in_session(browser) and not _in_session(other)
    assert _refresh(api_client, _tokens(api_client, NEW)) == 200

    # Changed in the browser: that session goes on, the others end.
    login(browser, CASHIER[0], NEW)
    login(other, CASHIER[0], NEW)
    form = browser.get("/resetmypassword/form")
    browser.post("/resetmypassword/form", data={
        "current_password": NEW, "password": CASHIER[1], "conf_password": CASHIER[1],
        "csrf_token": csrf_token(form.text)})
    assert _in_session(browser) and not _in_session(other)


def test_deactivation_ends_sessions_and_tokens(make_app, conn):
    app = make_app()
    browser, api_client = app.test_client(), app.test_client()
    login(browser, *CASHIER)
    tokens = _tokens(api_client)
    conn.execute("UPDATE ab_user SET active = false WHERE username = 'cashier'")
    assert not _in_session(browser)
    assert _refresh(api_client, tokens) == 401
    assert Api(api_client, tokens["access_token"]).get("/api/v1/me/").status_code == 401


def test_a_logout_ends_copies_of_the_session_and_refresh_tokens(make_app):
    app = make_app()
    browser, thief, api_client = app.test_client(), app.test_client(), app.test_client()
    login(browser, *CASHIER)
    tokens = _tokens(api_client)
    thief.set_cookie("session", browser.get_cookie("session").value)
    assert _in_session(thief)
    browser.get("/logout/")
    assert not _in_session(thief) and not _in_session(browser)
    assert _refresh(api_client, tokens) == 401
    login(browser, *CASHIER)  # a new login works as before
    assert _in_session(browser)


def test_a_password_change_needs_the_current_password(make_app):
    app = make_app()
    api_client, browser = app.test_client(), app.test_client()
    api = Api(api_client, _tokens(api_client)["access_token"])
    missing = api.post("/api/v1/me/password", {"password": NEW})
    assert missing.status_code == 400 and "current_password" in missing.json["errors"]
    wrong = api.post("/api/v1/me/password", {"current_password": "not-it-at-all",
                                             "password": NEW})
    assert wrong.status_code == 400
    assert wrong.json["errors"]["current_password"] == ["The current password is wrong."]

    login(browser, *CASHIER)
    form = browser.get("/resetmypassword/form")
    refused = browser.post("/resetmypassword/form", data={
        "current_password": "not-it-at-all", "password": NEW, "conf_password": NEW,
        "csrf_token": csrf_token(form.text)})
    assert "The current password is wrong." in refused.text
    # Nothing changed: the old password still logs in, the new one does not.
    assert _tokens(app.test_client())
    assert app.test_client().post(LOGIN, json={"username": CASHIER[0], "password": NEW,
                                               "provider": "db"}).status_code == 401


def _network(conn, network: str) -> None:
    conn.execute("INSERT INTO staff_networks (role_id, network)"
                 " VALUES ((SELECT id FROM ab_role WHERE name = 'Cashier'), %s)", (network,))


def test_the_staff_network_rule_holds_on_every_later_request(make_app, conn):
    app = make_app()
    browser, api_client = app.test_client(), app.test_client()
    for client in (browser, api_client):
        client.environ_base["REMOTE_ADDR"] = "10.20.5.6"
    login(browser, *CASHIER)
    tokens = _tokens(api_client)
    _network(conn, "10.20.0.0/16")
    assert _in_session(browser) and _refresh(api_client, tokens) == 200

    for client in (browser, api_client):
        client.environ_base["REMOTE_ADDR"] = "10.30.1.1"
    page = browser.get("/cashier/", follow_redirects=True)
    assert page.request.path == "/login/"
    assert "Invalid login. Please try again." in page.text and "10.30" not in page.text
    assert _refresh(api_client, tokens) == 401
    assert Api(api_client, tokens["access_token"]).get("/api/v1/me/").status_code == 401


def test_forwarded_for_is_believed_only_from_a_trusted_proxy(make_app, conn):
    _network(conn, "10.20.0.0/16")
    app = make_app(WEB_TRUSTED_PROXIES=["192.0.2.1"])
    client = app.test_client()
    inside = {"X-Forwarded-For": "10.20.5.6"}
    client.environ_base["REMOTE_ADDR"] = "198.51.100.7"  # not a proxy: header ignored
    assert client.post(LOGIN, json={"username": CASHIER[0], "password": CASHIER[1],
                                    "provider": "db"}, headers=inside).status_code == 401
    client.environ_base["REMOTE_ADDR"] = "192.0.2.1"
    assert client.post(LOGIN, json={"username": CASHIER[0], "password": CASHIER[1],
                                    "provider": "db"}, headers=inside).status_code == 200
    spoofed = {"X-Forwarded-For": "10.20.5.6, 198.51.100.7"}  # the client wrote the left
    assert client.post(LOGIN, json={"username": CASHIER[0], "password": CASHIER[1],
                                    "provider": "db"}, headers=spoofed).status_code == 401


def test_security_headers_and_cookie_flags(make_app):
    client = make_app(WEB_HTTPS=True).test_client()
    page = client.get("/login/")
    for response in (page, client.get("/api/v1/me/")):
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
        policy = response.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in policy
        assert "http" not in policy and "*" not in policy  # no origin but our own
    assert "'unsafe-inline'" in page.headers["Content-Security-Policy"]
    assert client.get("/api/v1/me/").headers["Content-Security-Policy"].startswith(
        "default-src 'none'")
    cookie = page.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie
    plain = make_app(WEB_HTTPS=False).test_client().get("/login/")
    assert "Secure" not in plain.headers["Set-Cookie"]
