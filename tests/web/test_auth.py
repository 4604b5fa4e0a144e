"""Logging in, the forced change of a documented default password, CSRF."""

from billing.staff import ensure_staff
from tests.web.conftest import ADMIN, csrf_token, login

RESET = "/resetmypassword/form"


def test_wrong_password_is_refused(client):
    page = login(client, "admin", "not-the-password")
    assert "/login/" in page.request.path
    assert client.get("/accountview/list/").status_code in (302, 401, 403)


def test_default_password_forces_a_change_before_anything_else(conn, client):
    ensure_staff(conn, "chief", "admin", "Admin")  # the documented default password
    page = login(client, "chief", "admin")
    assert page.request.path == RESET
    assert "choose a new password" in page.text

    # Every other page sends the user back to the form.
    response = client.get("/accountview/list/")
    assert response.status_code == 302 and response.location.endswith(RESET)

    # The default again, or a short one, is refused with a message under the field.
    form = client.get(RESET)
    again = client.post(RESET, data={"current_password": "admin", "password": "admin",
                                     "conf_password": "admin", "csrf_token": csrf_token(form.text)})
    assert "at least 8 characters" in again.text
    again = client.post(RESET, data={"current_password": "admin", "password": "changeme",
                                     "conf_password": "changeme",
                                     "csrf_token": csrf_token(form.text)})
    assert "documented default password" in again.text
    assert client.get("/accountview/list/").status_code == 302

    done = client.post(RESET, data={"current_password": "admin", "password": "Chief-Secret-9",
                                     "conf_password": "Chief-Secret-9",
                                     "csrf_token": csrf_token(form.text)},
                       follow_redirects=True)
    assert done.status_code == 200
    assert client.get("/accountview/list/").status_code == 200

    # The old password no longer works; the new one does, without a forced change.
    client.get("/logout/")
    assert "/login/" in login(client, "chief", "admin").request.path
    page = login(client, "chief", "Chief-Secret-9")
    assert page.request.path == "/"
    assert client.get("/accountview/list/").status_code == 200


def test_a_post_without_csrf_token_is_refused(client):
    response = client.post("/login/", data={"username": ADMIN[0], "password": ADMIN[1]})
    assert response.status_code == 400
    assert client.get("/accountview/list/").status_code != 200
