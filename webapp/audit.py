"""The staff audit trail: what an operator changed through an admin form, before and
after, with secrets masked. Rows are written by ``EbsModelView`` right after the change
commits, and read in ``webapp.views.audit``."""

from __future__ import annotations

import json

from flask import g
from sqlalchemy import inspect, text

# Never copied into the log: hashes, sealed passwords, RADIUS secrets.
SECRET_COLUMNS = {"password", "password_hash", "nt_password_hash", "chap_password_encrypted",
                  "secret"}

_INSERT = text(
    """
    INSERT INTO staff_audit_log (staff_user_id, action, object_type, object_id, old_values,
                                 new_values)
    VALUES (:staff, :action, :type, :id, CAST(:old AS jsonb), CAST(:new AS jsonb))
    """
)


def _plain(values: dict) -> str:
    masked = {k: ("***" if k in SECRET_COLUMNS and v is not None else v)
              for k, v in values.items()}
    return json.dumps(masked, default=str, ensure_ascii=False)


def column_values(item) -> dict:
    return {c.key: getattr(item, c.key) for c in inspect(item).mapper.column_attrs}


def changed_values(item) -> tuple[dict, dict]:
    """(before, after) of the columns an edit changed, from the ORM's pending history."""
    before, after = {}, {}
    state = inspect(item)
    for attr in state.mapper.column_attrs:
        history = state.attrs[attr.key].history
        if history.has_changes():
            before[attr.key] = history.deleted[0] if history.deleted else None
            after[attr.key] = history.added[0] if history.added else None
    return before, after


def record(session, action: str, item, old: dict, new: dict) -> None:
    """One audit row, committed on its own right after the change it describes."""
    pk = inspect(item).identity or ()
    session.execute(_INSERT, {
        "staff": getattr(g.get("user"), "id", None), "action": action,
        "type": item.__tablename__, "id": ",".join(str(v) for v in pk),
        "old": _plain(old), "new": _plain(new),
    })
    session.commit()
