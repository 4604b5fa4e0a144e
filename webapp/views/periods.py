"""Settlement periods and time periods with their nodes."""

from __future__ import annotations

import re
from datetime import timedelta

from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
from flask_babel import lazy_gettext as _l
from wtforms import StringField
from wtforms.validators import DataRequired, InputRequired, NumberRange, Optional, ValidationError

from webapp import labels
from webapp.models.periods import SettlementPeriod, TimePeriod, TimePeriodNode
from webapp.views.base import BoundedInterface, EbsModelView, choice_field

UNITS = labels.choices(labels.PERIOD_UNITS)
REPEATS = labels.choices(labels.REPEATS)


_DURATION = re.compile(r"^\s*(?:(\d+)\s*d\s*)?(?:(\d+):(\d{2})(?::(\d{2}))?)?\s*$")


def duration_text(length: timedelta) -> str:
    """``[N d] H:MM[:SS]``, the form :class:`DurationField` reads back."""
    hours, rest = divmod(length.seconds, 3600)
    text = f"{hours}:{rest // 60:02d}" + (f":{rest % 60:02d}" if rest % 60 else "")
    return f"{length.days}d {text}" if length.days else text


class DurationField(StringField):
    """A length as ``[N d] HH:MM[:SS]`` (``6:00``, ``1d 12:00``); FAB has no interval field."""

    widget = BS3TextFieldWidget()

    def _value(self) -> str:
        if not isinstance(self.data, timedelta):
            return self.data or ""
        return duration_text(self.data)

    def process_formdata(self, valuelist) -> None:
        raw = (valuelist[0] if valuelist else "").strip()
        match = _DURATION.match(raw)
        if not raw or match is None or not any(match.groups()):
            self.data = None
            raise ValueError(_l("Give the length as HH:MM or as N d HH:MM."))
        days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
        self.data = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


class _SecondsOnlyForSeconds:
    def __call__(self, form, field) -> None:
        if (form["unit"].data == "SECONDS") != bool(field.data):
            raise ValidationError(_l("Give the length in seconds exactly when the unit is "
                                     "'a number of seconds'."))


class _AnchorUnlessAutostart:
    def __call__(self, form, field) -> None:
        if not form["autostart"].data and not field.data:
            raise ValidationError(_l("A period that does not start with each account needs "
                                     "a start moment."))


class SettlementPeriodView(EbsModelView):
    datamodel = BoundedInterface(SettlementPeriod)
    list_title = _l("Settlement periods")
    list_columns = ["name", "unit", "length_seconds", "autostart", "anchor"]
    add_columns = edit_columns = ["name", "unit", "length_seconds", "autostart", "anchor"]
    add_form_extra_fields = edit_form_extra_fields = {"unit": choice_field(_l("Unit"), UNITS)}
    validators_columns = {
        "name": [DataRequired()],
        "length_seconds": [Optional(), NumberRange(min=1), _SecondsOnlyForSeconds()],
        "anchor": [_AnchorUnlessAutostart()],
    }
    formatters_columns = {"unit": labels.formatter(labels.PERIOD_UNITS)}
    label_columns = {
        "name": _l("Name"), "unit": _l("Unit"), "length_seconds": _l("Length, seconds"),
        "autostart": _l("Starts with each account"), "anchor": _l("Start moment"),
    }
    description_columns = {
        "anchor": _l("On the ISP's clock: periods start at this local time, e.g. "
                     "midnight of the 1st."),
    }


class TimePeriodNodeView(EbsModelView):
    datamodel = BoundedInterface(TimePeriodNode, eager=("time_period",))
    list_title = _l("Time period nodes")
    list_columns = ["time_period", "name", "starts_at", "length", "repeat"]
    add_columns = edit_columns = ["time_period", "name", "starts_at", "length", "repeat"]
    add_form_extra_fields = edit_form_extra_fields = {
        "repeat": choice_field(_l("Repeat"), REPEATS),
        "length": DurationField(_l("Length"), validators=[InputRequired()],
                                description=_l("HH:MM, or N d HH:MM")),
    }
    validators_columns = {"time_period": [DataRequired()], "starts_at": [DataRequired()]}
    description_columns = {
        "starts_at": _l("The first start, on the ISP's clock; each repeat starts at the "
                        "same local time (a night 01:00-07:00 starts at 01:00)."),
    }
    formatters_columns = {"repeat": labels.formatter(labels.REPEATS)}
    label_columns = {
        "time_period": _l("Time period"), "name": _l("Name"), "starts_at": _l("Starts at"),
        "length": _l("Length"), "repeat": _l("Repeat"),
    }


class TimePeriodView(EbsModelView):
    datamodel = BoundedInterface(TimePeriod)
    list_title = _l("Time periods")
    list_columns = ["name"]
    add_columns = edit_columns = ["name"]
    show_exclude_columns = ["nodes"]
    validators_columns = {"name": [DataRequired()]}
    related_views = [TimePeriodNodeView]
    label_columns = {"nodes": _l("Intervals"), "name": _l("Name")}
