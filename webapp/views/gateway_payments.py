"""Payments through the gateways, as the operator checks them: each payment with its
moves (and the ledger entry each posted) and the notifications that came for it; every
notification, forged and refused ones too; the move paid ↔ cancelled when a bank takes
money back or gives it again (Admin only, through billing.gateway_payments, which posts
the credit or its reversal once per move); and the reconciliation (payments whose
ledger entries are missing or doubled), which must be empty.

Granted like the ledger: ReadOnly and Cashier read, only Admin moves a payment.
"""

from __future__ import annotations

from flask import abort, flash, g, redirect, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.forms import DynamicForm
from flask_appbuilder.models.sqla.filters import FilterEqual, FilterGreater, FilterSmaller
from flask_appbuilder.security.decorators import permission_name
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape
from sqlalchemy import text
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length

from billing import gateway_payments
from billing.errors import Refused
from webapp import audit, labels
from webapp.models.gateway_payments import (
    GatewayNotification,
    GatewayPayment,
    GatewayPaymentChange,
)
from webapp.views import account_forms
from webapp.views.base import BoundedInterface, choice_field, exact, text_field
from webapp.views.ledger import raw_connection
from webapp.views.operations import ReadOnlyView
from webapp.views.tariff_in_force import account_with_tariff
from webapp.views.traffic_reconciliation import account_link

GRANT = ("can_list", "can_show")
_ACCOUNT = text("SELECT id, contract, full_name, status, balance FROM accounts WHERE id = :id")
PAYMENT_STATES = {"pending": _l("Awaiting the provider"), "paid": _l("Paid"),
                  "cancelled": _l("Cancelled")}
OUTCOMES = {"ok": _l("Applied"), "duplicate": _l("Repeat, nothing new"),
            "error": _l("Failed on our side")}


def outcome_label(code: str | None) -> str:
    """An outcome by its label; a refusal with its reason code (bad_signature …)."""
    if code is None:
        return labels.EMPTY
    if code.startswith("refused:"):
        refused = _l("Refused")
        return f"{refused}: {code.split(':', 1)[1]}"
    return labels.label(OUTCOMES, code)


def payment_link(payment) -> Markup | str:
    if payment is None:
        return labels.EMPTY
    href = url_for("GatewayPaymentView.show", pk=payment.id)
    return Markup('<a href="{}">{}</a>').format(href, escape(
        f"{payment.backend} {payment.provider_txn_id}"))


class GatewayPaymentChangeView(ReadOnlyView):
    """A payment's moves, on its page."""

    datamodel = BoundedInterface(GatewayPaymentChange, exact("payment_id"),
                                 eager=("staff_user", "ledger_entry"))
    list_title = _l("State changes")
    base_permissions = ["can_list"]
    list_columns = ["change_no", "at", "from_state", "to_state", "staff_user", "reason",
                    "ledger_entry_id"]
    formatters_columns = {"from_state": labels.formatter(PAYMENT_STATES),
                          "to_state": labels.formatter(PAYMENT_STATES)}
    label_columns = {"change_no": _l("No."), "at": _l("When"), "from_state": _l("From"),
                     "to_state": _l("To"), "staff_user": _l("Operator"),
                     "reason": _l("Reason"), "ledger_entry_id": _l("Ledger entry"),
                     "ledger_entry": _l("Ledger entry"), "payment": _l("Payment")}
    base_order = ("change_no", "asc")
    role_grants = {"ReadOnly": ("can_list",), "Cashier": ("can_list",)}


class GatewayNotificationView(ReadOnlyView):
    datamodel = BoundedInterface(
        GatewayNotification,
        {"backend": [FilterEqual], "outcome": [FilterEqual], "payment_id": [FilterEqual],
         "received_at": [FilterGreater, FilterSmaller]},
        eager=("payment",))
    list_title = _l("Payment notifications")
    show_title = _l("Payment notification")
    base_permissions = ["can_list", "can_show"]
    list_columns = ["received_at", "backend", "source", "method", "outcome",
                    "answer_status", "payment"]
    show_columns = ["received_at", "backend", "peer", "source", "method", "path", "query",
                    "headers", "body_text", "outcome", "answer_status", "answer", "payment"]
    search_columns = ["backend", "outcome", "received_at"]
    search_form_extra_fields = {"backend": text_field(_l("Backend")),
                                "outcome": text_field(_l("Outcome"))}
    order_columns = ["received_at"]
    base_order = ("received_at", "desc")
    formatters_columns = {"outcome": outcome_label, "payment": payment_link}
    label_columns = {"received_at": _l("Received"), "backend": _l("Backend"),
                     "peer": _l("Connection from"), "source": _l("Source"),
                     "method": _l("Method"), "path": _l("Path"), "query": _l("Query"),
                     "headers": _l("Headers"), "body_text": _l("Body"),
                     "outcome": _l("Outcome"), "answer_status": _l("HTTP status"),
                     "answer": _l("Our answer"), "payment": _l("Payment"),
                     "body": _l("Body")}
    description_columns = {
        "source": _l("The address believed: the connection's, or a trusted proxy's "
                     "forwarded-for."),
    }
    role_grants = {"ReadOnly": GRANT, "Cashier": GRANT}


class GatewayPaymentView(ReadOnlyView):
    datamodel = BoundedInterface(
        GatewayPayment,
        {"backend": [FilterEqual], "state": [FilterEqual], "provider_txn_id": [FilterEqual],
         "account_id": [FilterEqual], "created_at": [FilterGreater, FilterSmaller]},
        eager=("account",))
    list_title = _l("Gateway payments")
    show_title = _l("Gateway payment")
    base_permissions = ["can_list", "can_show"]
    list_columns = ["created_at", "backend", "provider_txn_id", "account", "amount",
                    "currency", "state", "changes"]
    show_columns = ["backend", "provider_txn_id", "account", "amount", "currency", "state",
                    "changes", "provider_at", "created_at", "updated_at", "details"]
    search_columns = ["backend", "state", "provider_txn_id", "created_at"]
    search_form_extra_fields = {
        "backend": text_field(_l("Backend")),
        "state": choice_field(_l("State"), labels.choices(PAYMENT_STATES)),
        "provider_txn_id": text_field(_l("Provider's transaction")),
    }
    order_columns = ["created_at", "amount"]
    base_order = ("created_at", "desc")
    formatters_columns = {"state": labels.formatter(PAYMENT_STATES),
                          "account": account_link}
    label_columns = {"backend": _l("Backend"), "provider_txn_id": _l("Provider's transaction"),
                     "account": _l("Account"), "amount": _l("Amount"),
                     "currency": _l("Currency"), "state": _l("State"),
                     "changes": _l("Changes"), "provider_at": _l("Paid at the provider"),
                     "created_at": _l("Received"), "updated_at": _l("Last change"),
                     "details": _l("Details"), "moves": _l("State changes"),
                     "notifications": _l("Payment notifications")}
    related_views = [GatewayPaymentChangeView, GatewayNotificationView]
    show_template = "gateway_payments/show.html"
    role_grants = {"ReadOnly": GRANT, "Cashier": GRANT}


class PaymentStateForm(DynamicForm):
    state = SelectField(_l("New state"), choices=labels.choices(
        PAYMENT_STATES, only=["paid", "cancelled"]))
    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=500)],
                         description=_l("Why: the bank's letter, the provider's ticket."))


class GatewayPaymentStateView(BaseView):
    """Paid ↔ cancelled by hand; the ledger follows once per move."""

    route_base = "/gateway-payment-state"
    default_view = "change"

    @expose("/<int:payment_id>", methods=["GET", "POST"])
    @has_access
    @permission_name("change_state")
    def change(self, payment_id: int):
        db = self.appbuilder.session
        payment = gateway_payments.get(raw_connection(db), payment_id)
        if payment is None:
            abort(404)
        back = url_for("GatewayPaymentView.show", pk=payment_id)
        form = PaymentStateForm()
        refused = None
        if form.validate_on_submit():
            try:
                moved = gateway_payments.change_state(
                    raw_connection(db), payment_id, form.state.data, staff_user_id=g.user.id,
                    reason=form.reason.data)
            except Refused as exc:
                db.rollback()
                refused = account_forms.refusal_text(exc)
            else:
                if moved is None:
                    db.rollback()
                    flash(str(_l("The payment is in that state already; nothing changed.")),
                          "info")
                    return redirect(back)
                audit.record_action(db, "status", "gateway_payments", payment_id,
                                    {"from": moved.from_state, "to": moved.to_state,
                                     "change": moved.change_no,
                                     "ledger_entry": moved.ledger_entry_id,
                                     "reason": form.reason.data})
                db.commit()
                flash(str(_l("The payment is %(state)s; the ledger follows.",
                             state=labels.label(PAYMENT_STATES, moved.to_state))), "success")
                return redirect(back)
        account = account_with_tariff(db, _ACCOUNT, payment.account_id)
        return self.render_template(
            "accounts/action.html", account=account, form=form,
            title=_l("Payment %(txn)s through %(backend)s: %(amount)s, now %(state)s",
                     txn=payment.provider_txn_id, backend=payment.backend,
                     amount=payment.amount,
                     state=labels.label(PAYMENT_STATES, payment.state)),
            button=_l("Change state"), refused=refused, back=back, chosen=None, more=0,
            note=_l("Paid credits the amount; cancelled takes it back. Each change is one "
                    "ledger entry."))


class GatewayReconciliationView(BaseView):
    """Payments whose ledger entries do not add up to their state: must be empty."""

    route_base = "/gateway-reconciliation"
    default_view = "report"

    @expose("/")
    @has_access
    @permission_name("report")
    def report(self):
        found = gateway_payments.reconcile(raw_connection(self.appbuilder.session))
        self.appbuilder.session.rollback()
        return self.render_template("gateway_payments/reconciliation.html", found=found,
                                    states=PAYMENT_STATES)

    role_grants = {"ReadOnly": ("can_report",), "Cashier": ("can_report",)}
