"""A template rendered by PostgreSQL itself, for a pass over tens of thousands of
subscribers.

Rendering 50,000 messages one by one in Python costs more than selecting the 50,000
subscribers, so a template that is only text, fields and the ``money`` filter — every
default template, and most an operator writes — is turned into one SQL expression over
the fields' columns and rendered inside the INSERT that queues the messages. Anything
else (``{% if %}``, other filters, arithmetic) answers None here and the mailing renders
it with :func:`billing.notifications.templates.render`, row by row.

The expression gives exactly what ``render`` gives: it is built from the template as
Jinja's own parser reads it (so a comment or a trailing newline is what Jinja makes of
it), a value is written as ``str()`` writes it (numeric(14,2) and integers alike; None as
``None``), ``money`` as :func:`~billing.notifications.templates.money` does (grouped
thousands, two decimals; in Russian a no-break space and a comma), and the whole is
stripped of what ``str.strip`` strips. tests/unit and tests/integration hold the two
renderings equal.
"""

from __future__ import annotations

import re
import sys

from jinja2 import TemplateSyntaxError, nodes
from psycopg import sql

from billing.notifications.templates import FIELDS, _environment

# The characters str.strip() takes off both ends.
_WHITESPACE = "".join(chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace())
_STRIP = "^[{0}]+|[{0}]+$".format(re.escape(_WHITESPACE).replace("]", r"\]"))
_MONEY_MASK = "FM999,999,999,999,990.00"


def compile_body(body: str, language: str,
                 columns: dict[str, sql.Composable]) -> sql.Composable | None:
    """The SQL expression rendering ``body`` over ``columns`` (field name → an SQL
    expression of its value), or None when the template needs Python's renderer."""
    try:
        tree = _environment(language).parse(body)
    except TemplateSyntaxError:
        return None
    children: list[nodes.Node] = []
    for node in tree.body:
        if not isinstance(node, nodes.Output):
            return None
        children.extend(node.nodes)
    parts = [_part(child, language, columns) for child in children]
    if any(part is None for part in parts):
        return None
    if not parts:
        return sql.Literal("")
    text = sql.SQL("concat({})").format(sql.SQL(", ").join(parts))
    if _fixed_edge(children[0], 0) and _fixed_edge(children[-1], -1):
        return text  # text of the template's own at both ends: nothing to strip
    return sql.SQL("regexp_replace({}, {}, '', 'g')").format(text, sql.Literal(_STRIP))


def _fixed_edge(node: nodes.Node, end: int) -> bool:
    """Whether the template's text ends here (``end`` 0: starts) in a character that is
    no whitespace, whatever the values."""
    return (isinstance(node, nodes.TemplateData) and node.data != ""
            and not node.data[end].isspace())


def _part(node: nodes.Node, language: str,
          columns: dict[str, sql.Composable]) -> sql.Composable | None:
    if isinstance(node, nodes.TemplateData):
        return sql.Literal(node.data)
    if isinstance(node, nodes.Name) and node.name in FIELDS and node.name in columns:
        return sql.SQL("coalesce(({})::text, 'None')").format(columns[node.name])
    if (isinstance(node, nodes.Filter) and node.name == "money" and not node.args
            and not node.kwargs and node.dyn_args is None and node.dyn_kwargs is None
            and isinstance(node.node, nodes.Name) and node.node.name in columns):
        return money(columns[node.node.name], language)
    return None


def money(value: sql.Composable, language: str) -> sql.Composable:
    """templates.money in SQL: ``1,234.50``; in Russian ``1 234,50`` (a no-break space)."""
    text = sql.SQL("to_char(({})::numeric, {})").format(value, sql.Literal(_MONEY_MASK))
    if language == "ru":
        return sql.SQL("translate({}, ',.', {})").format(text, sql.Literal("\u00a0,"))
    return text
