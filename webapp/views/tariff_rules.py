"""The rules a tariff sets for its subscribers' own actions: the tariff-change matrix
(``billing.tariff_change`` reads it) and the promised-payment settings
(``billing.promise`` reads them; the row without a tariff is the global one)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms.validators import DataRequired, InputRequired, NumberRange, ValidationError

from webapp import labels
from webapp.models.promises import PromiseSettings
from webapp.models.tariffs import TariffChangeRule
from webapp.validators import NonNegativeMoney
from webapp.views.base import BoundedInterface, EbsModelView, choice_field
from webapp.views.periods import DurationField

EFFECTIVE = labels.choices(labels.TARIFF_CHANGE_EFFECTIVE)


class _OtherThanFrom:
    def __call__(self, form, field) -> None:
        if field.data is not None and field.data == form["from_tariff"].data:
            raise ValidationError(_l("A change goes to another tariff."))


class TariffChangeRuleView(EbsModelView):
    datamodel = BoundedInterface(TariffChangeRule, eager=("from_tariff", "to_tariff"))
    list_title = _l("Tariff-change rules")
    list_columns = ["from_tariff", "to_tariff", "allowed", "cost", "min_balance",
                    "min_time_on_tariff", "effective"]
    add_columns = edit_columns = list_columns
    add_form_extra_fields = edit_form_extra_fields = {
        "effective": choice_field(_l("Takes effect"), EFFECTIVE),
        "min_time_on_tariff": DurationField(
            _l("Minimum time on the current tariff"), validators=[InputRequired()],
            default="0:00"),
    }
    validators_columns = {
        "from_tariff": [DataRequired()], "to_tariff": [DataRequired(), _OtherThanFrom()],
        "cost": [NonNegativeMoney()],
    }
    formatters_columns = {"effective": labels.formatter(labels.TARIFF_CHANGE_EFFECTIVE)}
    label_columns = {
        "from_tariff": _l("From tariff"), "to_tariff": _l("To tariff"),
        "allowed": _l("Allowed"), "cost": _l("Cost"), "min_balance": _l("Minimum balance"),
        "min_time_on_tariff": _l("Minimum time on the current tariff"),
        "effective": _l("Takes effect"),
    }


class PromiseSettingsView(EbsModelView):
    datamodel = BoundedInterface(PromiseSettings, eager=("tariff",))
    list_title = _l("Promised-payment settings")
    list_columns = ["tariff", "allowed", "max_sum", "min_balance", "days", "cooldown_days"]
    add_columns = edit_columns = list_columns
    validators_columns = {
        "max_sum": [InputRequired(), NonNegativeMoney()],
        "days": [InputRequired(), NumberRange(min=1)],
        "cooldown_days": [NumberRange(min=0)],
    }
    description_columns = {"tariff": _l("Empty: the settings of every tariff without "
                                        "its own.")}
    label_columns = {
        "tariff": _l("Tariff"), "allowed": _l("Allowed"), "max_sum": _l("Maximum sum"),
        "min_balance": _l("Minimum balance"), "days": _l("Days"),
        "cooldown_days": _l("Days between promises"),
    }
