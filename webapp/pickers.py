"""Pickers of accounts and subaccounts that search as the operator types.

A relation select built by FAB lists every row of the related table in the page: at
500,000 accounts the subaccount form could not load. Here the page holds only the chosen
row; the list comes from a JSON endpoint (``PickerView``) that asks
``billing.account_search`` / ``billing.subaccount_search`` for at most ``PICKER_LIMIT``
matches of what was typed, and the browser shows them with FAB's own Select2 (no CDN).
The form reads the chosen id back as the ORM object (one primary-key lookup), so FAB's
``populate_obj`` sets the relation as before.
"""

from __future__ import annotations

from typing import ClassVar

from flask import current_app, jsonify, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access_api, permission_name
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from wtforms import Field
from wtforms.validators import StopValidation

from billing.account_search import find_accounts
from billing.subaccount_search import find_subaccounts

PICKER_LIMIT = 20


def account_label(contract: str, full_name: str | None, login: str | None = None) -> str:
    label = f"{contract} — {full_name or ''}".rstrip(" —")
    return f"{label} ({login})" if login and login != contract else label


def subaccount_label(username: str | None, contract: str, full_name: str | None) -> str:
    return f"{username or '—'} · {account_label(contract, full_name)}"


class PickerWidget:
    """A ``<select>`` holding only the chosen option; ``static/ebs_picker.js`` turns it
    into a Select2 that asks ``endpoint`` as the operator types."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint

    def __call__(self, field, **kwargs) -> Markup:
        chosen = field.chosen_option()
        option = Markup("")
        if chosen is not None:
            option = Markup('<option value="{}" selected>{}</option>').format(*chosen)
        return Markup(
            '<select id="{}" name="{}" class="form-control ebs-picker" style="width: 100%"'
            ' data-endpoint="{}" data-placeholder="{}" data-too-short="{}"'
            ' data-no-results="{}" data-searching="{}"><option value=""></option>{}</select>'
            '<script src="{}"></script>'
        ).format(field.id, field.name, url_for(self.endpoint),
                 _("Type a contract, login, name, phone or street"),
                 _("Type at least one character"), _("Nothing found"), _("Searching…"),
                 option, url_for("static", filename="ebs_picker.js"))


class RecordPicker(Field):
    """A relation field whose choices are searched, never listed (see the module)."""

    def __init__(self, label=None, validators=None, *, model=None, endpoint: str = "",
                 describe=str, **kwargs) -> None:
        super().__init__(label, validators, widget=PickerWidget(endpoint), **kwargs)
        self.model = model
        self.describe = describe
        self._raw = ""

    def chosen_option(self) -> tuple[str, str] | None:
        if self.data is None:
            return None
        return str(self.data.id), self.describe(self.data)

    def _value(self) -> str:
        return "" if self.data is None else str(self.data.id)

    def process_formdata(self, valuelist) -> None:
        self._raw = (valuelist[0] if valuelist else "") or ""
        self.data = None
        if self._raw.strip().isdigit():
            self.data = current_app.appbuilder.session.get(self.model, int(self._raw))

    def pre_validate(self, form) -> None:
        if self._raw.strip() and self.data is None:
            # Stops the chain: a required check after it would call the typed id empty.
            raise StopValidation(_l("Choose one of the matches offered."))


def account_picker(label, *validators, **kwargs) -> RecordPicker:
    from webapp.models.accounts import Account

    return RecordPicker(label, list(validators), model=Account,
                        endpoint="PickerView.accounts",
                        describe=lambda a: account_label(a.contract, a.full_name, a.login),
                        **kwargs)


def subaccount_picker(label, *validators, **kwargs) -> RecordPicker:
    from webapp.models.accounts import Subaccount

    return RecordPicker(label, list(validators), model=Subaccount,
                        endpoint="PickerView.subaccounts",
                        describe=lambda s: subaccount_label(
                            s.username, s.account.contract, s.account.full_name),
                        **kwargs)


def _raw_connection():
    return current_app.appbuilder.session.connection().connection.driver_connection


class PickerView(BaseView):
    """The pickers' JSON: ``{"results": [{"id", "text"}]}``, as Select2 reads it."""

    route_base = "/pick"
    default_view = "accounts"
    role_grants: ClassVar[dict[str, tuple[str, ...]]] = {
        "Cashier": ("can_pick",), "ReadOnly": ("can_pick",)}

    @expose("/accounts")
    @has_access_api
    @permission_name("pick")
    def accounts(self):
        rows = find_accounts(_raw_connection(), request.args.get("q"), PICKER_LIMIT)
        return jsonify(results=[
            {"id": r["id"], "text": account_label(r["contract"], r["full_name"], r["login"])}
            for r in rows])

    @expose("/subaccounts")
    @has_access_api
    @permission_name("pick")
    def subaccounts(self):
        rows = find_subaccounts(_raw_connection(), request.args.get("q"), PICKER_LIMIT)
        return jsonify(results=[
            {"id": r["id"], "text": subaccount_label(r["username"], r["contract"],
                                                     r["full_name"])}
            for r in rows])
