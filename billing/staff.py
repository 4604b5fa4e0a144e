"""Staff accounts (admins, cashiers) in Flask-AppBuilder's security tables."""

from __future__ import annotations

import psycopg

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
