"""The audit trail of operator changes: written after every add, edit and delete made
through an admin form, read here (Admin and ReadOnly)."""

from __future__ import annotations

from flask import current_app, g
from flask_appbuilder.models.sqla.filters import (
    FilterEqual,
    FilterGreater,
    FilterRelationOneToManyEqual,
    FilterSmaller,
)
from flask_babel import lazy_gettext as _l

from webapp import labels
from webapp.models.security import StaffAuditLog
from webapp.views.base import READ, BoundedInterface, EbsModelView


def _view_of(table: str):
    """The admin view that edits rows of ``table``: it names the table and its fields."""
    for view in current_app.appbuilder.baseviews:
        model = getattr(getattr(view, "datamodel", None), "obj", None)
        if getattr(model, "__tablename__", None) == table:
            return view
    return None


def object_title(table: str) -> str:
    view = _view_of(table)
    title = getattr(view, "list_title", None) if view is not None else None
    return str(title) if title else table


def _catalogue_names(model) -> dict:
    """Every row of a catalogue (``few_rows``) by id, read once per request: a page of
    the log names the tariffs and pools its changes point at in one query each."""
    cache = g.setdefault("ebs_catalogue_names", {})
    if model not in cache:
        session = current_app.appbuilder.session
        cache[model] = {row.id: str(row) for row in session.query(model)}
    return cache[model]


def _pointed_at(view, key: str):
    """The catalogue model a foreign key column (``tariff_id``) of the view's table points
    at, when it is one; None otherwise (an account stays an id: too many to name)."""
    datamodel = getattr(view, "datamodel", None)
    relation = key.removesuffix("_id")
    if datamodel is None or relation == key or not datamodel.is_relation(relation):
        return None
    related = datamodel.get_related_model(relation)
    return related if getattr(related, "few_rows", False) else None


def audit_changes(table: str, before: dict, after: dict):
    """Before and after as one diff, each field by the label its own form gives it."""
    view = _view_of(table)
    names = dict(getattr(view, "label_columns", None) or {})
    shown = dict(getattr(view, "formatters_columns", None) or {})

    def name(key: str) -> str:
        # A foreign key is stored by its column (pool_id), labelled by its relation (pool);
        # FAB's made-up English for a column the view does not name is a plain str.
        for candidate in (key, key.removesuffix("_id")):
            found = names.get(candidate)
            if found is not None and not isinstance(found, str):
                return str(found)
        return key

    def value(key: str, stored) -> str:
        """As the object's own page shows it: a code by its label, yes/no in words, a
        tariff or pool by its name. The
        log keeps JSON (an amount or a moment as text): a formatter that wants the typed
        value cannot take it, and the text reads as stored."""
        catalogue = _pointed_at(view, key)
        if catalogue is not None and isinstance(stored, int) and not isinstance(stored, bool):
            return _catalogue_names(catalogue).get(stored, labels.plain(stored))
        formatter = shown.get(key)
        if formatter is None or isinstance(stored, bool) or stored is None:
            return labels.plain(stored)
        try:
            return str(formatter(stored))
        except (TypeError, ValueError, AttributeError, ArithmeticError):
            return labels.plain(stored)

    return labels.audit_diff(before, after, name, value)

class AuditLogView(EbsModelView):
    datamodel = BoundedInterface(
        StaffAuditLog,
        {"object_type": [FilterEqual], "object_id": [FilterEqual],
         "logged_at": [FilterGreater, FilterSmaller],
         "staff_user": [FilterRelationOneToManyEqual]},
        eager=("staff_user",),
    )
    audited = False
    list_title = _l("Audit log")
    base_permissions = ["can_list", "can_show"]
    list_columns = ["logged_at", "staff_user.username", "action", "object_type", "object_id",
                    "changes"]
    show_columns = ["logged_at", "staff_user", "action", "object_type", "object_id", "changes"]
    search_columns = ["object_type", "object_id", "logged_at", "staff_user"]
    base_order = ("id", "desc")
    role_grants = {"ReadOnly": READ}
    formatters_columns = {"action": labels.formatter(labels.AUDIT_ACTIONS),
                          "object_type": lambda table: object_title(table),
                          "changes": lambda change: audit_changes(*change)}
    label_columns = {
        "logged_at": _l("When"), "staff_user": _l("Operator"),
        "staff_user.username": _l("Operator"), "action": _l("Action"),
        "object_type": _l("Object"), "object_id": _l("Object id"),
        "old_values": _l("Before"), "new_values": _l("After"), "changes": _l("Changes"),
    }
