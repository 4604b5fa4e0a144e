"""The ledger, read-only: globally and per account, filtered by kind, period and operator.

Entries are never edited or deleted; the one write here is the reversal action, a new
opposite entry posted by ``billing.payments.reverse_entry`` with the operator recorded.
"""

from __future__ import annotations

from flask import flash, g, redirect
from flask_appbuilder.actions import action
from flask_appbuilder.models.sqla.filters import (
    FilterEqual,
    FilterGreater,
    FilterRelationOneToManyEqual,
    FilterSmaller,
)
from flask_babel import lazy_gettext as _l

from billing import payments
from webapp import labels
from webapp.models.ledger import LedgerEntry
from webapp.views.base import READ, BoundedInterface, EbsModelView

KIND_LABELS = labels.LEDGER_KINDS


def kind_label(code: str) -> str:
    return labels.label(KIND_LABELS, code)


def raw_connection(session):
    """The psycopg connection under the ORM session, for ``billing`` services."""
    return session.connection().connection.driver_connection


class LedgerView(EbsModelView):
    datamodel = BoundedInterface(
        LedgerEntry,
        {
            "kind": [FilterEqual],
            "effective_at": [FilterGreater, FilterSmaller],
            "staff_user": [FilterRelationOneToManyEqual],
            "account_id": [FilterEqual],
        },
        eager=("account", "staff_user"),
    )
    list_title = _l("Ledger")
    show_title = _l("Ledger entry")
    base_permissions = ["can_list", "can_show"]
    list_columns = ["id", "effective_at", "account.contract", "kind", "amount",
                    "staff_user.username", "description", "reverses_id"]
    show_columns = ["id", "effective_at", "created_at", "account", "kind", "amount",
                    "staff_user", "description", "idempotency_key", "reverses_id", "details"]
    search_columns = ["kind", "effective_at", "staff_user", "account_id"]
    order_columns = ["id", "effective_at"]
    base_order = ("id", "desc")
    formatters_columns = {"kind": kind_label, "description": labels.ledger_description,
                          "details": labels.plain_mapping}
    label_columns = {
        "entry_kind": _l("Kind"),
        "id": _l("No."), "effective_at": _l("Effective"), "created_at": _l("Posted"),
        "account": _l("Account"), "account.contract": _l("Contract"),
        "account_id": _l("Account id"), "kind": _l("Kind"), "amount": _l("Amount"),
        "staff_user": _l("Operator"), "staff_user.username": _l("Operator"),
        "description": _l("Comment"), "idempotency_key": _l("Key"),
        "reverses_id": _l("Reverses"), "details": _l("Details"),
    }
    role_grants = {"Cashier": READ, "ReadOnly": READ}

    @action("reverse", _l("Reverse"), _l("Post a reversal of this entry?"),
            "fa-undo", multiple=False)
    def reverse(self, item):
        item = item[0] if isinstance(item, list) else item
        session = self.datamodel.session
        try:
            posted = payments.reverse_entry(
                raw_connection(session), item.id, staff_user_id=g.user.id,
                reason=str(_l("Reversed from the admin")),
            )
        except payments.PaymentError as exc:
            session.rollback()
            flash(str(exc), "danger")
        else:
            session.commit()
            flash(str(_l("Reversal No. %(id)s posted.", id=posted.id)), "success")
        return redirect(self.get_redirect())


class AccountLedgerView(LedgerView):
    """The same ledger, shown under an account (filtered by the relation)."""

    list_title = _l("Account ledger")
    list_columns = ["id", "effective_at", "kind", "amount", "staff_user.username",
                    "description", "reverses_id"]
