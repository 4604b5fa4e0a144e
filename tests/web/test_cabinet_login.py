"""The cabinet's login: the account's cabinet password, its own session cookie that no
staff view reads (and the staff's that the cabinet ignores), the lock after wrong
passwords, logout ending every session."""

from __future__ import annotations

import re
from datetime import timedelta

from tests.web.cabinet_helpers import cabinet_login, subscriber
from tests.web.conftest import ADMIN, csrf_token, login
from webapp import login_guard


def test_login_shows_the_overview_with_the_balance(client, conn):
    _, name, password = subscriber(conn)
    answer = cabinet_login(client, name, password)
    assert answer.status_code == 200
    assert 'id="cabinet-balance" data-value="0.00"' in answer.text
    cookies = {c.key: c for c in client._cookies.values()}
    assert "ebs_cabinet" in cookies and cookies["ebs_cabinet"].path == "/cabinet"
    assert "session" not in cookies  # nothing of a staff session was started


def test_wrong_password_and_unknown_login_read_the_same(client, conn):
    _, name, _ = subscriber(conn)
    wrong = cabinet_login(client, name, "not-it")
    unknown = cabinet_login(client, "nobody-here", "not-it")
    for answer in (wrong, unknown):
        assert answer.status_code == 200
        assert "Wrong login or password." in answer.text
        assert 'id="cabinet-balance"' not in answer.text


def test_a_network_password_is_not_a_cabinet_password(client, conn):
    account_id, name, _ = subscriber(conn)
    conn.execute("UPDATE accounts SET password_hash = '' WHERE id = %s", (account_id,))
    answer = cabinet_login(client, name, "anything")
    assert "Wrong login or password." in answer.text
    assert 'id="cabinet-balance"' not in answer.text


def test_pages_need_a_login_and_come_back_after_it(client, conn):
    _, name, password = subscriber(conn)
    first = client.get("/cabinet/")
    assert first.status_code == 302 and "/cabinet/login?next=" in first.headers["Location"]
    page = client.get(first.headers["Location"])
    answer = client.post(first.headers["Location"],
                         data={"username": name, "password": password,
                               "csrf_token": csrf_token(page.text)})
    assert answer.status_code == 303 and answer.headers["Location"] == "/cabinet/"


def test_next_never_leaves_the_cabinet(app, conn):
    _, name, password = subscriber(conn)
    for target in ("https://evil.example/", "//evil.example/cabinet/", "/admin/"):
        client = app.test_client()
        page = client.get("/cabinet/login")
        answer = client.post("/cabinet/login?next=" + target,
                             data={"username": name, "password": password,
                                   "csrf_token": csrf_token(page.text)})
        assert answer.status_code == 303
        assert answer.headers["Location"] == "/cabinet/", target


def test_staff_session_opens_no_cabinet_and_cabinet_session_no_staff_view(app, conn):
    _, name, password = subscriber(conn)
    staff = app.test_client()
    login(staff, *ADMIN)
    assert staff.get("/accountview/list/").status_code == 200
    assert staff.get("/cabinet/").status_code == 302  # the admin is no subscriber

    cab = app.test_client()
    assert cabinet_login(cab, name, password).status_code == 200
    # The subscriber's browser sends its cookie only under /cabinet; even sent on
    # purpose to a staff page, it is not a staff session.
    cookie = next(c for c in cab._cookies.values() if c.key == "ebs_cabinet")
    stranger = app.test_client()
    stranger.set_cookie("session", cookie.value)
    answer = stranger.get("/accountview/list/")
    assert answer.status_code in (302, 401, 403)
    assert "/login" in answer.headers.get("Location", "/login")


def test_wrong_passwords_lock_the_login_until_a_time(client, conn, app, monkeypatch):
    _, name, password = subscriber(conn)
    failures = int(app.config["EBS_LOGIN_LOCKOUT_FAILURES"])
    for _ in range(failures):
        cabinet_login(client, name, "wrong")
    locked = cabinet_login(client, name, password)
    assert "locked" in locked.text and 'id="cabinet-balance"' not in locked.text
    until = conn.execute("SELECT locked_until FROM cabinet_logins c JOIN accounts a"
                         " ON a.id = c.account_id WHERE a.login = %s", (name,)).fetchone()[0]
    assert until is not None
    later = until + timedelta(seconds=1)
    monkeypatch.setattr(login_guard, "now", lambda: later)
    assert 'id="cabinet-balance"' in cabinet_login(client, name, password).text
    row = conn.execute("SELECT failures, locked_until FROM cabinet_logins c JOIN accounts a"
                       " ON a.id = c.account_id WHERE a.login = %s", (name,)).fetchone()
    assert row == (0, None)


def test_logout_ends_every_session_of_the_account(app, conn):
    _, name, password = subscriber(conn)
    phone, desktop = app.test_client(), app.test_client()
    cabinet_login(phone, name, password)
    cabinet_login(desktop, name, password)
    page = desktop.get("/cabinet/")
    assert page.status_code == 200
    desktop.post("/cabinet/logout", data={"csrf_token": csrf_token(page.text)})
    assert desktop.get("/cabinet/").status_code == 302
    assert phone.get("/cabinet/").status_code == 302


def test_a_password_change_elsewhere_ends_the_session(client, conn):
    account_id, name, password = subscriber(conn)
    cabinet_login(client, name, password)
    assert client.get("/cabinet/").status_code == 200
    conn.execute("UPDATE accounts SET password_hash = password_hash || 'x' WHERE id = %s",
                 (account_id,))
    assert client.get("/cabinet/").status_code == 302


def test_logout_needs_the_csrf_token(client, conn):
    _, name, password = subscriber(conn)
    cabinet_login(client, name, password)
    assert client.post("/cabinet/logout").status_code == 400
    assert client.get("/cabinet/").status_code == 200


def test_language_switch_speaks_russian(client, conn):
    _, name, password = subscriber(conn)
    cabinet_login(client, name, password)
    assert '<html lang="en">' in client.get("/cabinet/").text
    client.get("/cabinet/language/ru")
    page = client.get("/cabinet/").text
    assert "Баланс" in page and '<html lang="ru">' in page


def test_guessing_from_one_address_is_slowed_to_a_429(client, conn):
    """More failed logins than the per-address limit (20 per 10 minutes by default),
    each for a different unknown login so that no account lock plays a part."""
    answers = [cabinet_login(client, f"guess{n}", "x", follow=False) for n in range(21)]
    assert [a.status_code for a in answers[:20]] == [200] * 20
    assert answers[20].status_code == 303
    assert answers[20].headers["Location"].endswith("/cabinet/login")
    assert "Too many login attempts" in client.get("/cabinet/login").text


def test_the_menu_marks_the_page_and_its_tabs(client, conn):
    _, name, password = subscriber(conn)
    cabinet_login(client, name, password)
    for path, entry in (("/cabinet/", "/cabinet/"), ("/cabinet/suspension", "/cabinet/tariff"),
                        ("/cabinet/transfer", "/cabinet/promise")):
        menu = client.get(path).text.split('id="cabinet-menu"', 1)[1].split("</ul>", 1)[0]
        active = re.findall(r'<li class="active">\s*<a href="([^"]+)"', menu)
        assert active == [entry], (path, active)
