"""Past sessions (``sessions_history``, partitioned by the month they stopped), newest
stop first: the Operations list and the account card's tab.

The table grows by millions of rows; every way in is on an index: the whole list by stop
time (``sessions_history_stopped_idx``), a login with its stop time
(``sessions_history_username_idx``), an account with its stop time
(``sessions_history_account_idx``). The count is capped (``BoundedInterface``).
"""

from __future__ import annotations

from flask_appbuilder.models.sqla.filters import FilterEqual, FilterGreater, FilterSmaller
from flask_babel import lazy_gettext as _l

from billing.sessions import STALE_CAUSE
from webapp.models.radius import SessionHistory
from webapp.views.base import BoundedInterface, text_field
from webapp.views.operations import (
    SESSION_FORMATTERS,
    SESSION_LABELS,
    SESSION_START,
    SESSION_USE,
    ReadOnlyView,
)

TERMINATE_CAUSES = {
    "User-Request": _l("The subscriber ended it"),
    "Lost-Carrier": _l("Carrier lost"),
    "Lost-Service": _l("Service lost"),
    "Idle-Timeout": _l("Idle timeout"),
    "Session-Timeout": _l("Session timeout"),
    "Admin-Reset": _l("Reset by the administrator"),
    "Admin-Reboot": _l("NAS rebooted by the administrator"),
    "NAS-Request": _l("Ended by the NAS"),
    "NAS-Reboot": _l("NAS rebooted"),
    "NAS-Error": _l("NAS error"),
    "Port-Error": _l("Port error"),
    STALE_CAUSE: _l("No accounting: closed by the sweep"),
}


def terminate_cause_label(code: str) -> str:
    return str(TERMINATE_CAUSES.get(code, code or "—"))


class SessionHistoryView(ReadOnlyView):
    datamodel = BoundedInterface(
        SessionHistory,
        {"username": [FilterEqual], "account_id": [FilterEqual],
         "stopped_at": [FilterGreater, FilterSmaller]},
    )
    list_title = _l("Past sessions")
    base_permissions = ["can_list"]
    list_columns = [*SESSION_START, "stopped_at", *SESSION_USE, "terminate_cause"]
    search_columns = ["username", "account_id", "stopped_at"]
    search_form_extra_fields = {"username": text_field(_l("Login"))}
    order_columns = ["stopped_at"]
    base_order = ("stopped_at", "desc")
    formatters_columns = {**SESSION_FORMATTERS, "terminate_cause": terminate_cause_label}
    label_columns = {**SESSION_LABELS, "subaccount_id": _l("Subaccount"),
                     "stopped_at": _l("Stopped"), "terminate_cause": _l("Why it ended")}
    role_grants = {"Cashier": ("can_list",), "ReadOnly": ("can_list",)}
