"""What happened to accounts, read-only: status history (written by the database's
trigger on every change of status or block), suspensions and promised payments (made by
their ``billing`` services through the account's actions) and CoA/Disconnect requests
(written by the worker)."""

from __future__ import annotations

from flask_appbuilder.models.sqla.filters import FilterEqual
from flask_babel import lazy_gettext as _l

from webapp import labels
from webapp.models.accounts import AccountStatusHistory, AccountSuspension
from webapp.models.coa import CoaRequest
from webapp.models.promises import PromisedPayment
from webapp.views.base import READ, BoundedInterface, EbsModelView


class _HistoryView(EbsModelView):
    """Lists and details only: these rows are history or made by a service."""

    base_permissions = list(READ)
    audited = False


class StatusHistoryView(_HistoryView):
    datamodel = BoundedInterface(AccountStatusHistory, {"account_id": [FilterEqual]},
                                 eager=("account", "staff_user"))
    list_title = _l("Status history")
    list_columns = ["changed_at", "account", "what", "old_value", "new_value", "actor",
                    "staff_user", "reason"]
    search_columns = ["account_id"]
    base_order = ("changed_at", "desc")
    formatters_columns = {
        "what": labels.formatter(labels.HISTORY_SUBJECTS),
        "old_value": labels.history_value, "new_value": labels.history_value,
        "actor": labels.formatter(labels.ACTORS),
    }
    label_columns = {
        "changed_at": _l("When"), "account": _l("Account"), "account_id": _l("Account"),
        "what": _l("What"), "old_value": _l("Was"), "new_value": _l("Became"),
        "actor": _l("By"), "staff_user": _l("Staff"), "reason": _l("Reason"),
        "recorded_at": _l("Recorded"),
    }


class SuspensionView(_HistoryView):
    datamodel = BoundedInterface(AccountSuspension, {"account_id": [FilterEqual]},
                                 eager=("account", "tariff"))
    list_title = _l("Suspensions")
    list_columns = ["account", "tariff", "starts_at", "planned_until", "ended_at",
                    "end_reason", "cost", "requested_by"]
    search_columns = ["account_id"]
    base_order = ("starts_at", "desc")
    formatters_columns = {"end_reason": labels.formatter(labels.SUSPENSION_ENDS),
                          "requested_by": labels.formatter(labels.ACTORS)}
    description_columns = {"account": _l("Suspend or resume from the account's page.")}
    label_columns = {
        "created_at": _l("Created"),
        "account": _l("Account"), "account_id": _l("Account"), "tariff": _l("Tariff"),
        "starts_at": _l("From"), "planned_until": _l("Planned until"),
        "ended_at": _l("Ended"), "end_reason": _l("Why it ended"), "cost": _l("Cost"),
        "requested_by": _l("Requested by"), "reason": _l("Reason"),
    }


class PromisedPaymentView(_HistoryView):
    datamodel = BoundedInterface(PromisedPayment, {"account_id": [FilterEqual]},
                                 eager=("account",))
    list_title = _l("Promised payments")
    list_columns = ["account", "amount", "taken_at", "expires_at", "closed_at",
                    "close_reason"]
    search_columns = ["account_id"]
    base_order = ("taken_at", "desc")
    formatters_columns = {"close_reason": labels.formatter(labels.PROMISE_CLOSES)}
    label_columns = {
        "account": _l("Account"), "account_id": _l("Account"), "amount": _l("Amount"),
        "taken_at": _l("Taken"), "expires_at": _l("Expires"), "closed_at": _l("Closed"),
        "close_reason": _l("Why closed"),
    }


class CoaRequestView(_HistoryView):
    role_grants = {"ReadOnly": READ}  # the NAS side: Admin's, like the NAS list
    datamodel = BoundedInterface(CoaRequest, {"account_id": [FilterEqual],
                                              "acct_unique_id": [FilterEqual]},
                                 eager=("account", "nas"))
    list_title = _l("CoA requests")
    list_columns = ["requested_at", "kind", "account", "nas", "desired_state", "state",
                    "result", "attempts", "error"]
    search_columns = ["account_id", "acct_unique_id"]
    base_order = ("requested_at", "desc")
    formatters_columns = {
        "kind": labels.formatter(labels.COA_KINDS), "state": labels.formatter(labels.COA_STATES),
        "result": labels.formatter(labels.COA_RESULTS), "desired_state": labels.coa_desired_state,
        "reason": labels.formatter(labels.COA_REASONS),
    }
    label_columns = {
        "attributes": _l("Attributes"), "error_cause": _l("Error-Cause"),
        "requested_at": _l("Requested"), "kind": _l("Kind"), "account": _l("Account"),
        "account_id": _l("Account"), "nas": _l("NAS"), "desired_state": _l("Desired state"),
        "state": _l("State"), "result": _l("Result"), "attempts": _l("Attempts"),
        "error": _l("Error"), "acct_unique_id": _l("Session"), "reason": _l("Reason"),
        "finished_at": _l("Finished"),
    }
