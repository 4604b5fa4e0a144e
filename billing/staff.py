"""Staff accounts (admins, cashiers) in Flask-AppBuilder's security tables."""

from __future__ import annotations

import secrets

import psycopg
from psycopg.types.json import Jsonb

from billing.errors import Refused
from billing.passwords import hash_password

ROLES = ("Admin", "Cashier", "ReadOnly")


def ensure_staff(
    conn: psycopg.Connection,
    username: str,
    password: str,
    role: str,
    first_name: str = "",
    last_name: str = "",
) -> int:
    """Create a staff user with one role unless the username exists; returns its id."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
    with conn.transaction():
        row = conn.execute("SELECT id FROM ab_user WHERE username = %s", (username,)).fetchone()
        if row:
            return row[0]
        user_id = conn.execute(
            """
            INSERT INTO ab_user (first_name, last_name, username, password, active, email,
                                 created_on, changed_on, login_count, fail_login_count)
            VALUES (%s, %s, %s, %s, true, %s, now() AT TIME ZONE 'UTC',
                    now() AT TIME ZONE 'UTC', 0, 0)
            RETURNING id
            """,
            (first_name or username, last_name or "-", username, hash_password(password),
             f"{username}@localhost"),
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO ab_user_role (user_id, role_id) "
            "SELECT %s, id FROM ab_role WHERE name = %s",
            (user_id, role),
        )
    return user_id


class StaffError(Refused):
    """``no_staff``: no staff member has that login."""


def reset_password(conn: psycopg.Connection, username: str) -> tuple[str, bool]:
    """A new generated password for a staff login locked out or forgotten: the lock and the
    failure count cleared, every session and refresh token of the old password ended (the
    session epoch moves), an audit row written. Returns the password, shown once, and
    whether the login is active (an inactive one still cannot log in)."""
    password = secrets.token_urlsafe(12)
    with conn.transaction():
        row = conn.execute(
            """
            UPDATE ab_user
               SET password = %s, fail_login_count = 0, locked_until = NULL,
                   session_epoch = session_epoch + 1, changed_on = now() AT TIME ZONE 'UTC'
             WHERE username = %s
            RETURNING id, active
            """, (hash_password(password), username)).fetchone()
        if row is None:
            raise StaffError("no_staff", f"no staff member has the login {username!r}")
        conn.execute(
            """
            INSERT INTO staff_audit_log (staff_user_id, action, object_type, object_id,
                                         new_values)
            VALUES (NULL, 'password', 'ab_user', %s, %s)
            """, (str(row[0]), Jsonb({"reset_by": "ebs staff reset-password",
                                 "lock_cleared": True})))
    return password, bool(row[1])
