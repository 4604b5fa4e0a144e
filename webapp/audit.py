"""The staff audit trail: what an operator changed through an admin form, before and
after, with secrets masked. Read in ``webapp.views.audit``.

A row is written in the same database transaction as the change it describes: the view
announces the change (:func:`expect`, from its ``pre_*`` hooks), and the data interface
flushes the change, writes the announced row (:func:`write_expected`) and only then
commits. A change that rolls back leaves no row; a row that cannot be written rolls the
change back."""

from __future__ import annotations

import json

from flask import g
from sqlalchemy import inspect, text
from sqlalchemy.orm import MANYTOONE

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
    """(before, after) of the columns an edit changed, from the ORM's pending history.

    A form sets a reference through its relation (``tariff.ip_pool``), whose column
    (``ip_pool_id``) changes only at the flush, after this is read: such a change is
    taken from the relation and logged under its column."""
    before, after = {}, {}
    state = inspect(item)
    for attr in state.mapper.column_attrs:
        history = state.attrs[attr.key].history
        if history.has_changes():
            before[attr.key] = history.deleted[0] if history.deleted else None
            after[attr.key] = history.added[0] if history.added else None
    for relation in state.mapper.relationships:
        if relation.direction is not MANYTOONE:
            continue
        history = state.attrs[relation.key].history
        if not history.has_changes():
            continue
        new = history.added[0] if history.added else None
        for local, remote in relation.local_remote_pairs:
            key = state.mapper.get_property_by_column(local).key
            became = getattr(new, remote.key) if new is not None else None
            was = state.committed_state.get(key, state.dict.get(key))
            if key not in after and was != became:
                before[key], after[key] = was, became
    return before, after


def record(session, action: str, item, old: dict, new: dict) -> None:
    """One audit row, inside the caller's transaction (the caller commits)."""
    pk = inspect(item).identity or ()
    session.execute(_INSERT, {
        "staff": getattr(g.get("user"), "id", None), "action": action,
        "type": item.__tablename__, "id": ",".join(str(v) for v in pk),
        "old": _plain(old), "new": _plain(new),
    })


def record_action(session, action: str, object_type: str, object_id, details: dict) -> None:
    """One row for a business action that is no ORM edit (a payment, a tariff change, a
    kick), inside the caller's transaction, so the action and its row commit together."""
    session.execute(_INSERT, {
        "staff": getattr(g.get("user"), "id", None), "action": action,
        "type": object_type, "id": str(object_id), "old": "{}", "new": _plain(details),
    })


_PENDING = "ebs_audit_expected"


def expect(action: str, before: dict | None = None, after: dict | None = None) -> None:
    """Announce the change this request is about to make. ``add`` takes its values after
    the flush (ids and database defaults filled in; ``after`` adds what no column holds,
    e.g. a staff member's roles); ``edit`` and ``delete`` take theirs before the ORM
    forgets them."""
    setattr(g, _PENDING, (action, before or {}, after))


def forget() -> None:
    g.pop(_PENDING, None)


def write_expected(session, item) -> None:
    """Write the announced row for ``item`` (after its change was flushed); nothing when
    no change was announced or an edit changed no column."""
    pending = g.pop(_PENDING, None)
    if pending is None:
        return
    action, before, after = pending
    if action == "add":
        after = {**column_values(item), **(after or {})}
    if action == "edit" and not after:
        return
    record(session, action, item, before, after or {})
