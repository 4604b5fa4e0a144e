"""Accounts with their subaccounts and tariff assignments.

The balance is shown, never edited: money moves through the ledger views. Passwords are
typed in clear once and stored as the hashes the cabinet (pbkdf2) and RADIUS (NT hash)
check; the cleartext for CHAP is sealed with the credentials key when one exists.
"""

from __future__ import annotations

from flask import current_app
from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget
from flask_babel import lazy_gettext as _l
from wtforms import PasswordField
from wtforms.validators import DataRequired, Optional

from billing.credentials import CredentialCipher, CredentialError, load_key, nt_password_hash
from billing.passwords import hash_password
from webapp.models.accounts import Account, AccountTariff, Subaccount
from webapp.validators import IpAddress, MacAddress, NonNegativeMoney
from webapp.views.base import (
    BoundedInterface,
    EbsModelView,
    FilterFilledEqual,
    choice_field,
    exact,
    prefix,
    text_field,
)
from webapp.views.ledger import AccountLedgerView

ACCOUNT_STATUSES = [
    ("active", _l("Active")),
    ("inactive_charged", _l("Inactive, charged")),
    ("inactive_uncharged", _l("Inactive, not charged")),
    ("suspended", _l("Suspended")),
]


def _password_field(label):
    return PasswordField(label, validators=[Optional()], widget=BS3PasswordFieldWidget(),
                         description=_l("Leave empty to keep the current one."))


class SubaccountView(EbsModelView):
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
    edit_columns = add_columns = [
        "account", "username", "password", "ip_address", "mac_address", "ip_pool", "nas",
        "option82_remote_id", "option82_circuit_id", "bind_to_mac", "bind_to_ip",
        "simultaneous_use", "allow_at_zero", "allow_negative", "allow_when_blocked",
    ]
    show_exclude_columns = ["nt_password_hash", "chap_password_encrypted"]
    add_form_extra_fields = edit_form_extra_fields = {
        "password": _password_field(_l("Network password")),
        "ip_address": text_field(_l("IP address"), Optional(), IpAddress(),
                                 description=_l("Empty: an address from the pool.")),
        "mac_address": text_field(_l("MAC address"), Optional(), MacAddress()),
    }
    label_columns = {
        "account": _l("Account"), "username": _l("Login"), "ip_address": _l("IP address"),
        "mac_address": _l("MAC address"), "nas": _l("NAS"), "ip_pool": _l("IP pool"),
        "allow_at_zero": _l("Allow at zero"), "allow_negative": _l("Allow negative"),
        "allow_when_blocked": _l("Allow when blocked"), "password": _l("Network password"),
        "simultaneous_use": _l("Simultaneous sessions"),
    }

    def _set_password(self, item: Subaccount) -> None:
        password = getattr(item, "password", None)
        if not password:
            return
        item.nt_password_hash = nt_password_hash(password)
        settings = current_app.config["EBS_SETTINGS"]
        try:
            key = load_key(settings.CREDENTIALS_KEY, settings.CREDENTIALS_KEY_FILE)
        except (CredentialError, OSError):
            return  # no key on this host: CHAP stays off for this subaccount
        item.chap_password_encrypted = CredentialCipher(key).seal(password)

    def pre_add(self, item: Subaccount) -> None:
        super().pre_add(item)
        self._set_password(item)

    def pre_update(self, item: Subaccount) -> None:
        super().pre_update(item)
        self._set_password(item)


class AccountTariffView(EbsModelView):
    datamodel = BoundedInterface(AccountTariff, eager=("account", "tariff"))
    list_title = _l("Tariff assignments")
    list_columns = ["account", "tariff", "assigned_at"]
    add_columns = edit_columns = ["account", "tariff", "assigned_at"]
    base_order = ("assigned_at", "desc")
    label_columns = {"account": _l("Account"), "tariff": _l("Tariff"),
                     "assigned_at": _l("From")}


class AccountView(EbsModelView):
    datamodel = BoundedInterface(
        Account,
        {**exact("contract", "login", "status"), "phone": [FilterFilledEqual],
         **prefix("full_name", "street")},
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
    add_columns = edit_columns = [
        "contract", "login", "cabinet_password", "full_name", "phone", "email", "city",
        "street", "house", "flat", "status", "credit", "comment",
    ]
    add_form_extra_fields = {
        "cabinet_password": PasswordField(_l("Cabinet password"), validators=[DataRequired()],
                                          widget=BS3PasswordFieldWidget()),
        "status": choice_field(_l("Status"), ACCOUNT_STATUSES),
    }
    edit_form_extra_fields = {
        "cabinet_password": _password_field(_l("Cabinet password")),
        "status": choice_field(_l("Status"), ACCOUNT_STATUSES),
    }
    validators_columns = {
        "contract": [DataRequired()], "login": [DataRequired()], "credit": [NonNegativeMoney()],
    }
    related_views = [SubaccountView, AccountTariffView, AccountLedgerView]
    base_order = ("id", "desc")
    label_columns = {
        "contract": _l("Contract"), "login": _l("Login"), "full_name": _l("Full name"),
        "phone": _l("Phone"), "email": _l("E-mail"), "city": _l("City"),
        "street": _l("Street"), "house": _l("House"), "flat": _l("Flat"),
        "status": _l("Status"), "balance": _l("Balance"), "credit": _l("Credit"),
        "comment": _l("Comment"), "created_at": _l("Created"),
        "blocked_by_balance": _l("Blocked by balance"), "blocked_by_limit": _l("Blocked by limit"),
        "cabinet_password": _l("Cabinet password"),
    }

    def _set_password(self, item: Account) -> None:
        password = getattr(item, "cabinet_password", None)
        if password:
            item.password_hash = hash_password(password)

    def pre_add(self, item: Account) -> None:
        super().pre_add(item)
        self._set_password(item)

    def pre_update(self, item: Account) -> None:
        super().pre_update(item)
        self._set_password(item)
