"""Operations: who is online (with Disconnect and speed re-apply through the worker), the
auth log that answers "why can't this subscriber connect?", and the IP leases.

The NAS is reached only by the worker: an action here sends ``ebs.kick_session`` or
``ebs.change_speed`` by name (webapp.tasks_client) and says so; the outcome shows when
the session closes or in the worker's CoA records. Every list filters on indexed columns
and counts through BoundedInterface, so a page costs the same at any table size.
"""

from __future__ import annotations

from decimal import Decimal

from flask import current_app, flash, redirect
from flask_appbuilder.actions import action
from flask_appbuilder.fieldwidgets import Select2Widget
from flask_appbuilder.forms import DynamicForm
from flask_appbuilder.models.sqla.filters import FilterEqual, FilterGreater, FilterSmaller
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from wtforms import SelectField

from webapp import labels, tasks_client
from webapp.models.network import IpLease, Nas
from webapp.models.radius import AuthLog, OpenSession
from webapp.numbers import format_decimal_text
from webapp.views.base import READ, BoundedInterface, EbsModelView, choice_field, exact, text_field

REASON_LABELS = labels.REJECT_REASONS
LEASE_STATES = labels.LEASE_STATES


def reason_label(code: str) -> str:
    return labels.label(REASON_LABELS, code)


def _megabytes(octets: int) -> str:
    return f"{(octets or 0) / 1_000_000:.1f}"


# What an online session and a past one both show, in the same order and words.
SESSION_START = ["username", "framed_ip", "nas_ip", "calling_station_id", "started_at"]
SESSION_USE = ["session_time", "input_octets", "output_octets"]
SESSION_FORMATTERS = {"input_octets": _megabytes, "output_octets": _megabytes}
SESSION_LABELS = {
    "acct_session_id": _l("NAS session"), "nas_id": _l("NAS"), "username": _l("Login"),
    "account_id": _l("Account id"), "framed_ip": _l("IP address"),
    "nas_ip": _l("NAS address"), "nas_port_id": _l("NAS port"),
    "calling_station_id": _l("Calling station"), "called_station_id": _l("Called station"),
    "started_at": _l("Started"), "session_time": _l("Seconds online"),
    "input_octets": _l("In, MB"), "output_octets": _l("Out, MB"),
}


class ReadOnlyView(EbsModelView):
    """Rows written by FreeRADIUS and the worker: nothing is added or edited here, so no
    add/edit form is built (FAB has no field for their inet columns)."""

    add_form = edit_form = DynamicForm
    audited = False


class OpenSessionView(ReadOnlyView):
    datamodel = BoundedInterface(OpenSession, exact("username", "framed_ip", "nas_ip"))
    list_title = _l("Online sessions")
    show_title = _l("Online session")
    base_permissions = ["can_list", "can_show"]
    list_columns = [*SESSION_START, *SESSION_USE]
    show_columns = ["acct_unique_id", "username", "account_id", "subaccount_id", "framed_ip",
                    "nas_ip", "nas_port_id", "calling_station_id", "called_station_id",
                    "started_at", "updated_at", "session_time", "input_octets",
                    "output_octets", "interim_interval"]
    search_columns = ["username", "framed_ip", "nas_ip"]
    search_form_extra_fields = {
        "username": text_field(_l("Login")),
        "framed_ip": text_field(_l("IP address")),
        "nas_ip": text_field(_l("NAS address")),
    }
    order_columns = ["started_at"]
    base_order = ("started_at", "desc")
    formatters_columns = SESSION_FORMATTERS
    label_columns = {
        **SESSION_LABELS, "given_state": _l("Given at login"), "acct_unique_id": _l("Session"),
        "subaccount_id": _l("Subaccount id"), "updated_at": _l("Last update"),
        "interim_interval": _l("Interim interval"),
    }
    # Disconnect and speed re-apply stay with Admin (not granted to any other role).
    role_grants = {"Cashier": READ, "ReadOnly": READ}

    def _send_each(self, items, task: str, done):
        # A session closed since the list was shown comes back as None: nothing to send.
        items = [item for item in (items if isinstance(items, list) else [items]) if item]
        if not items:
            flash(str(_l("The session is no longer online.")), "warning")
            return redirect(self.get_redirect())
        try:
            for item in items:
                tasks_client.send(task, item.acct_unique_id)
        except tasks_client.QueueUnavailable:
            flash(str(_l("The task queue is unavailable; nothing more was sent.")), "danger")
        else:
            flash(str(done(len(items))), "success")
        return redirect(self.get_redirect())

    @action("kick", _l("Disconnect"), _l("Disconnect the selected sessions?"), "fa-plug")
    def kick(self, items):
        return self._send_each(items, tasks_client.KICK_SESSION, lambda n: _l(
            "Disconnect requested for %(count)s session(s).", count=n))

    @action("change_speed", _l("Re-apply speed"), _l("Send the speed of the tariff again?"),
            "fa-tachometer")
    def change_speed(self, items):
        return self._send_each(items, tasks_client.CHANGE_SPEED, lambda n: _l(
            "Speed change requested for %(count)s session(s).", count=n))


def nas_choices() -> list[tuple[str, str]]:
    """Every NAS by name and address, read when the search form is drawn (a few rows):
    the auth log keeps the address the request came from."""
    rows = current_app.appbuilder.session.execute(
        select(Nas.name, Nas.ip_address).order_by(Nas.name))
    return [(str(address), f"{name} ({address})") for name, address in rows]


def answer_ms(microseconds: int | None) -> str:
    """A login's answer time in milliseconds, one decimal; empty for one answered in the
    degraded mode (written later from the spool, its time unknown)."""
    if microseconds is None:
        return ""
    return format_decimal_text((Decimal(microseconds) / 1000).quantize(Decimal("0.1")))


class AuthLogView(ReadOnlyView):
    """Read-only. Filters name the partitioned table's indexed columns (username with
    logged_at, nas_ip with logged_at, logged_at alone); the reason narrows what those
    already select."""

    datamodel = BoundedInterface(
        AuthLog,
        {"username": [FilterEqual], "reason": [FilterEqual], "nas_ip": [FilterEqual],
         "logged_at": [FilterGreater, FilterSmaller]},
    )
    list_title = _l("Auth log")
    base_permissions = ["can_list"]
    list_columns = ["logged_at", "username", "accepted", "reason", "guest", "nas_ip",
                    "calling_station_id", "answer_us"]
    search_columns = ["username", "nas_ip", "reason", "logged_at"]
    search_form_extra_fields = {
        "username": text_field(_l("Login")),
        "nas_ip": SelectField(_l("NAS"), choices=nas_choices, widget=Select2Widget()),
        "reason": choice_field(_l("Reason"), [(str(code), label)
                                               for code, label in REASON_LABELS.items()]),
    }
    order_columns = ["logged_at"]
    base_order = ("logged_at", "desc")
    formatters_columns = {"reason": reason_label, "answer_us": answer_ms}
    label_columns = {
        "logged_at": _l("When"), "username": _l("Login"), "accepted": _l("Accepted"),
        "reason": _l("Reason"), "guest": _l("Guest"), "nas_ip": _l("NAS address"),
        "calling_station_id": _l("Calling station"), "answer_us": _l("Answered in, ms"),
    }
    role_grants = {"Cashier": ("can_list",), "ReadOnly": ("can_list",)}


class IpLeaseView(ReadOnlyView):
    datamodel = BoundedInterface(IpLease, exact("address", "subaccount_id", "session_key"),
                                 eager=("pool", "subaccount"))
    list_title = _l("IP leases")
    base_permissions = ["can_list"]
    # The pool by name and the subaccount by login, loaded with the page's one query.
    list_columns = ["address", "state", "pool", "subaccount", "nas_ip", "leased_at",
                    "expires_at"]
    search_columns = ["address", "subaccount_id", "session_key"]
    search_form_extra_fields = {"address": text_field(_l("IP address")),
                                "session_key": text_field(_l("Session"))}
    order_columns = ["id"]
    base_order = ("id", "desc")
    formatters_columns = {"state": labels.formatter(LEASE_STATES)}
    label_columns = {
        "address": _l("IP address"), "state": _l("State"), "pool": _l("IP pool"),
        "subaccount": _l("Subaccount"), "subaccount_id": _l("Subaccount number"),
        "session_key": _l("Session"),
        "nas_ip": _l("NAS address"), "leased_at": _l("Leased"), "expires_at": _l("Expires"),
        "node": _l("RADIUS node"),
    }
    role_grants = {"Cashier": ("can_list",), "ReadOnly": ("can_list",)}
