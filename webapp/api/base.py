"""What every REST resource shares: money as strings, JSON errors, role grants, the
password lock, and the admin lists' bounded counting and indexed filters.

Money never travels as a JSON number: a float cannot hold 0.10 exactly, and a client
that parses one loses kopecks. Amounts go out as strings with two decimals ("100.50")
and come in only as strings, checked to have at most two decimals.
"""

from __future__ import annotations

from typing import Any

from flask import g, request
from flask_appbuilder.api import BaseApi, ModelRestApi
from flask_appbuilder.api.convert import Model2SchemaConverter
from flask_appbuilder.hooks import before_request
from marshmallow import Schema, ValidationError, fields
from sqlalchemy import Numeric, text

from billing.money import MONEY_LIMIT, MoneyError, to_money
from webapp.api import password_lock
from webapp.views.base import EbsModelView
from webapp.views.ledger import raw_connection

READ = ("can_get", "can_info")
_ACCOUNT_EXISTS = text("SELECT 1 FROM accounts WHERE id = :id")
# A posted entry as the API answers it (LedgerEntrySchema), the balance it left included.
_ENTRY = """
    SELECT e.id, e.account_id, e.kind, e.amount, e.effective_at, e.staff_user_id,
           e.description, e.idempotency_key, a.balance
      FROM ledger_entries e JOIN accounts a ON a.id = e.account_id
"""
_ENTRY_BY_ID = text(_ENTRY + " WHERE e.id = :value")
_ENTRY_BY_KEY = text(_ENTRY + " WHERE e.idempotency_key = :value")


class Money(fields.Decimal):
    """An amount of money: a string with two decimals both ways; a JSON number is
    refused on input."""

    default_error_messages = {
        "not_string": 'Send the amount as a string, e.g. "100.00".',
        "invalid": "Not a valid amount.",
        "places": "An amount has at most two decimals.",
        "range": f"The amount is out of range (at most {MONEY_LIMIT}).",
    }

    def __init__(self, **kwargs: Any) -> None:
        metadata = {"type": "string", "format": "decimal", "example": "100.00",
                    **kwargs.pop("metadata", {})}
        super().__init__(places=2, as_string=True, metadata=metadata, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        """``billing.money.to_money``'s rule, each refusal as this field's message."""
        if not isinstance(value, str):
            raise self.make_error("not_string")
        try:
            return to_money(value)
        except MoneyError as exc:
            raise self.make_error(_MONEY_ERRORS.get(exc.code, "invalid")) from None


_MONEY_ERRORS = {"not_an_amount": "invalid", "too_many_decimals": "places",
                 "out_of_range": "range"}


class MoneyConverter(Model2SchemaConverter):
    """FAB's model-to-schema conversion with every NUMERIC column as :class:`Money`."""

    def _column2field(self, datamodel, column, nested=True, parent_schema_name=None):
        sqla_column = datamodel.list_columns.get(column.name)
        if sqla_column is not None and isinstance(getattr(sqla_column, "type", None), Numeric):
            return Money(required=not datamodel.is_nullable(column.name),
                         validate=self.validators_columns.get(column.name))
        return super()._column2field(datamodel, column, nested, parent_schema_name)

    def _meta_schema_factory(self, columns, model, class_mixin, parent_schema_name=None):
        """Foreign-key columns a resource names (``account_id``) stay in its schema."""
        base = super()._meta_schema_factory(columns, model, class_mixin, parent_schema_name)

        class Meta(base.Meta):
            include_fk = True

        return type(base.__name__, (base,), {"Meta": Meta})


def invalid(errors: dict) -> dict:
    return {"message": "The request has invalid fields.", "errors": errors}


class EbsApiMixin:
    """JSON helpers and the password lock for every resource of ours (FAB's
    ``before_request`` hooks run before its permission check)."""

    role_grants: dict[str, tuple[str, ...]] = {}

    @before_request
    def refuse_default_password(self):
        return password_lock.refusal(self)

    def load_body(self, schema: Schema, optional: bool = False):
        """(data, None) or (None, a 400 response naming each bad field). An ``optional``
        body may be left out altogether."""
        body = request.get_json(silent=True)
        if body is None and optional and not request.get_data():
            body = {}
        if not isinstance(body, dict):
            return None, self.response(400, message="The request body must be a JSON object.")
        try:
            return schema.load(body), None
        except ValidationError as err:
            return None, self.response(400, **invalid(err.messages))

    def refused(self, status: int, code: str, message: str):
        """A business rule said no: the rule's code for programs, a sentence for people."""
        return self.response(status, message=message, reason=code)

    @staticmethod
    def staff_id() -> int:
        return g.user.id

    def db(self):
        return self.appbuilder.session

    def conn(self):
        """The psycopg connection under the ORM session, for ``billing`` services (their
        work and our audit row share one transaction)."""
        return raw_connection(self.db())

    def missing_account(self, account_id: int):
        """A 404 response when there is no such account, else None."""
        if self.db().execute(_ACCOUNT_EXISTS, {"id": account_id}).first() is None:
            return self.response(404, message=f"Account {account_id} does not exist.")
        return None

    def ledger_entry(self, *, entry_id: int | None = None, key: str | None = None):
        """A posted entry (by its id or its idempotency key) with the balance it left,
        as LedgerEntrySchema dumps it."""
        query, value = (_ENTRY_BY_ID, entry_id) if key is None else (_ENTRY_BY_KEY, key)
        return self.db().execute(query, {"value": value}).mappings().one()


class EbsBaseApi(EbsApiMixin, BaseApi):
    """A resource of business actions."""

    version = "v1"


class EbsModelApi(EbsApiMixin, ModelRestApi):
    """A table as a resource. Lists count through BoundedInterface (exact up to a cap,
    the planner's estimate beyond), filter only on indexed columns and sort on indexed
    ones; writes are audited like the admin forms' (same hooks)."""

    version = "v1"
    page_size = 25
    max_page_size = 100
    model2schemaconverter = MoneyConverter
    role_grants = {"Cashier": READ, "ReadOnly": READ}
    exclude_route_methods = {"delete", "related", "distinct"}
    audited = True

    fill_defaults = EbsModelView.fill_defaults
    pre_add = EbsModelView.pre_add
    pre_update = EbsModelView.pre_update


class ReadOnlyModelApi(EbsModelApi):
    """Rows written by ``billing`` and RADIUS: read here, changed only by their owners."""

    exclude_route_methods = {"post", "put", "delete", "related", "distinct"}
