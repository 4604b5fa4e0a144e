"""Account state (DESIGN.md "Account state"): status and who changed it, when and why.

``status`` is one of ``active`` / ``inactive_charged`` / ``inactive_uncharged`` /
``suspended``; the charge tick charges ``active`` and ``inactive_charged`` accounts only.
``suspended`` is entered and left through ``billing.suspension`` (it has its own rules and
money), every other status through :func:`set_status`.

The database records every change of status or block in ``account_status_history`` by a
trigger, so no path can forget it; a path says who acts and why with :func:`record_actor`
inside its transaction.
"""

from __future__ import annotations

from datetime import datetime

import psycopg

from billing.errors import Refused

STATUSES = ("active", "inactive_charged", "inactive_uncharged", "suspended")
CHARGED_STATUSES = ("active", "inactive_charged")
ACTORS = ("subscriber", "staff", "system")


class AccountStateError(Refused):
    """A state change that is refused; ``code`` is what the caller acts on."""

    @property
    def reason(self) -> str:
        """The code under its older name."""
        return self.code


def record_actor(
    conn: psycopg.Connection,
    *,
    at: datetime,
    actor: str,
    staff_user_id: int | None = None,
    reason: str = "",
) -> None:
    """Tell the history trigger who changes account state, when and why, for the rest of
    the current transaction (the settings are transaction-local)."""
    if actor not in ACTORS:
        raise ValueError(f"actor must be one of {ACTORS}, got {actor!r}")
    if at.tzinfo is None:
        raise ValueError("at must be timezone-aware")
    conn.execute(
        "SELECT set_config('ebs.actor', %s, true), set_config('ebs.staff_user_id', %s, true),"
        " set_config('ebs.reason', %s, true), set_config('ebs.changed_at', %s, true)",
        (actor, "" if staff_user_id is None else str(staff_user_id), reason, at.isoformat()),
    )


def set_status(
    conn: psycopg.Connection,
    account_id: int,
    status: str,
    *,
    at: datetime,
    staff_user_id: int | None = None,
    reason: str = "",
) -> str:
    """Move an account to ``active``, ``inactive_charged`` or ``inactive_uncharged``;
    returns the status it had. A suspended account is resumed with
    ``billing.suspension.resume_account`` instead, so its suspension is closed too."""
    if status not in STATUSES:
        raise AccountStateError("unknown_status", f"unknown status {status!r}")
    if status == "suspended":
        raise AccountStateError("use_suspend", "suspend with billing.suspension.suspend_account")
    with conn.transaction():
        row = conn.execute(
            "SELECT status FROM accounts WHERE id = %s FOR UPDATE", (account_id,)
        ).fetchone()
        if row is None:
            raise AccountStateError("no_account", f"account {account_id} does not exist")
        if row[0] == "suspended":
            raise AccountStateError(
                "suspended", f"account {account_id} is suspended: resume it first")
        if row[0] != status:
            record_actor(conn, at=at, actor="staff" if staff_user_id else "system",
                         staff_user_id=staff_user_id, reason=reason)
            conn.execute("UPDATE accounts SET status = %s WHERE id = %s", (status, account_id))
    return row[0]


def status_history(conn: psycopg.Connection, account_id: int) -> list[tuple]:
    """(changed_at, what, old, new, actor, staff_user_id, reason), oldest first."""
    return conn.execute(
        "SELECT changed_at, what, old_value, new_value, actor, staff_user_id, reason"
        "  FROM account_status_history WHERE account_id = %s ORDER BY changed_at, id",
        (account_id,),
    ).fetchall()
