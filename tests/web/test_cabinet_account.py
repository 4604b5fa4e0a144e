"""The cabinet's password and contacts pages: the current password asked first, the change
ending every other session but this one; contacts checked and stored in one form."""

from __future__ import annotations

from billing.passwords import verify_password
from tests.web.cabinet_helpers import cabinet_login, cabinet_post, subscriber


def _hash(conn, account_id):
    return conn.execute("SELECT password_hash FROM accounts WHERE id = %s",
                        (account_id,)).fetchone()[0]


def test_a_password_change_keeps_this_session_and_ends_the_others(app, conn):
    account_id, name, old = subscriber(conn)
    here, elsewhere = app.test_client(), app.test_client()
    cabinet_login(elsewhere, name, old)
    cabinet_login(here, name, old)
    answer = cabinet_post(here, "/cabinet/password",
                          {"current_password": old, "new_password": "new-Secret-2",
                           "new_password_again": "new-Secret-2"})
    assert answer.status_code == 200
    assert "Your password is changed." in answer.text
    assert verify_password(_hash(conn, account_id), "new-Secret-2")
    assert here.get("/cabinet/").status_code == 200
    assert elsewhere.get("/cabinet/").status_code == 302
    # The same POST again: the current password is no longer the old one.
    again = cabinet_post(here, "/cabinet/password",
                         {"current_password": old, "new_password": "third-Secret-3",
                          "new_password_again": "third-Secret-3"})
    assert "This is not your current password." in again.text
    assert verify_password(_hash(conn, account_id), "new-Secret-2")
    fresh = app.test_client()
    assert 'id="cabinet-balance"' in cabinet_login(fresh, name, "new-Secret-2").text


def test_a_wrong_current_password_or_differing_new_ones_change_nothing(client, conn):
    account_id, name, old = subscriber(conn)
    cabinet_login(client, name, old)
    before = _hash(conn, account_id)
    wrong = cabinet_post(client, "/cabinet/password",
                         {"current_password": "not-it", "new_password": "new-Secret-2",
                          "new_password_again": "new-Secret-2"})
    assert "This is not your current password." in wrong.text
    differ = cabinet_post(client, "/cabinet/password",
                          {"current_password": old, "new_password": "new-Secret-2",
                           "new_password_again": "new-Secret-9"})
    assert "The two new passwords differ." in differ.text
    empty = cabinet_post(client, "/cabinet/password", {"current_password": old})
    assert "Enter the new password." in empty.text
    assert _hash(conn, account_id) == before
    assert client.get("/cabinet/").status_code == 200


def test_contacts_are_stored_in_their_one_form(client, conn):
    account_id, name, password = subscriber(conn)
    cabinet_login(client, name, password)
    answer = cabinet_post(client, "/cabinet/contacts",
                          {"phone": "+7 (916) 123-45-01", "email": "ivan@example.org"})
    assert "Your contacts are saved." in answer.text
    assert 'value="+79161234501"' in answer.text
    row = conn.execute("SELECT phone, email FROM accounts WHERE id = %s",
                       (account_id,)).fetchone()
    assert row == ("+79161234501", "ivan@example.org")


def test_bad_contacts_are_said_under_their_fields_and_nothing_is_stored(client, conn):
    account_id, name, password = subscriber(conn)
    conn.execute("UPDATE accounts SET phone = '+79160000000', email = 'a@b.ru'"
                 " WHERE id = %s", (account_id,))
    cabinet_login(client, name, password)
    answer = cabinet_post(client, "/cabinet/contacts",
                          {"phone": "call me", "email": "ivan@example"})
    assert answer.status_code == 200
    assert "Write the phone as digits" in answer.text
    assert "This is not an e-mail address." in answer.text
    row = conn.execute("SELECT phone, email FROM accounts WHERE id = %s",
                       (account_id,)).fetchone()
    assert row == ("+79160000000", "a@b.ru")


def test_the_pages_need_a_login_and_a_csrf_token(client, conn):
    account_id, name, password = subscriber(conn)
    assert client.get("/cabinet/contacts").status_code == 302
    cabinet_login(client, name, password)
    answer = client.post("/cabinet/contacts", data={"phone": "12345", "email": ""})
    assert answer.status_code == 400  # refused for the missing token
    assert conn.execute("SELECT phone FROM accounts WHERE id = %s",
                        (account_id,)).fetchone()[0] == ""


def test_guessing_the_current_password_locks_it_as_the_login_does(app, client, conn):
    account_id, name, old = subscriber(conn)
    cabinet_login(client, name, old)
    before = _hash(conn, account_id)
    failures = int(app.config["EBS_LOGIN_LOCKOUT_FAILURES"])
    for _ in range(failures):
        cabinet_post(client, "/cabinet/password",
                     {"current_password": "guess", "new_password": "x-Secret-5",
                      "new_password_again": "x-Secret-5"})
    right = cabinet_post(client, "/cabinet/password",
                         {"current_password": old, "new_password": "x-Secret-5",
                          "new_password_again": "x-Secret-5"})
    assert "locked" in right.text and "Your password is changed." not in right.text
    assert _hash(conn, account_id) == before
    elsewhere = app.test_client()
    assert 'id="cabinet-balance"' not in cabinet_login(elsewhere, name, old).text
