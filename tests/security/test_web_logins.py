# ruff: noqa: F811  (pytest fixtures imported from tests.security.web_fixtures)
"""Password guessing against staff logins: throttled per address and per login, a lock
that grows with each failure and says so, every refusal audited, and the same hash work
whether a login exists or not. The windows move by clock, never by waiting."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest

from tests.security.web_fixtures import (  # noqa: F401  (fixtures)
    db,
    limits_clock,
    make_app,
    staff,
    web_settings,
    web_state,
    web_template,
)
from tests.web.api_tools import LOGIN
from tests.web.conftest import CASHIER, login
from webapp import login_guard

TIGHT = {"WEB_LOGIN_LOCKOUT_FAILURES": 3, "WEB_LOGIN_LOCKOUT_SECONDS": 60,
         "WEB_LOGIN_LOCKOUT_MAX_SECONDS": 600, "WEB_LOGIN_RATE_LIMIT": "10 per 10 minutes",
         "WEB_LOGIN_RATE_LIMIT_PER_LOGIN": "6 per 10 minutes"}


def _api_login(client, password: str, username: str = CASHIER[0]):
    return client.post(LOGIN, json={"username": username, "password": password,
                                    "provider": "db"})


def _audit(conn, action: str) -> list[dict]:
    return [row[0] for row in conn.execute(
        "SELECT new_values FROM staff_audit_log WHERE action = %s ORDER BY id", (action,))]


@pytest.fixture
def later(monkeypatch, limits_clock):
    """Moves both clocks, the locks' and the rate limits', forward."""
    real_now = login_guard.now

    def move(seconds: float) -> None:
        limits_clock.offset += seconds
        moved = real_now() + timedelta(seconds=limits_clock.offset)
        monkeypatch.setattr(login_guard, "now", lambda: moved)

    return move


def test_a_brute_force_run_is_locked_then_throttled_and_the_owner_gets_in_later(
        make_app, conn, later):
    client = make_app(**TIGHT).test_client()
    statuses = [_api_login(client, f"guess-{n}").status_code for n in range(2)]
    assert statuses == [401, 401]

    # The third failure locks the login, and says so and until when.
    locked = _api_login(client, "guess-3")
    assert locked.status_code == 429 and locked.json["reason"] == "login_locked"
    assert "locked for 60 more seconds" in locked.json["message"]
    # Locked, even the right password is refused.
    assert _api_login(client, CASHIER[1]).json["reason"] == "login_locked"
    for n in (5, 6):
        assert _api_login(client, f"guess-{n}").json["reason"] == "login_locked"
    # The per-login limit (6 failed attempts) stops the run before any password check.
    throttled = _api_login(client, "guess-7")
    assert throttled.status_code == 429 and throttled.json["reason"] == "too_many_attempts"
    later(120)  # the lock is over, the rate window not yet
    assert _api_login(client, CASHIER[1]).json["reason"] == "too_many_attempts"

    later(11 * 60)  # the window has moved past every failure
    assert _api_login(client, CASHIER[1]).status_code == 200

    refusals = _audit(conn, "login_refused")
    assert [r["reason"] for r in refusals] == ["wrong_password"] * 3 + ["locked"] * 3
    assert all(r["login"] == "cashier" and r["address"] == "127.0.0.1" for r in refusals)
    locks = _audit(conn, "lockout")
    assert [lock["failures"] for lock in locks] == [3]


def test_the_lock_grows_with_each_further_failure(make_app, staff, later):
    app = make_app(**{**TIGHT, "WEB_LOGIN_RATE_LIMIT_PER_LOGIN": "100 per minute",
                      "WEB_LOGIN_RATE_LIMIT": "100 per minute"})
    client = app.test_client()
    for n in range(3):
        _api_login(client, f"guess-{n}")
    later(61)
    again = _api_login(client, "guess-4")
    assert again.status_code == 429 and "locked for 120 more seconds" in again.json["message"]


def test_the_login_form_says_the_login_is_locked(make_app, conn, later):
    client = make_app(**TIGHT).test_client()
    for n in range(2):
        login(client, CASHIER[0], f"guess-{n}")
    page = login(client, CASHIER[0], "guess-3")
    assert "Too many failed logins: this login is locked for 60 more seconds" in page.text
    later(61)
    assert login(client, *CASHIER).request.path == "/cashier/"  # in: the desk


def test_an_address_is_throttled_across_logins(make_app):
    client = make_app(**{**TIGHT, "WEB_LOGIN_RATE_LIMIT": "4 per 10 minutes"}).test_client()
    for n in range(4):
        assert _api_login(client, "x", username=f"nobody-{n}").status_code == 401
    over = _api_login(client, "x", username="nobody-9")
    assert over.status_code == 429, over.text
    assert over.json["reason"] == "too_many_attempts"
    page = login(client, "somebody", "x")  # the UI form shares the address's count
    assert "Too many login attempts" in page.text
    # Another address is not held back.
    client.environ_base["REMOTE_ADDR"] = "192.0.2.44"
    assert _api_login(client, CASHIER[1]).status_code == 200


@pytest.fixture
def hash_calls(monkeypatch):
    calls: list[tuple] = []
    real = hashlib.pbkdf2_hmac

    def counting(name, password, salt, iterations, *args):
        calls.append((name, iterations))
        return real(name, password, salt, iterations, *args)

    monkeypatch.setattr(hashlib, "pbkdf2_hmac", counting)
    return calls


def test_unknown_logins_cost_the_same_hash_work_as_known_ones(make_app, hash_calls, conn):
    client = make_app(**TIGHT).test_client()

    def work(username: str) -> list[tuple]:
        hash_calls.clear()
        assert _api_login(client, "wrong-Password-1", username=username).status_code in (
            401, 429)
        return list(hash_calls)

    known = work(CASHIER[0])
    assert known, "a login checks a password hash"
    assert work("no-such-person") == known
    conn.execute("UPDATE ab_user SET active = false WHERE username = 'auditor'")
    assert work("auditor") == known
    work(CASHIER[0])  # the third failure locks the login
    assert work(CASHIER[0]) == known  # a locked login costs the same too
