"""How a stored value reads on a page, chosen once by the column's type.

Every admin list and detail page renders through :func:`column_formatters`: a timestamp
in the ISP's time zone and the locale's format (``webapp.localtime``), an amount as the
locale writes numbers (``webapp.numbers``), a yes/no or an empty value in words
(``webapp.labels``). A view's own ``formatters_columns`` entry wins over the type's, for
the columns whose meaning is more than their type (a ledger kind, a reject reason).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Boolean, DateTime, Numeric

from webapp import labels, localtime, numbers


def formatter_for(column) -> Callable | None:
    """The type's formatter for a table column, or None (the value reads as it is)."""
    kind = column.type
    if isinstance(kind, DateTime):
        return localtime.format_stamp
    if isinstance(kind, Numeric):
        # Every two-decimal column is money: it reads with its currency.
        return numbers.format_amount if kind.scale == 2 else numbers.format_number
    if isinstance(kind, Boolean):
        return labels.yes_no
    return None


def column_formatters(model, own: dict | None = None) -> dict[str, Callable]:
    """Formatters for every column of ``model``, ``own`` entries taking precedence."""
    chosen: dict[str, Callable] = {}
    for column in model.__table__.columns:
        chosen[column.key] = _blank_as_dash(formatter_for(column) or str)
    for relation in (rel.key for rel in model.__mapper__.relationships):
        chosen[relation] = labels.plain  # a related row by its name, a list of them joined
    chosen.update(own or {})
    return chosen


def _blank_as_dash(formatter: Callable) -> Callable:
    """An empty (NULL) value reads as a dash whatever the column's type, never "None"."""
    return lambda value: labels.EMPTY if value is None else formatter(value)


MASK = "***"


def masked_name(full_name: str | None) -> str:
    """A name shown to someone who is not its owner (a transfer's sender checking the
    recipient): enough to tell "the right person" from "a typo in the contract", not
    enough to learn who holds a contract. The first word keeps two letters, every other
    word one: "Иванов Пётр" reads "Ив*** П***"."""
    words = (full_name or "").split()
    if not words:
        return MASK
    shown = [words[0][:2] if len(words[0]) > 2 else words[0][:1]]
    shown += [word[:1] for word in words[1:]]
    return " ".join(part + MASK for part in shown)
