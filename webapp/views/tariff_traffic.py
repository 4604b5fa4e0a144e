"""A tariff's traffic service: the price of a group's megabyte by time period, and the
megabytes of a group prepaid each settlement period. flow/rating.py reads both when it
rates the collector's rows; the tariff's page lists them under it, as its speeds."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms.validators import DataRequired, InputRequired

from webapp.decimal_field import DecimalTextField
from webapp.models.traffic_rating import TariffTrafficPrepaid, TariffTrafficPrice
from webapp.numbers import format_decimal_text
from webapp.unique_key import OneRowPer
from webapp.views.base import BoundedInterface, EbsModelView

_LABELS = {
    "tariff": _l("Tariff"), "group": _l("Traffic group"), "time_period": _l("Time period"),
    "price_per_mb": _l("Price per MB"), "megabytes": _l("Prepaid, MB"),
    "rollover": _l("Carry the rest over"),
    "prorate_first_period": _l("Prorate the first period"),
}


def any_time(period) -> str:
    return str(period) if period is not None else str(_l("Any time"))


class TariffTrafficPriceView(EbsModelView):
    datamodel = BoundedInterface(TariffTrafficPrice, eager=("tariff", "group", "time_period"))
    list_title = _l("Traffic prices")
    list_columns = ["tariff", "group", "time_period", "price_per_mb"]
    add_columns = edit_columns = ["tariff", "group", "time_period", "price_per_mb"]
    add_form_extra_fields = edit_form_extra_fields = {
        "price_per_mb": DecimalTextField(
            _l("Price per MB"), [InputRequired(message=_l("Enter the price."))], places=6,
            description=_l("Up to six decimals, e.g. 0,05; zero: free.")),
    }
    validators_columns = {"tariff": [DataRequired()], "group": [
        DataRequired(), OneRowPer(TariffTrafficPrice, _l(
            "The tariff already prices this group at this time."), "group", "time_period")]}
    description_columns = {
        "time_period": _l("Empty: any time. While a time period is in force its price "
                          "wins; of two, the one whose node started last."),
    }
    formatters_columns = {"price_per_mb": format_decimal_text, "time_period": any_time}
    label_columns = _LABELS


class TariffTrafficPrepaidView(EbsModelView):
    datamodel = BoundedInterface(TariffTrafficPrepaid, eager=("tariff", "group"))
    list_title = _l("Prepaid traffic")
    list_columns = ["tariff", "group", "megabytes", "rollover", "prorate_first_period"]
    add_columns = edit_columns = ["tariff", "group", "megabytes", "rollover",
                                  "prorate_first_period"]
    add_form_extra_fields = edit_form_extra_fields = {
        "megabytes": DecimalTextField(
            _l("Prepaid, MB"), [InputRequired(message=_l("Enter the megabytes."))],
            places=3, description=_l("Granted each settlement period, used before any "
                                     "megabyte is priced.")),
    }
    validators_columns = {"tariff": [DataRequired()], "group": [
        DataRequired(), OneRowPer(TariffTrafficPrepaid, _l(
            "The tariff already has prepaid traffic of this group."), "group")]}
    description_columns = {
        "rollover": _l("What is left at the period's end is added to the next one."),
        "prorate_first_period": _l("A first period that starts late is granted its share "
                                   "of the days."),
    }
    formatters_columns = {"megabytes": format_decimal_text}
    label_columns = _LABELS
