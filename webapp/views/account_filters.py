"""The account list's filters, each a part of ``billing.account_search`` (the cashier's
desk searches by the same rule), each on an index of migration 202612070300.

``FilterAccountSearch`` is the whole rule from one text; the others narrow one column:
a phone by its digits, a contract or login by its beginning, a name or address by any
part (a text shorter than a trigram falls back to the beginning of the column).
"""

from __future__ import annotations

from flask_appbuilder.models.filters import BaseFilter
from flask_babel import lazy_gettext as _l
from sqlalchemy import text

from billing import account_search
from webapp.views.base import FilterLowerPrefix


def _bound(clause: str, values: dict[str, str], prefix: str):
    """``clause`` as SQLAlchemy text with its parameters renamed under ``prefix``, so two
    filters of one list never share a parameter name."""
    names = {name: f"{prefix}_{name}" for name in values}
    return text(clause.format(**{name: f":{bound}" for name, bound in names.items()})
                ).bindparams(**{names[name]: value for name, value in values.items()})


class FilterAccountSearch(BaseFilter):
    """The cashier's search, in the admin's list."""

    name = _l("Contract, login, name, address or phone")
    arg_name = "acs"

    def apply(self, query, value):
        search = account_search.parse(value)
        if search is None:
            return query
        where, values = search.where(lambda name: "{" + name + "}")
        return query.filter(_bound(where, values, "acs"))


class FilterPhoneDigits(BaseFilter):
    """The same phone however it is written: +7 916 123-45-01 is 89161234501."""

    name = _l("Same phone")
    arg_name = "phd"

    def apply(self, query, value):
        return query.filter(_bound(account_search.PHONE_CLAUSE, {"phone": value}, "phd"))


class FilterStartsWith(BaseFilter):
    """``col LIKE 'value%'``, case as typed: a ``text_pattern_ops`` index serves it."""

    name = _l("Starts with")
    arg_name = "sw"

    def apply(self, query, value):
        search = account_search.AccountSearch(value or "", by_phone=False, by_substring=False)
        column = getattr(self.model, self.column_name)
        return query.filter(column.like(search.prefix, escape="\\"))


class _FilterContains(BaseFilter):
    clause = ""

    name = _l("Contains")
    arg_name = "ct"

    def apply(self, query, value):
        value = (value or "").strip()
        if len(value) < account_search.MIN_SUBSTRING:
            return FilterLowerPrefix(self.column_name, self.datamodel).apply(query, value)
        search = account_search.AccountSearch(value, by_phone=False, by_substring=True)
        return query.filter(_bound(self.clause, {"contains": search.contains},
                                   f"ct_{self.column_name}"))


class FilterNameContains(_FilterContains):
    """Any part of the full name, case-insensitive (pg_trgm)."""

    clause = account_search.NAME_CLAUSE


class FilterAddressContains(_FilterContains):
    """Any part of the street with the house, case-insensitive (pg_trgm)."""

    clause = account_search.ADDRESS_CLAUSE
