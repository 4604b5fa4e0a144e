"""Form details FAB leaves in its own terms: the empty choice of a related select and the
multi-line box FAB gives every text column.

FAB's related select offers "no value" as an option labelled with its value, ``__None``,
when it has no text of its own; a name, a login or a title is one line of text, yet FAB
renders every ``Text`` column as a textarea. Both are fixed on the form classes FAB
builds, keeping each field's label, description, validators and place.
"""

from __future__ import annotations

from flask_appbuilder.fields import QuerySelectField
from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
from sqlalchemy import Text
from wtforms import StringField, TextAreaField
from wtforms.fields.core import UnboundField

from webapp.labels import NOTHING_CHOSEN

# Text columns that hold prose: these keep their box, every other text is one line.
PROSE_COLUMNS = frozenset({"description", "comment", "note", "notes", "details", "message",
                           "reply_message", "reason"})


def _unbound_fields(form_class):
    for name in dir(form_class):
        value = getattr(form_class, name, None)
        if isinstance(value, UnboundField):
            yield name, value


def name_the_empty_choice(form_class) -> None:
    """A nullable related select offers "— not chosen —" rather than ``__None``."""
    for _name, unbound in _unbound_fields(form_class):
        if issubclass(unbound.field_class, QuerySelectField):
            unbound.kwargs["blank_text"] = NOTHING_CHOSEN


def one_line_texts(form_class, model) -> None:
    """Text columns other than prose become a one-line input."""
    columns = {c.key for c in model.__table__.columns
               if isinstance(c.type, Text) and c.key not in PROSE_COLUMNS}
    for name, unbound in _unbound_fields(form_class):
        if name not in columns or not issubclass(unbound.field_class, TextAreaField):
            continue
        kwargs = {k: v for k, v in unbound.kwargs.items() if k != "widget"}
        field = StringField(*unbound.args, widget=BS3TextFieldWidget(), **kwargs)
        field.creation_counter = unbound.creation_counter
        setattr(form_class, name, field)
