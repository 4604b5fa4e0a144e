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
        formatter = formatter_for(column)
        if formatter is not None:
            chosen[column.key] = formatter
    chosen.update(own or {})
    return chosen
