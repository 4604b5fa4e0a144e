"""What a tariff charges from RADIUS accounting (flow/session_rater.py): the price of a
minute online by time period, the time service (the step a session's time is rounded up
to, prepaid minutes) and the traffic group its sessions' octet counters count in, for
NASes that export no NetFlow. Listed under the tariff, as its traffic prices."""

from __future__ import annotations

from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
from flask_babel import lazy_gettext as _l
from wtforms import IntegerField
from wtforms.validators import DataRequired, InputRequired, NumberRange, Optional

from webapp.decimal_field import DecimalTextField
from webapp.models.session_rating import (
    TariffAccountingTraffic,
    TariffTimePrice,
    TariffTimeService,
)
from webapp.numbers import format_decimal_text
from webapp.unique_key import OneRowPer
from webapp.views.base import BoundedInterface, EbsModelView
from webapp.views.tariff_traffic import any_time

_LABELS = {
    "tariff": _l("Tariff"), "time_period": _l("Time period"),
    "price_per_minute": _l("Price per minute"), "step_seconds": _l("Step, seconds"),
    "prepaid_minutes": _l("Prepaid, minutes"), "rollover": _l("Carry the rest over"),
    "prorate_first_period": _l("Prorate the first period"),
    "group": _l("Traffic group"),
}


class TariffTimePriceView(EbsModelView):
    datamodel = BoundedInterface(TariffTimePrice, eager=("tariff", "time_period"))
    list_title = _l("Time prices")
    list_columns = add_columns = edit_columns = ["tariff", "time_period", "price_per_minute"]
    add_form_extra_fields = edit_form_extra_fields = {
        "price_per_minute": DecimalTextField(
            _l("Price per minute"), [InputRequired(message=_l("Enter the price."))],
            places=6, description=_l("Up to six decimals, e.g. 0,05; zero: free.")),
    }
    validators_columns = {"tariff": [DataRequired(), OneRowPer(TariffTimePrice, _l(
        "The tariff already prices a minute at this time."), "time_period")]}
    description_columns = {
        "time_period": _l("Empty: any time. While a time period is in force its price "
                          "wins; of two, the one whose node started last."),
    }
    formatters_columns = {"price_per_minute": format_decimal_text, "time_period": any_time}
    label_columns = _LABELS


class TariffTimeServiceView(EbsModelView):
    """One row per tariff, keyed by it: the tariff is chosen when the row is added."""

    datamodel = BoundedInterface(TariffTimeService, eager=("tariff",))
    list_title = _l("Time service")
    list_columns = add_columns = ["tariff", "step_seconds", "prepaid_minutes", "rollover",
                                  "prorate_first_period"]
    edit_columns = list_columns[1:]
    add_form_extra_fields = edit_form_extra_fields = {
        "step_seconds": IntegerField(
            _l("Step, seconds"), widget=BS3TextFieldWidget(), default=60,
            validators=[InputRequired(message=_l("Enter the step.")), NumberRange(1, 86400)],
            description=_l("A session's time is rounded up to whole steps: 60 charges "
                           "every begun minute, 1 by the second.")),
        "prepaid_minutes": DecimalTextField(
            _l("Prepaid, minutes"), [Optional()], places=3,
            description=_l("Granted each settlement period, used before any minute is "
                           "priced; empty: none.")),
    }
    validators_columns = {"tariff": [DataRequired(), OneRowPer(TariffTimeService, _l(
        "The tariff already has a time service."))]}
    description_columns = {
        "rollover": _l("What is left at the period's end is added to the next one."),
        "prorate_first_period": _l("A first period that starts late is granted its share "
                                   "of the days."),
    }
    formatters_columns = {"prepaid_minutes": format_decimal_text}
    label_columns = _LABELS


class TariffAccountingTrafficView(EbsModelView):
    """One row per tariff, keyed by it: the tariff is chosen when the row is added."""

    datamodel = BoundedInterface(TariffAccountingTraffic, eager=("tariff", "group"))
    list_title = _l("Traffic from RADIUS counters")
    list_columns = add_columns = ["tariff", "group"]
    edit_columns = ["group"]
    validators_columns = {"tariff": [DataRequired(), OneRowPer(TariffAccountingTraffic, _l(
        "The tariff's counter traffic already counts in a group."))],
        "group": [DataRequired()]}
    description_columns = {
        "group": _l("For NASes without NetFlow: the sessions' input and output octets "
                    "count as this group's traffic (its direction says which), priced and "
                    "prepaid as the tariff's traffic prices say."),
    }
    label_columns = _LABELS
