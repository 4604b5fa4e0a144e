"""A table's unique key said under a form's field instead of as the database's error:
one traffic price per tariff, group and time period, one prepaid allowance per tariff and
group, one time price per tariff and time period, one time service per tariff…"""

from __future__ import annotations

from flask import current_app, request
from sqlalchemy import inspect, select
from wtforms.validators import ValidationError


class OneRowPer:
    """Refuse a row whose ``relations`` (the form's fields of the key, each a relation
    whose column is ``<name>_id``; an empty choice is NULL, as ``NULLS NOT DISTINCT``
    reads it) another row already holds. Nothing is checked while the field or the tariff
    is left empty (their own "required" says so); the row being edited is not its own
    duplicate."""

    def __init__(self, model, message, *relations: str) -> None:
        self.model, self.message, self.relations = model, message, relations
        self.key = inspect(model).primary_key[0]

    def __call__(self, form, field) -> None:
        if field.data is None or form["tariff"].data is None:
            return
        query = select(self.key)
        for name in ("tariff", *self.relations):
            column, chosen = getattr(self.model, f"{name}_id"), form[name].data
            query = query.where(column.is_(None) if chosen is None else column == chosen.id)
        editing = (request.view_args or {}).get("pk")
        if editing is not None:
            query = query.where(self.key != int(editing))
        if current_app.appbuilder.session.execute(query.limit(1)).first() is not None:
            raise ValidationError(self.message)
