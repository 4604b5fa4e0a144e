"""What every admin list shares: bounded counting, searches that use indexes, role grants.

At 500,000 accounts and millions of ledger entries a list page must not count or scan a
whole table. FAB counts every page with ``SELECT count(*)`` over the filtered query; here
the count stops at ``COUNT_CAP`` rows, and beyond it an unfiltered list shows the planner's
row estimate (``pg_class.reltuples``) instead. Searches offer only filters an index
serves: equality, or a prefix of ``lower(column)`` where a ``text_pattern_ops`` index on it
exists.
"""

from __future__ import annotations

import logging

from flask_appbuilder import ModelView
from flask_appbuilder.exceptions import DatabaseException
from flask_appbuilder.fieldwidgets import BS3TextFieldWidget, Select2Widget
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.models.sqla.filters import FilterEqual, SQLAFilterConverter
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _l
from sqlalchemy import DateTime, Numeric, func, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import joinedload
from wtforms import SelectField, StringField

from webapp import audit, form_labels, labels, localtime
from webapp.display import column_formatters
from webapp.money_field import money_fields
from webapp.validators import Money

log = logging.getLogger(__name__)

COUNT_CAP = 10_000
DEFER_FROM_OFFSET = 1_000
READ = ("can_list", "can_show")


def _default_of(column):
    """The Python-side scalar default of a column, or None."""
    default = column.default
    if default is not None and getattr(default, "is_scalar", False):
        return default.arg
    return None


def like_prefix(value: str) -> str:
    """A LIKE pattern for "starts with ``value``" (lower-cased, wildcards escaped)."""
    escaped = (value or "").lower().replace("\\", "\\\\")
    return escaped.replace("%", "\\%").replace("_", "\\_") + "%"


class FilterFilledEqual(BaseFilter):
    """``col <> '' AND col = value``: the first clause matches the predicate of a partial
    index ``WHERE col <> ''`` word for word, so the index serves the search under a
    prepared statement's generic plan too (``col = $1`` alone cannot prove it and scans
    the table)."""

    name = _l("Equal to")
    arg_name = "eq"

    def apply(self, query, value):
        column = getattr(self.model, self.column_name)
        return query.filter(column != "", column == value)


class FilterLowerPrefix(BaseFilter):
    """``lower(col) LIKE lower(value) || '%'``: served by a ``lower(col) text_pattern_ops``
    index, unlike ILIKE."""

    name = _l("Starts with")
    arg_name = "lsw"

    def apply(self, query, value):
        column = getattr(self.model, self.column_name)
        return query.filter(func.lower(column).like(like_prefix(value), escape="\\"))


class _IndexedConverter(SQLAFilterConverter):
    def convert(self, col_name):
        chosen = self.datamodel.indexed_filters.get(col_name)
        if chosen is not None:
            return [item(col_name, self.datamodel) for item in chosen]
        return super().convert(col_name)


class BoundedInterface(SQLAInterface):
    """SQLAInterface with a capped count and per-column filter choices."""

    filter_converter_class = _IndexedConverter

    def __init__(
        self,
        obj,
        indexed_filters: dict[str, list[type[BaseFilter]]] | None = None,
        eager: tuple[str, ...] = (),
        deferred_paging: bool = False,
    ):
        super().__init__(obj)
        self.deferred_paging = deferred_paging
        self.indexed_filters = indexed_filters or {}
        self.eager = eager

    def apply_all(self, query, *args, **kwargs):
        """Relations the list shows are loaded in the page's one query (no N+1)."""
        query = super().apply_all(query, *args, **kwargs)
        if self.eager:
            query = query.options(*(joinedload(getattr(self.obj, name)) for name in self.eager))
        return query

    def is_nullable(self, col_name: str) -> bool:
        """A NOT NULL column with a default may be left empty on a form: the default fills
        it (see EbsModelView.fill_defaults)."""
        column = self.list_columns.get(col_name)
        if column is not None and _default_of(column) is not None:
            return True
        return super().is_nullable(col_name)

    def _write(self, change, item, commit: bool, wrap: bool) -> None:
        """FAB's add/edit/delete, with the announced audit row written after the change's
        flush and before its commit: one transaction for both."""
        try:
            change()
            if commit:
                self.session.flush()
                audit.write_expected(self.session, item)
                self.session.commit()
        except SQLAlchemyError as exc:
            log.exception("Database error while saving %s", self.obj.__name__)
            self.session.rollback()
            if wrap:
                raise DatabaseException from exc
            raise
        finally:
            audit.forget()

    def add(self, item, commit: bool = True) -> None:
        self._write(lambda: self.session.add(item), item, commit, wrap=False)

    def edit(self, item, commit: bool = True) -> None:
        self._write(lambda: self.session.merge(item), item, commit, wrap=True)

    def delete(self, item, commit: bool = True) -> None:
        def change():
            self._delete_files(item)
            self.session.delete(item)

        self._write(change, item, commit, wrap=True)

    def apply_pagination(self, query, page, page_size):
        """A deep page of an opted-in list (``deferred_paging``): the rows to skip are
        walked in the primary key's index alone, and only the page's own rows are read
        from the table (OFFSET over whole rows read 50,000 accounts for page 2,000)."""
        offset = (page or 0) * (page_size or 0)
        if not self.deferred_paging or offset < DEFER_FROM_OFFSET or not page_size:
            return super().apply_pagination(query, page, page_size)
        pk = getattr(self.obj, self.get_pk_name())
        ids = query.with_entities(pk).offset(offset).limit(page_size).subquery()
        return query.filter(pk.in_(select(ids.c[0]))).limit(page_size)

    def query_count(self, query, filters=None, select_columns=None) -> int:
        inner = self._apply_inner_all(query, filters, select_columns=select_columns,
                                      aliases_mapping={})
        capped = inner.limit(COUNT_CAP + 1).count()
        if capped <= COUNT_CAP or (filters is not None and filters.get_filters_values()):
            return capped
        estimate = self.session.execute(
            text("SELECT reltuples::bigint FROM pg_class WHERE oid = CAST(:t AS regclass)"),
            {"t": self.obj.__table__.name},
        ).scalar()
        return max(capped, int(estimate or 0))


def choice_field(label, choices, default: str | None = None) -> SelectField:
    """A select for a text column limited by a CHECK constraint."""
    return SelectField(label, choices=choices, default=default or choices[0][0],
                       widget=Select2Widget())


def _none_if_blank(value):
    """An empty input is NULL, not '' (an inet column refuses '')."""
    return value.strip() or None if isinstance(value, str) else value


def text_field(label, *validators, description: str | None = None) -> StringField:
    """A one-line text input, also for the column types FAB cannot render (inet, macaddr)."""
    return StringField(label, validators=list(validators), description=description or "",
                       filters=[_none_if_blank], widget=BS3TextFieldWidget())


def exact(*columns: str) -> dict[str, list[type[BaseFilter]]]:
    return {column: [FilterEqual] for column in columns}


def prefix(*columns: str) -> dict[str, list[type[BaseFilter]]]:
    return {column: [FilterLowerPrefix] for column in columns}


def money_columns(model) -> list[str]:
    """The money columns of ``model``: NUMERIC with two decimals."""
    return [column.key for column in model.__table__.columns
            if isinstance(column.type, Numeric) and column.type.scale == 2]


def datetime_columns(model) -> list[str]:
    """The columns of ``model`` holding a moment (timestamptz)."""
    return [column.key for column in model.__table__.columns
            if isinstance(column.type, DateTime)]


def with_money_rule(model, validators: dict) -> dict:
    """``validators`` plus :class:`~webapp.validators.Money` for each money column
    (NUMERIC with two decimals) of ``model`` that has no money validator yet."""
    out = dict(validators)
    for key in money_columns(model):
        present = list(out.get(key, []))
        if not any(isinstance(v, Money) for v in present):
            out[key] = [*present, Money()]
    return out


def offered_whole(datamodel, column: str) -> bool:
    """Whether a search or form may offer every row ``column`` can point to in one select:
    a plain column, a relation to a catalogue the operator keeps (a model with
    ``few_rows``, or FAB's staff users and roles), or one the view filters its own way."""
    if not datamodel.is_relation(column) or column in getattr(datamodel, "indexed_filters", {}):
        return True
    related = datamodel.get_related_model(column)
    return bool(getattr(related, "few_rows", False)
                or related.__module__.startswith("flask_appbuilder."))


class EbsModelView(ModelView):
    """Base of our CRUD views: 25 rows a page, readable by Cashier and ReadOnly unless a
    view says otherwise; writes stay with Admin."""

    page_size = 25
    role_grants: dict[str, tuple[str, ...]] = {"Cashier": READ, "ReadOnly": READ}
    audited = True  # every add, edit and delete lands in staff_audit_log

    def _init_titles(self) -> None:
        """A view that names only its list takes its other titles from that name, in the
        operator's language (FAB would make up "Add Ip Pool", "Show Nas" in English)."""
        what = self.list_title
        if what:
            self.add_title = self.add_title or labels.titled(_l("%(what)s: new record"), what)
            self.edit_title = self.edit_title or labels.titled(_l("%(what)s: editing"), what)
            self.show_title = self.show_title or labels.titled(_l("%(what)s: details"), what)
        super()._init_titles()

    def _init_properties(self) -> None:
        """Every column reads by its type (``webapp.display``) unless the view says how;
        a moment this view's form lets a person type reads as typed (to the minute).

        A search by a relation renders a select of every row of the related table: on a
        table that grows with the subscribers (500,000 accounts) that page takes most of a
        minute, so such a relation is searchable only through a filter the view names."""
        wanted = self.search_columns or self.datamodel.get_search_columns_list()
        self.search_exclude_columns = [
            *(self.search_exclude_columns or ()),
            *(column for column in wanted if not offered_whole(self.datamodel, column))]
        self.search_columns = [column for column in wanted
                               if column not in self.search_exclude_columns]
        super()._init_properties()
        perms = self.base_permissions
        writable = [*(self.add_columns if perms is None or "can_add" in perms else ()),
                    *(self.edit_columns if perms is None or "can_edit" in perms else ())]
        typed = {key: localtime.format_typed
                 for key in datetime_columns(self.datamodel.obj) if key in writable}
        self.formatters_columns = column_formatters(self.datamodel.obj,
                                                    {**typed, **self.formatters_columns})

    def _init_forms(self) -> None:
        """Every money column's field takes only what ``billing.money`` takes (a view
        that names its own money validator keeps it): NaN, 1E+30 or 0.001 typed into any
        admin form is a message under the field, never a database error."""
        self.validators_columns = with_money_rule(self.datamodel.obj,
                                                  self.validators_columns or {})
        super()._init_forms()
        # FAB's DecimalField reads Decimal(text) before any validator: the money columns
        # take the operator's ``1 000,50`` through webapp.money_field instead.
        money = money_columns(self.datamodel.obj)
        for form in (self.add_form, self.edit_form):
            money_fields(form, money)
        # Every moment is typed on the ISP's clock (webapp.localtime), stored in UTC.
        moments = datetime_columns(self.datamodel.obj)
        for form in (self.add_form, self.edit_form):
            localtime.local_datetime_fields(form, moments)
            form_labels.name_the_empty_choice(form)
            form_labels.one_line_texts(form, self.datamodel.obj)

    def fill_defaults(self, item) -> None:
        """An input left empty takes the column's default instead of NULL (the ORM would
        send NULL for a column whose default lives only in the database)."""
        for column in item.__table__.columns:
            if column.nullable or getattr(item, column.key, None) is not None:
                continue
            default = _default_of(column)
            if default is None and isinstance(column.type, DateTime):
                default = func.now()  # created_at/updated_at: the database's now()
            if default is not None:
                setattr(item, column.key, default)

    def pre_add(self, item) -> None:
        self.fill_defaults(item)
        if self.audited:
            audit.expect("add")

    def pre_update(self, item) -> None:
        self.fill_defaults(item)
        if self.audited:
            audit.expect("edit", *audit.changed_values(item))

    def pre_delete(self, item) -> None:
        if self.audited:
            audit.expect("delete", audit.column_values(item))


class AdminOnlyModelView(EbsModelView):
    role_grants: dict[str, tuple[str, ...]] = {"ReadOnly": READ}
