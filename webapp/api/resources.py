"""Tables as REST resources: accounts and tariffs (Admin writes, everyone with a role
reads), the ledger and the online sessions (read-only: money moves through the payment
action and ``billing``, sessions through RADIUS accounting).

Every filter a list offers is served by an index (``?q=(filters:!((col:contract,opr:eq,
value:'40001')))``); sorting is limited to indexed columns; ``count`` is exact up to
10,000 rows and the planner's estimate beyond (see ``webapp.views.base.BoundedInterface``).
"""

from __future__ import annotations

from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.models.sqla.filters import FilterEqual, FilterGreater, FilterSmaller
from marshmallow import ValidationError
from marshmallow.validate import OneOf
from sqlalchemy.exc import IntegrityError

from webapp.api.base import EbsModelApi, ReadOnlyModelApi, invalid
from webapp.credential_checks import chap_needs_key
from webapp.models.accounts import Account
from webapp.models.ledger import LedgerEntry
from webapp.models.radius import OpenSession
from webapp.models.tariffs import Tariff
from webapp.views.base import BoundedInterface, exact, prefix

# Entered and left only through the suspend / resume actions (their rules and money).
PLAIN_STATUSES = ("active", "inactive_charged", "inactive_uncharged")


class FilterPhone(BaseFilter):
    """Phone equality in the form the partial index ``accounts_phone_idx`` (phone <> '')
    serves."""

    name = "Equal to"
    arg_name = "eq"

    def apply(self, query, value):
        column = getattr(self.model, self.column_name)
        return query.filter(column != "", column == value)


def _not_negative(amount) -> None:
    if amount < 0:
        raise ValidationError("An amount cannot be negative.")


class WritableModelApi(EbsModelApi):
    """Admin's writes; validation errors answer 400 with the field messages and a
    unique-key clash 409, as the action resources do."""

    def response_422(self, message=None):
        if isinstance(message, dict):
            return self.response(400, **invalid(message))
        return super().response_422(message)

    def post_headless(self):
        try:
            return super().post_headless()
        except IntegrityError as exc:
            self.datamodel.session.rollback()
            detail = getattr(getattr(exc.orig, "diag", None), "message_detail", None)
            return self.response(409, message=detail or "The row conflicts with another.")


class AccountApi(WritableModelApi):
    resource_name = "account"
    datamodel = BoundedInterface(
        Account,
        {**exact("contract", "login"), "phone": [FilterPhone], **prefix("full_name", "street")},
    )
    search_columns = ["contract", "login", "phone", "full_name", "street"]
    list_columns = ["id", "contract", "login", "full_name", "phone", "street", "house", "flat",
                    "status", "balance", "credit", "blocked_by_balance", "blocked_by_limit"]
    show_columns = [*list_columns, "email", "city", "comment", "created_at"]
    add_columns = ["contract", "login", "full_name", "phone", "email", "city", "street",
                   "house", "flat", "status", "credit", "comment"]
    edit_columns = [c for c in add_columns if c != "status"]
    validators_columns = {"status": OneOf(PLAIN_STATUSES), "credit": _not_negative}
    order_columns = ["id", "contract", "login"]
    base_order = ("id", "desc")


class TariffApi(WritableModelApi):
    resource_name = "tariff"
    datamodel = BoundedInterface(Tariff, exact("name", "active"))
    search_columns = ["name", "active"]
    _fields = ["name", "description", "active", "access_type", "chap_enabled",
               "settlement_period_id", "access_time_period_id", "package_cost",
               "require_package_cost", "fill_up_to_package_cost", "ip_pool_id",
               "guest_pool_id", "allow_express_cards", "allow_balance_transfer",
               "allow_self_suspension", "suspension_cost", "suspension_min_balance",
               "suspension_max_days"]
    list_columns = show_columns = ["id", *_fields]
    add_columns = edit_columns = _fields
    validators_columns = {**{name: _not_negative for name in
                             ("package_cost", "suspension_cost", "suspension_min_balance")},
                          "chap_enabled": chap_needs_key}
    order_columns = ["id", "name"]
    base_order = ("name", "asc")


class LedgerEntryApi(ReadOnlyModelApi):
    """Entries newest first; per account, the (account_id, effective_at) index serves
    both the filter and the order."""

    resource_name = "ledger"
    datamodel = BoundedInterface(
        LedgerEntry,
        {"account_id": [FilterEqual], "kind": [FilterEqual], "staff_user_id": [FilterEqual],
         "effective_at": [FilterGreater, FilterSmaller]},
    )
    search_columns = ["account_id", "kind", "staff_user_id", "effective_at"]
    list_columns = ["id", "account_id", "kind", "amount", "effective_at", "created_at",
                    "staff_user_id", "description", "reverses_id"]
    show_columns = [*list_columns, "idempotency_key", "details"]
    order_columns = ["effective_at"]
    base_order = ("effective_at", "desc")


class SessionApi(ReadOnlyModelApi):
    """Sessions online now (``sessions_open``); Disconnect is ``POST
    /api/v1/session/<id>/kick`` (``webapp.api.kick``)."""

    resource_name = "session"
    datamodel = BoundedInterface(
        OpenSession, exact("acct_unique_id", "username", "framed_ip", "nas_ip", "account_id"))
    include_route_methods = {"get_list", "info"}  # text ids: filter by acct_unique_id
    search_columns = ["acct_unique_id", "username", "framed_ip", "nas_ip", "account_id"]
    list_columns = ["acct_unique_id", "acct_session_id", "account_id", "subaccount_id",
                    "username", "framed_ip", "nas_ip", "calling_station_id", "started_at",
                    "updated_at", "session_time", "input_octets", "output_octets"]
    order_columns = ["started_at"]
    base_order = ("started_at", "desc")
