"""Tariffs with their periodic and one-time services and speeds by time of day."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms.validators import DataRequired, NumberRange, Optional

from webapp import labels
from webapp.credential_checks import ChapNeedsKey
from webapp.models.tariffs import OnetimeService, PeriodicService, Tariff, TariffSpeed
from webapp.validators import NonNegativeMoney, SpeedSyntax
from webapp.views.base import BoundedInterface, EbsModelView, choice_field, prefix
from webapp.views.tariff_accounting import (
    TariffAccountingTrafficView,
    TariffTimePriceView,
    TariffTimeServiceView,
)
from webapp.views.tariff_limits import TariffTrafficLimitView
from webapp.views.tariff_traffic import TariffTrafficPrepaidView, TariffTrafficPriceView

CHARGE_METHODS = labels.choices(labels.CHARGE_METHODS)
CONDITIONS = labels.choices(labels.CHARGE_CONDITIONS)
ACCESS_TYPES = labels.choices(labels.ACCESS_TYPES)

_LABELS = {
    "tariff": _l("Tariff"), "name": _l("Name"), "cost": _l("Cost"),
    "settlement_period": _l("Settlement period"), "charge_method": _l("Charge method"),
    "charges_per_day": _l("Charges a day"), "condition": _l("Condition"),
    "condition_sum": _l("Condition sum"), "prorate_from_condition": _l("Prorate from condition"),
    "active_from": _l("Active from"), "active_until": _l("Active until"),
    "time_period": _l("Time period"), "speed": _l("Speed"),
}


class PeriodicServiceView(EbsModelView):
    datamodel = BoundedInterface(PeriodicService, eager=("tariff", "settlement_period"))
    list_title = _l("Periodic services")
    list_columns = ["tariff", "name", "settlement_period", "cost", "charge_method", "condition"]
    add_columns = edit_columns = [
        "tariff", "name", "settlement_period", "cost", "charge_method", "charges_per_day",
        "condition", "condition_sum", "prorate_from_condition", "active_from", "active_until",
    ]
    add_fieldsets = edit_fieldsets = [
        (_l("General parameters"), {"fields": ["tariff", "name", "settlement_period", "cost"]}),
        (_l("Charges"), {"fields": ["charge_method", "charges_per_day", "condition",
                                    "condition_sum", "prorate_from_condition"]}),
        (_l("In force"), {"fields": ["active_from", "active_until"]}),
    ]
    add_form_extra_fields = edit_form_extra_fields = {
        "charge_method": choice_field(_l("Charge method"), CHARGE_METHODS),
        "condition": choice_field(_l("Condition"), CONDITIONS),
    }
    validators_columns = {
        "name": [DataRequired()], "cost": [DataRequired(), NonNegativeMoney()],
        "settlement_period": [DataRequired()],
        "charges_per_day": [Optional(), NumberRange(1, 1440)],
    }
    formatters_columns = {"charge_method": labels.formatter(labels.CHARGE_METHODS),
                          "condition": labels.formatter(labels.CHARGE_CONDITIONS)}
    label_columns = _LABELS


class OnetimeServiceView(EbsModelView):
    datamodel = BoundedInterface(OnetimeService, eager=("tariff",))
    list_title = _l("One-time services")
    list_columns = ["tariff", "name", "cost"]
    add_columns = edit_columns = ["tariff", "name", "cost"]
    validators_columns = {"name": [DataRequired()], "cost": [NonNegativeMoney()]}
    label_columns = _LABELS


class TariffSpeedView(EbsModelView):
    datamodel = BoundedInterface(TariffSpeed, eager=("tariff", "time_period"))
    list_title = _l("Speeds")
    list_columns = ["tariff", "time_period", "speed"]
    add_columns = edit_columns = ["tariff", "time_period", "speed"]
    validators_columns = {"speed": [DataRequired(), SpeedSyntax()]}
    description_columns = {
        "speed": _l("MikroTik rate-limit: upload/download [burst [threshold [time "
                    "[priority [min]]]]], e.g. 10M/20M"),
        "time_period": _l("Empty for the default speed; a time period overrides it."),
    }
    label_columns = _LABELS


class TariffView(EbsModelView):
    datamodel = BoundedInterface(Tariff, prefix("name"), eager=("settlement_period",))
    list_title = _l("Tariffs")
    show_title = _l("Tariff")
    add_title = _l("New tariff")
    edit_title = _l("Edit tariff")
    list_columns = ["name", "active", "access_type", "settlement_period", "package_cost"]
    search_columns = ["name"]
    # Grouped as ExpertBilling's guide walks through a tariff: general parameters, access,
    # charges, what the subscriber may do, and blocking (self-suspension).
    add_fieldsets = edit_fieldsets = [
        (_l("General parameters"), {"fields": ["name", "description", "active"]}),
        (_l("Access"), {"fields": ["access_type", "chap_enabled", "ip_pool", "guest_pool",
                                   "access_time_period"]}),
        (_l("Charges"), {"fields": ["settlement_period", "package_cost",
                                    "require_package_cost", "fill_up_to_package_cost"]}),
        (_l("Subscriber's options"), {"fields": ["allow_express_cards",
                                                 "allow_balance_transfer"]}),
        (_l("Blocking parameters"), {"fields": ["allow_self_suspension", "suspension_cost",
                                                "suspension_min_balance",
                                                "suspension_max_days"]}),
    ]
    show_fieldsets = [*add_fieldsets, (_l("Record"), {"fields": ["created_at"]})]
    add_columns = edit_columns = [field for _title, group in add_fieldsets
                                  for field in group["fields"]]
    add_form_extra_fields = edit_form_extra_fields = {
        "access_type": choice_field(_l("Access type"), ACCESS_TYPES),
    }
    validators_columns = {
        "name": [DataRequired()],
        "package_cost": [NonNegativeMoney()],
        "suspension_cost": [NonNegativeMoney()],
        "suspension_max_days": [Optional(), NumberRange(min=1)],
        "chap_enabled": [ChapNeedsKey()],
    }
    related_views = [PeriodicServiceView, OnetimeServiceView, TariffSpeedView,
                     TariffTrafficPriceView, TariffTrafficPrepaidView, TariffTrafficLimitView,
                     TariffAccountingTrafficView, TariffTimePriceView, TariffTimeServiceView]
    formatters_columns = {"access_type": labels.formatter(labels.ACCESS_TYPES)}
    label_columns = {
        "created_at": _l("Created"),
        **_LABELS,
        "description": _l("Description"), "active": _l("Active"),
        "access_type": _l("Access type"), "chap_enabled": _l("CHAP allowed"),
        "access_time_period": _l("Access window"), "package_cost": _l("Package cost"),
        "require_package_cost": _l("Require package cost at period start"),
        "fill_up_to_package_cost": _l("Fill up to package cost"),
        "ip_pool": _l("IP pool"), "guest_pool": _l("Guest pool"),
        "allow_express_cards": _l("Express cards"),
        "allow_balance_transfer": _l("Balance transfer"),
        "allow_self_suspension": _l("Self-suspension"),
        "suspension_cost": _l("Suspension cost"),
        "suspension_min_balance": _l("Minimum balance to suspend"),
        "suspension_max_days": _l("Suspension at most, days"),
    }
