"""A subscriber's choice of receiving only essential messages (a block, a payment): the
cabinet's switch and the admin's are this one call, and the mailing reads the same rows
(``notification_optouts``) when it skips non-essential templates."""

from __future__ import annotations

import psycopg


def opted_out(conn: psycopg.Connection, account_id: int) -> bool:
    return conn.execute("SELECT 1 FROM notification_optouts WHERE account_id = %s",
                        (account_id,)).fetchone() is not None


def set_opted_out(conn: psycopg.Connection, account_id: int, out: bool) -> bool:
    """Whether the choice changed: setting it again as it stands writes nothing (a
    repeated form is one change, one audit row)."""
    if out:
        changed = conn.execute(
            "INSERT INTO notification_optouts (account_id) VALUES (%s)"
            " ON CONFLICT (account_id) DO NOTHING", (account_id,)).rowcount
    else:
        changed = conn.execute("DELETE FROM notification_optouts WHERE account_id = %s",
                               (account_id,)).rowcount
    return changed == 1
