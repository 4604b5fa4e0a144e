"""Time as the ISP's staff read and type it: the wall clock of ``TIME_ZONE``.

Instants are stored in UTC (``timestamptz``); a person sees and types them in the ISP's
timezone, in the locale's way of writing (``05.12.2026 18:20`` in Russian, ISO in
English). Everything a page shows or a form reads goes through here, so a moment shown
on a list, a card, a receipt or a flash message is one and the same text, and a time
typed on a form means what it says (18:20 typed in Moscow is 15:20 UTC).

Wall times a clock change skips or repeats are resolved by ``billing.wallclock.resolve``,
the rule charging and time windows use: a skipped time is the moment the clocks jump, a
repeated one its first occurrence.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from flask import current_app, has_request_context
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from wtforms import DateTimeField, Field
from wtforms.fields.core import UnboundField
from wtforms.widgets import TextInput

from billing.wallclock import resolve

# strftime patterns per language; any other language writes ISO.
_DAY = {"ru": "%d.%m.%Y"}
_ISO_DAY = "%Y-%m-%d"
# The picker's pattern for the same day (bootstrap-datepicker's notation).
_PICKER_DAY = {"ru": "dd.mm.yyyy"}
_ISO_PICKER_DAY = "yyyy-mm-dd"
_HINT = {"ru": _l("DD.MM.YYYY HH:MM"), "": _l("YYYY-MM-DD HH:MM")}

# 05.12.2026 or 2026-12-05, then optionally 18:20 or 18:20:05 (a T also separates).
_TYPED = re.compile(
    r"^\s*(?:(?P<d>\d{1,2})\.(?P<m>\d{1,2})\.(?P<y>\d{4})"
    r"|(?P<iy>\d{4})-(?P<im>\d{1,2})-(?P<id>\d{1,2}))"
    r"(?:(?:\s+|T)(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?)?\s*$"
)


def language() -> str:
    """The language of the page being rendered ('' outside a request)."""
    if not has_request_context():
        return ""
    locale = get_locale()
    return getattr(locale, "language", "") or ""


def zone() -> ZoneInfo:
    """The ISP's timezone (``TIME_ZONE``) of the running app; UTC outside one."""
    try:
        name = current_app.config["EBS_SETTINGS"].TIME_ZONE
    except (RuntimeError, KeyError, AttributeError):
        return ZoneInfo("UTC")
    return ZoneInfo(name)


def _local(value: datetime, tz: ZoneInfo | None) -> datetime:
    """``value`` on the ISP's wall clock; a naive value is taken as UTC (as stored)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(tz or zone())


def day_pattern(lang: str | None = None) -> str:
    return _DAY.get(language() if lang is None else lang, _ISO_DAY)


def picker_day_pattern(lang: str | None = None) -> str:
    return _PICKER_DAY.get(language() if lang is None else lang, _ISO_PICKER_DAY)


def typing_hint(lang: str | None = None) -> str:
    """How to type a moment, in the page's language (placeholder and error text)."""
    return str(_HINT.get(language() if lang is None else lang, _HINT[""]))


def format_stamp(value, tz: ZoneInfo | None = None, lang: str | None = None) -> str:
    """A stored instant on the ISP's clock to the second (``05.12.2026 18:16:59``);
    None reads empty; a value that is not a datetime reads as it is."""
    if value is None:
        return ""
    if not isinstance(value, datetime):
        return value
    return _local(value, tz).strftime(day_pattern(lang) + " %H:%M:%S")


def format_minute(value, tz: ZoneInfo | None = None, lang: str | None = None) -> str:
    """To the minute (``05.12.2026 18:20``): for moments people type and plan by."""
    if value is None:
        return ""
    if not isinstance(value, datetime):
        return value
    return _local(value, tz).strftime(day_pattern(lang) + " %H:%M")


def format_typed(value, tz: ZoneInfo | None = None, lang: str | None = None) -> str:
    """A moment a person typed, shown as typed: to the minute, to the second only when
    the seconds were given."""
    if isinstance(value, datetime) and _local(value, tz).second:
        return format_stamp(value, tz, lang)
    return format_minute(value, tz, lang)


def format_clock(value, tz: ZoneInfo | None = None) -> str:
    """The local time of day (``18:20:05``), for lists inside one day (a shift)."""
    if value is None:
        return ""
    return _local(value, tz).strftime("%H:%M:%S")


def local_day(value, tz: ZoneInfo | None = None):
    """The ISP's calendar day of an instant; a date stays itself."""
    return _local(value, tz).date() if isinstance(value, datetime) else value


def format_day(value, lang: str | None = None, tz: ZoneInfo | None = None) -> str:
    """A calendar day (``05.12.2026``); an instant is taken on the ISP's clock."""
    if value is None:
        return ""
    value = local_day(value, tz)
    if not isinstance(value, date):
        return value
    return value.strftime(day_pattern(lang))


def parse_local(text: str | None, tz: ZoneInfo) -> datetime | None:
    """The aware UTC instant of a moment typed on the wall clock of ``tz``:
    ``05.12.2026 18:20``, ``2026-12-05 18:20``, seconds optional, a day alone is its
    midnight. None when the text is none of these or no such day or time exists."""
    match = _TYPED.match(text or "")
    if match is None:
        return None
    parts = match.groupdict()
    year, month, day = ((parts["y"], parts["m"], parts["d"]) if parts["y"]
                        else (parts["iy"], parts["im"], parts["id"]))
    try:
        wall = datetime(int(year), int(month), int(day), int(parts["H"] or 0),
                        int(parts["M"] or 0), int(parts["S"] or 0))
    except ValueError:
        return None
    return resolve(wall, tz)


class LocalDateTimeWidget:
    """A text input with the calendar button the picker (``ebs/datetime.js``) opens."""

    def __call__(self, field, **kwargs) -> Markup:
        kwargs.setdefault("placeholder", typing_hint())
        kwargs["class_"] = " ".join(dict.fromkeys(
            ["form-control", *str(kwargs.pop("class_", "") or "").split(),
             *str(kwargs.pop("class", "") or "").split()]))
        return Markup(
            '<div class="input-group date ebs-datetime" data-day-format="{fmt}" '
            'data-language="{lang}">'
            '<span class="input-group-addon ebs-datetime-open" title="{title}">'
            '<i class="fa fa-calendar cursor-hand"></i></span>{input}</div>'
        ).format(fmt=picker_day_pattern(), lang=language() or "en",
                 title=_l("Choose on the calendar"),
                 input=TextInput()(field, autocomplete="off", **kwargs))


class LocalDateTimeField(Field):
    """A moment typed on the ISP's clock; ``data`` is an aware UTC datetime (None when
    left empty: a required field says so through its InputRequired/DataRequired)."""

    widget = LocalDateTimeWidget()

    def __init__(self, label=None, validators=None, tz: ZoneInfo | None = None, **kwargs):
        super().__init__(label, validators, **kwargs)
        self._tz = tz

    def _value(self) -> str:
        if self.raw_data:
            return self.raw_data[0]
        if isinstance(self.data, datetime):
            return format_typed(self.data, self._tz)
        return ""

    def process_formdata(self, valuelist) -> None:
        if not valuelist:
            return
        raw = (valuelist[0] or "").strip()
        if not raw:
            self.data = None
            return
        moment = parse_local(raw, self._tz or zone())
        if moment is None:
            self.data = None
            raise ValueError(_l("Give the moment as %(hint)s (local time), e.g. %(example)s.",
                                hint=typing_hint(), example=_example()))
        self.data = moment


def local_datetime_fields(form_class, columns) -> None:
    """Make each of ``columns`` in a FAB-built form class a :class:`LocalDateTimeField`,
    keeping its label, description, validators and place; a field a view chose itself
    (anything but FAB's plain DateTimeField) stays."""
    for name in columns:
        unbound = getattr(form_class, name, None)
        if not isinstance(unbound, UnboundField) or unbound.field_class is not DateTimeField:
            continue
        kwargs = {k: v for k, v in unbound.kwargs.items() if k not in ("widget", "format")}
        field = LocalDateTimeField(*unbound.args, **kwargs)
        field.creation_counter = unbound.creation_counter
        setattr(form_class, name, field)


def _example() -> str:
    return datetime(2026, 12, 5, 18, 20).strftime(day_pattern() + " %H:%M")


def install(app) -> None:
    """The Jinja filters templates show times with: ``stamp`` (to the second),
    ``stamp_minute``, ``clock`` (time of day) and ``day``."""
    app.add_template_filter(format_stamp, "stamp")
    app.add_template_filter(format_minute, "stamp_minute")
    app.add_template_filter(format_clock, "clock")
    app.add_template_filter(format_day, "day")
