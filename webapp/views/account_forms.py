"""The small forms of the account actions (status, suspension, tariff, passwords,
promised payment) and the operator's words for each refusal code of the ``billing``
services they call."""

from __future__ import annotations

from datetime import UTC, datetime

from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget, BS3TextFieldWidget, Select2Widget
from flask_appbuilder.forms import DynamicForm
from flask_babel import lazy_gettext as _l
from wtforms import IntegerField, PasswordField, SelectField, StringField
from wtforms.validators import (
    InputRequired,
    Length,
    NumberRange,
    Optional,
)

from webapp import labels
from webapp.localtime import LocalDateTimeField
from webapp.money_field import MoneyField
from webapp.validators import NonNegativeMoney

# Statuses an operator sets directly; "suspended" is entered by the suspension action.
SETTABLE_STATUSES = labels.choices(
    labels.ACCOUNT_STATUSES, ["active", "inactive_charged", "inactive_uncharged"])


def _reason_field():
    return StringField(_l("Reason"), widget=BS3TextFieldWidget(), validators=[Length(max=500)])


class StatusForm(DynamicForm):
    status = SelectField(_l("New status"), choices=SETTABLE_STATUSES, widget=Select2Widget())
    reason = _reason_field()


class SuspendForm(DynamicForm):
    days = IntegerField(_l("Days"), widget=BS3TextFieldWidget(),
                        validators=[Optional(), NumberRange(min=1)],
                        description=_l("Empty: the tariff's maximum, or until resumed."))
    reason = _reason_field()


class ResumeForm(DynamicForm):
    reason = _reason_field()


def moment_or_now(typed: datetime | None) -> datetime:
    """The moment a form's LocalDateTimeField gave, or now when it was left empty."""
    return typed or datetime.now(UTC)


class TariffForm(DynamicForm):
    tariff = SelectField(_l("Tariff"), coerce=int, widget=Select2Widget(),
                         validators=[InputRequired(message=_l("Choose a tariff."))])
    at = LocalDateTimeField(_l("From"), validators=[Optional()],
                            description=_l("Local time; empty: now. Not inside time "
                                           "already charged."))


class PasswordForm(DynamicForm):
    password = PasswordField(
        _l("New password"), widget=BS3PasswordFieldWidget(), validators=[Length(max=128)],
        description=_l("Leave empty to generate one: it is shown once, on the next page."))


class PromiseForm(DynamicForm):
    amount = MoneyField(_l("Amount"),
                        validators=[InputRequired(message=_l("Enter the amount.")),
                                    NonNegativeMoney()])


# The operator's words for the services' refusal codes (``billing.errors.Refused.code``);
# an unknown code shows the service's text.
REFUSALS = {
    "no_account": _l("No such account."),
    "unknown_account": _l("No such account."),
    "suspended": _l("The account is suspended: resume it first."),
    "already_suspended": _l("The account is already suspended."),
    "not_suspended": _l("The account is not suspended."),
    "not_active": _l("Only an active account can be suspended."),
    "in_the_past": _l("Charges are already settled past this moment."),
    "before_last_tick": _l("Charges are already settled past this moment: an assignment "
                           "cannot start inside time already charged."),
    "no_tariff": _l("The account has no tariff."),
    "not_allowed": _l("The tariff does not allow this."),
    "balance_too_low": _l("The balance is below the tariff's minimum for this."),
    "balance_below_minimum": _l("The balance is below the minimum for this."),
    "too_short": _l("A suspension lasts at least one day."),
    "too_long": _l("The tariff allows fewer days."),
    "unchanged": _l("Nothing to change: the account is already on this tariff, or has an "
                    "assignment at that moment."),
    "unknown_tariff": _l("This tariff is not available."),
    "tariff_inactive": _l("This tariff is not available."),
    "over_max_sum": _l("The amount is above the promised payment's maximum."),
    "already_open": _l("A promised payment is still open."),
    "too_soon": _l("The next promised payment is not possible yet."),
    "amount_not_positive": _l("The amount must be above zero."),
}


def refusal_text(exc: Exception) -> str:
    known = REFUSALS.get(getattr(exc, "code", ""))
    return f"{known} ({exc})" if known is not None else str(exc)
