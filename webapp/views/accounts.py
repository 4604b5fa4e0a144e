"""Accounts with their subaccounts and tariff assignments.

The balance is shown, never edited: money moves through the ledger views. Status,
suspension, tariff assignment and passwords are not columns of these forms: they change
through the account's actions (``webapp.views.account_actions``), each calling its
``billing`` service. A password is typed in clear once, when the account or subaccount is
created, and stored by ``billing.credentials`` as the hashes the cabinet (pbkdf2) and
RADIUS (NT hash) check; the cleartext for CHAP is sealed with the credentials key when
one exists.
"""

from __future__ import annotations

import ipaddress

from flask import current_app, redirect, url_for
from flask_appbuilder.actions import action
from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget
from flask_appbuilder.models.sqla.filters import FilterEqual
from flask_babel import lazy_gettext as _l
from sqlalchemy import inspect
from wtforms import PasswordField
from wtforms.validators import DataRequired, Optional

from billing import credentials
from billing.passwords import hash_password
from webapp import labels
from webapp.models.accounts import Account, AccountTariff, Subaccount
from webapp.pickers import account_picker
from webapp.validators import IpAddress, MacAddress, NonNegativeMoney
from webapp.views.account_filters import (
    FilterAccountSearch,
    FilterAddressContains,
    FilterNameContains,
    FilterPhoneDigits,
    FilterStartsWith,
)
from webapp.views.account_tabs import CARD_TABS, AccountCard
from webapp.views.base import (
    READ,
    BoundedInterface,
    EbsModelView,
    FilterLowerPrefix,
    exact,
    text_field,
)
from webapp.views.collector_change import CollectorChange
from webapp.views.ledger import AccountLedgerView


def _address(value) -> str | None:
    """An inet as read (an address object) or as typed (text), compared alike."""
    return None if value is None else str(ipaddress.ip_interface(str(value)).ip)


def _password_field(label):
    return PasswordField(label, validators=[Optional()], widget=BS3PasswordFieldWidget(),
                         description=_l("Empty: no password yet."))


class SubaccountView(CollectorChange, EbsModelView):
    datamodel = BoundedInterface(
        Subaccount, exact("username", "ip_address", "mac_address"), eager=("account", "nas"))
    list_title = _l("Subaccounts")
    list_columns = ["account", "username", "ip_address", "mac_address", "nas",
                    "allow_at_zero", "allow_negative", "allow_when_blocked"]
    search_columns = ["username", "ip_address", "mac_address"]
    search_form_extra_fields = {
        "ip_address": text_field(_l("IP address")),
        "mac_address": text_field(_l("MAC address")),
    }
    edit_columns = [
        "account", "username", "ip_address", "mac_address", "ip_pool", "nas",
        "option82_remote_id", "option82_circuit_id", "bind_to_mac", "bind_to_ip",
        "simultaneous_use", "allow_at_zero", "allow_negative", "allow_when_blocked",
    ]
    add_columns = [*edit_columns[:2], "password", *edit_columns[2:]]
    # The same fields in groups: who logs in, where from, DHCP's option 82, what is allowed.
    edit_fieldsets = [
        (_l("Login"), {"fields": ["account", "username"]}),
        (_l("Addresses and NAS"), {"fields": ["ip_address", "mac_address", "ip_pool", "nas",
                                      "bind_to_mac", "bind_to_ip"]}),
        (_l("DHCP option 82"), {"fields": ["option82_remote_id", "option82_circuit_id"]}),
        (_l("Access rules"), {"fields": ["simultaneous_use", "allow_at_zero",
                                         "allow_negative", "allow_when_blocked"]}),
    ]
    add_fieldsets = [(_l("Login"), {"fields": ["account", "username", "password"]}),
                     *edit_fieldsets[1:]]
    show_exclude_columns = ["nt_password_hash", "chap_password_encrypted"]
    show_template = "accounts/subaccount_show.html"
    edit_form_extra_fields = {
        # Searched as the operator types: a select of every account cannot load at 500k.
        "account": account_picker(_l("Account"), DataRequired()),
        "ip_address": text_field(_l("IP address"), Optional(), IpAddress(),
                                 description=_l("Empty: an address from the pool.")),
        "mac_address": text_field(_l("MAC address"), Optional(), MacAddress()),
    }
    add_form_extra_fields = {**edit_form_extra_fields,
                             "password": _password_field(_l("Network password"))}
    label_columns = {
        "bind_to_ip": _l("Bind to the IP address"), "bind_to_mac": _l("Bind to the MAC address"),
        "created_at": _l("Created"), "option82_circuit_id": _l("Option 82: circuit id"),
        "option82_remote_id": _l("Option 82: remote id"),
        "account": _l("Account"), "username": _l("Login"), "ip_address": _l("IP address"),
        "mac_address": _l("MAC address"), "nas": _l("NAS"), "ip_pool": _l("IP pool"),
        "allow_at_zero": _l("Allow at zero"), "allow_negative": _l("Allow negative"),
        "allow_when_blocked": _l("Allow when blocked"), "password": _l("Network password"),
        "simultaneous_use": _l("Simultaneous sessions"),
    }

    def changes_collector(self, item: Subaccount, change: str) -> bool:
        """Only a static address is the collector's (a subscriber's network outside the
        pools); a login, a password or a flag is not."""
        if change != "edit":
            return item.ip_address is not None
        history = inspect(item).attrs.ip_address.history
        before = [_address(value) for value in history.deleted]
        return bool(history.added) and [_address(v) for v in history.added] != before

    def pre_add(self, item: Subaccount) -> None:
        """The first network password, stored as ``billing.credentials`` stores every one
        (a later one is set by the subaccount's password action)."""
        super().pre_add(item)
        password = getattr(item, "password", None)
        if password:
            settings = current_app.config["EBS_SETTINGS"]
            key = credentials.optional_key(settings.CREDENTIALS_KEY,
                                           settings.CREDENTIALS_KEY_FILE)
            if key is not None:  # the sealed CHAP password is bound to the row's id
                self.datamodel.session.add(item)
                self.datamodel.session.flush()
            item.nt_password_hash, item.chap_password_encrypted = (
                credentials.network_credentials(password, key, item.id))


class AccountTariffView(EbsModelView):
    """Read-only: an assignment is made by the account's tariff action (one account) or
    the list's bulk action, both ``billing.tariff_change.bulk_change_tariff``."""

    datamodel = BoundedInterface(AccountTariff, eager=("account", "tariff"))
    base_permissions = list(READ)
    list_title = _l("Tariff assignments")
    list_columns = ["account", "tariff", "assigned_at"]
    base_order = ("assigned_at", "desc")
    label_columns = {"account": _l("Account"), "tariff": _l("Tariff"),
                     "assigned_at": _l("From")}


class AccountView(AccountCard, EbsModelView):
    datamodel = BoundedInterface(
        Account,
        {"contract": [FilterEqual, FilterStartsWith, FilterAccountSearch],
         "login": [FilterEqual, FilterStartsWith], **exact("status"),
         "phone": [FilterPhoneDigits],
         "full_name": [FilterNameContains, FilterLowerPrefix],
         "street": [FilterAddressContains, FilterLowerPrefix]},
        deferred_paging=True,
    )
    list_title = _l("Accounts")
    show_title = _l("Account")
    add_title = _l("New account")
    edit_title = _l("Edit account")
    list_columns = ["contract", "login", "full_name", "phone", "street", "house", "flat",
                    "status", "balance"]
    search_columns = ["contract", "login", "full_name", "phone", "street", "status"]
    order_columns = ["contract", "login"]  # the indexed ones: a sort never scans 500k rows
    show_exclude_columns = ["password_hash", "subaccounts"]
    edit_columns = ["contract", "login", "full_name", "phone", "email", "city", "street",
                    "house", "flat", "credit", "comment"]
    add_columns = [*edit_columns[:2], "cabinet_password", *edit_columns[2:]]
    add_form_extra_fields = {
        "cabinet_password": PasswordField(_l("Cabinet password"), validators=[DataRequired()],
                                          widget=BS3PasswordFieldWidget()),
    }
    show_template = "accounts/show.html"
    validators_columns = {
        "contract": [DataRequired()], "login": [DataRequired()], "credit": [NonNegativeMoney()],
    }
    # The card's tabs (webapp.views.account_tabs), each narrowed to the account.
    related_views = [SubaccountView, AccountTariffView, AccountLedgerView, *CARD_TABS]
    base_order = ("id", "desc")
    formatters_columns = {"status": labels.formatter(labels.ACCOUNT_STATUSES)}
    label_columns = {
        "contract": _l("Contract"), "login": _l("Login"), "full_name": _l("Full name"),
        "phone": _l("Phone"), "email": _l("E-mail"), "city": _l("City"),
        "street": _l("Street"), "house": _l("House"), "flat": _l("Flat"),
        "status": _l("Status"), "balance": _l("Balance"), "credit": _l("Credit"),
        "comment": _l("Comment"), "created_at": _l("Created"),
        "blocked_by_balance": _l("Blocked by balance"), "blocked_by_limit": _l("Blocked by limit"),
        "cabinet_password": _l("Cabinet password"),
    }

    def pre_add(self, item: Account) -> None:
        """A new account starts active with the cabinet password typed here; a later
        status or password is set by the account's actions."""
        super().pre_add(item)
        password = getattr(item, "cabinet_password", None)
        if password:
            item.password_hash = hash_password(password)

    @staticmethod
    def _chosen(items) -> str:
        items = items if isinstance(items, list) else [items]
        return ",".join(str(item.id) for item in items if item is not None)

    @action("bulk_tariff", _l("Change tariff"), icon="fa-exchange", single=False)
    def bulk_tariff(self, items):
        """The chosen accounts go to the bulk form (tariff and moment chosen there)."""
        return redirect(url_for("AccountActionsView.bulk_tariff", ids=self._chosen(items)))

    @action("mailing", _l("Send a message"), icon="fa-envelope-o", single=False)
    def mailing(self, items):
        """The chosen accounts go to the mailing form (template and time chosen there)."""
        return redirect(url_for("MailingView.new", ids=self._chosen(items)))
