"""A tariff's traffic limits: past so many megabytes of a group, per settlement period or
in a sliding window, the account is blocked or its speed changes (flow/limits.py checks
them after each rating run, billing/traffic_limits.py computes the speed). The table's
CHECK allows a speed only with action "speed", a speed text only with an absolute or
added speed and a percentage only with a percentage: each rule is said under its field
here, before the database would refuse the row."""

from __future__ import annotations

from datetime import timedelta

from flask_appbuilder.fieldwidgets import Select2Widget
from flask_babel import lazy_gettext as _l
from wtforms import SelectField
from wtforms.validators import (
    DataRequired,
    InputRequired,
    NumberRange,
    Optional,
    ValidationError,
)

from webapp import labels
from webapp.decimal_field import DecimalTextField
from webapp.models.traffic_limits import TariffTrafficLimit
from webapp.numbers import format_decimal_text
from webapp.validators import SpeedSyntax
from webapp.views.base import BoundedInterface, EbsModelView, choice_field, text_field
from webapp.views.periods import DurationField, duration_text

WITH_SPEED_TEXT = ("absolute", "add")


def _mode_or_none(value):
    return value if value not in (None, "", "None") else None


class WindowField(DurationField):
    """A sliding window typed as a length (``1:00``, ``1d 0:00``) and stored in seconds;
    empty: the settlement period."""

    def process_formdata(self, valuelist) -> None:
        if not valuelist or not str(valuelist[0]).strip():
            self.data = None
            return
        super().process_formdata(valuelist)
        self.data = int(self.data.total_seconds())

    def _value(self) -> str:
        if isinstance(self.data, int):
            return duration_text(timedelta(seconds=self.data))
        return super()._value()


def window_label(seconds: int | None) -> str:
    if seconds is None:
        return str(_l("Settlement period"))
    return str(_l("Last %(length)s", length=duration_text(timedelta(seconds=seconds))))


class _Positive:
    def __call__(self, form, field) -> None:
        if field.data is not None and field.data <= 0:
            raise ValidationError(_l("Must be more than zero."))


class _ModeFollowsAction:
    """A speed limit says how the speed changes; a block changes none."""

    def __call__(self, form, field) -> None:
        if form["action"].data == "speed" and field.data is None:
            raise ValidationError(_l("Choose how the speed changes."))
        if form["action"].data != "speed" and field.data is not None:
            raise ValidationError(_l("A block changes no speed: leave this empty."))


def _speed_wanted(form) -> bool:
    return form["action"].data == "speed" and form["speed_mode"].data in WITH_SPEED_TEXT


class _SpeedFollowsMode:
    """A speed text with an absolute or added speed only, read as the RADIUS reply
    reads it (billing/speeds.py)."""

    def __call__(self, form, field) -> None:
        if _speed_wanted(form):
            if not field.data:
                raise ValidationError(_l("Enter the speed."))
            SpeedSyntax()(form, field)
        elif field.data:
            raise ValidationError(_l("Only this speed or an added speed takes a speed: "
                                     "leave this empty."))


class _PercentFollowsMode:
    def __call__(self, form, field) -> None:
        wanted = form["action"].data == "speed" and form["speed_mode"].data == "percent"
        if wanted and field.data is None:
            raise ValidationError(_l("Enter the percentage."))
        if not wanted and field.data is not None:
            raise ValidationError(_l("Only a percentage of the tariff's speed takes a "
                                     "percentage: leave this empty."))


class TariffTrafficLimitView(EbsModelView):
    datamodel = BoundedInterface(TariffTrafficLimit, eager=("tariff", "group"))
    list_title = _l("Traffic limits")
    list_columns = ["tariff", "group", "megabytes", "window_seconds", "action",
                    "speed_mode", "speed", "percent"]
    add_columns = edit_columns = list_columns
    add_form_extra_fields = edit_form_extra_fields = {
        "megabytes": DecimalTextField(
            _l("Limit, MB"), [InputRequired(message=_l("Enter the megabytes.")),
                              _Positive()], places=3),
        "window_seconds": WindowField(
            _l("Sliding window"), [Optional(), NumberRange(1, 2**31 - 1, message=_l(
                "From a second to 24855 days."))],
            description=_l("Empty: the settlement period's traffic. Else the traffic of "
                           "the last HH:MM or N d HH:MM, e.g. 1d 0:00.")),
        "action": choice_field(_l("Past the limit"), labels.choices(labels.LIMIT_ACTIONS)),
        "speed_mode": SelectField(
            _l("Speed"), coerce=_mode_or_none, widget=Select2Widget(),
            choices=[("", labels.NOTHING_CHOSEN), *labels.choices(labels.LIMIT_SPEED_MODES)],
            validators=[_ModeFollowsAction()]),
        "speed": text_field(_l("Speed, MikroTik's form"), _SpeedFollowsMode(), description=_l(
            "upload/download [burst [threshold [time [priority [min]]]]], e.g. 1M/2M; "
            "added: the rates added to the tariff's.")),
        "percent": DecimalTextField(
            _l("Percentage"), [_Positive(), _PercentFollowsMode()], places=2, digits=6,
            description=_l("Of every rate of the tariff's speed, e.g. 50.")),
    }
    validators_columns = {"tariff": [DataRequired()], "group": [DataRequired()]}
    formatters_columns = {
        "megabytes": format_decimal_text, "percent": format_decimal_text,
        "window_seconds": window_label,
        "action": labels.formatter(labels.LIMIT_ACTIONS),
        "speed_mode": labels.formatter(labels.LIMIT_SPEED_MODES),
    }
    label_columns = {
        "tariff": _l("Tariff"), "group": _l("Traffic group"), "megabytes": _l("Limit, MB"),
        "window_seconds": _l("Sliding window"), "action": _l("Past the limit"),
        "speed_mode": _l("Speed"), "speed": _l("Speed, MikroTik's form"),
        "percent": _l("Percentage"),
    }
