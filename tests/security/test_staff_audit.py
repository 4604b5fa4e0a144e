# ruff: noqa: F811  (pytest fixtures imported from tests.security.web_fixtures)
"""Staff and role changes are audit rows like every admin edit: a staff member created
with a role, given another role, a role's permissions changed, a password set by an
Admin or by its owner (masked), a staff member removed."""

from __future__ import annotations

from tests.security.web_fixtures import (  # noqa: F401  (fixtures)
    db,
    make_app,
    staff,
    web_settings,
    web_state,
    web_template,
)
from tests.web.conftest import ADMIN, csrf_token, login, submit


def _rows(conn, object_type: str) -> list[tuple]:
    return conn.execute(
        "SELECT action, object_id, old_values, new_values, staff_user_id FROM staff_audit_log"
        " WHERE object_type = %s ORDER BY id", (object_type,)).fetchall()


def _role(conn, name: str) -> str:
    return str(conn.execute("SELECT id FROM ab_role WHERE name = %s", (name,)).fetchone()[0])


def test_staff_and_role_changes_are_audited(make_app, conn, staff):
    client = make_app().test_client()
    login(client, *ADMIN)
    submit(client, "/users/add", {
        "first_name": "New", "last_name": "Cashier", "username": "newbie", "active": "y",
        "email": "newbie@example.org", "roles": _role(conn, "Cashier"),
        "password": "Newbie-Secret-1", "conf_password": "Newbie-Secret-1"})
    newbie = conn.execute("SELECT id FROM ab_user WHERE username = 'newbie'").fetchone()[0]
    submit(client, f"/users/edit/{newbie}", {
        "first_name": "New", "last_name": "Cashier", "username": "newbie", "active": "y",
        "email": "newbie@example.org", "roles": _role(conn, "ReadOnly")})
    page = client.get(f"/resetpassword/form?pk={newbie}")
    client.post(f"/resetpassword/form?pk={newbie}", data={
        "password": "Newbie-Secret-2", "conf_password": "Newbie-Secret-2",
        "csrf_token": csrf_token(page.text)})
    form = client.get(f"/users/show/{newbie}")
    client.post(f"/users/delete/{newbie}", data={"csrf_token": csrf_token(form.text)})

    rows = _rows(conn, "ab_user")
    assert [r[0] for r in rows] == ["add", "edit", "edit", "delete"], rows
    added, moved, password, removed = rows
    assert added[3]["username"] == "newbie" and added[3]["roles"] == ["Cashier"]
    assert added[3]["password"] == "***" and "Newbie" not in str(added[3])
    assert moved[2]["roles"] == ["Cashier"] and moved[3]["roles"] == ["ReadOnly"]
    assert password[3] == {"password": "***"} and password[1] == str(newbie)
    assert removed[2]["username"] == "newbie" and removed[2]["roles"] == ["ReadOnly"]
    assert {r[4] for r in rows} == {staff["admin"]}


def test_a_role_rename_is_audited(make_app, conn, staff):
    client = make_app().test_client()
    login(client, *ADMIN)
    submit(client, "/roles/add", {"name": "Auditors2"})
    role = _role(conn, "Auditors2")
    submit(client, f"/roles/edit/{role}", {"name": "Auditors3"})
    rows = _rows(conn, "ab_role")
    assert [r[0] for r in rows] == ["add", "edit"], rows
    assert rows[1][2]["name"] == "Auditors2" and rows[1][3]["name"] == "Auditors3"


def test_ones_own_password_change_is_audited(make_app, conn, staff):
    client = make_app().test_client()
    login(client, *ADMIN)
    form = client.get("/resetmypassword/form")
    client.post("/resetmypassword/form", data={
        "current_password": ADMIN[1], "password": "admin-Secret-2",
        "conf_password": "admin-Secret-2", "csrf_token": csrf_token(form.text)})
    assert _rows(conn, "ab_user") == [
        ("edit", str(staff["admin"]), {}, {"password": "***"}, staff["admin"])]
