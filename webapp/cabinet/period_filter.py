"""The date filter and the pages of the cabinet's long lists (the ledger, the sessions).

A subscriber filters by calendar days on the ISP's clock (``TIME_ZONE``), both ends
included, either end left open; the filter is a GET form, so a filtered page is a link
that can be kept, and the CSV of the same range is the same link on another route. The
form changes nothing, so it carries no CSRF token.

The days become half-open instants at local midnights (``billing.wallclock.resolve``,
the rule of every calendar step), so a filtered list and its totals hold exactly the
rows of those days.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import request
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import Field
from wtforms.validators import Optional, ValidationError
from wtforms.widgets import TextInput

from billing.wallclock import resolve
from webapp import localtime

PAGE_SIZE = 50
# 2026-12-05, or 05.12.2026 as Russian writes it.
_DAY = re.compile(r"^\s*(?:(?P<iy>\d{4})-(?P<im>\d{1,2})-(?P<id>\d{1,2})"
                  r"|(?P<d>\d{1,2})\.(?P<m>\d{1,2})\.(?P<y>\d{4}))\s*$")
BAD_DAY = _l("Give the date as YYYY-MM-DD or DD.MM.YYYY.")


def parse_day(text: str) -> date | None:
    """The calendar day typed, or None when it is no day."""
    match = _DAY.match(text or "")
    if match is None:
        return None
    parts = match.groupdict()
    year, month, day = ((parts["iy"], parts["im"], parts["id"]) if parts["iy"]
                        else (parts["y"], parts["m"], parts["d"]))
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        return None


class LocalDayField(Field):
    """A calendar day; the browser's date picker (it sends ISO), or typed."""

    widget = TextInput(input_type="date")

    def _value(self) -> str:
        # A day read is written back as ISO, what a date input shows; a wrong one as typed.
        if isinstance(self.data, date):
            return self.data.isoformat()
        return self.raw_data[0] if self.raw_data else ""

    def process_formdata(self, valuelist) -> None:
        raw = (valuelist[0] or "").strip() if valuelist else ""
        if not raw:
            self.data = None
            return
        self.data = parse_day(raw)
        if self.data is None:
            raise ValueError(str(BAD_DAY))


class PeriodForm(FlaskForm):
    class Meta:
        csrf = False  # a GET filter: it reads, never writes

    start = LocalDayField(_l("From"), validators=[Optional()])
    end = LocalDayField(_l("To"), validators=[Optional()])

    def validate_end(self, field) -> None:
        if field.data and self.start.data and field.data < self.start.data:
            raise ValidationError(str(_l("The end of the range is before its start.")))


@dataclass(frozen=True)
class Period:
    """The filter's range as instants: ``since`` included, ``until`` excluded, each
    None when open."""

    since: datetime | None
    until: datetime | None

    def params(self) -> dict:
        return {"since": self.since, "until": self.until}


def period_form() -> tuple[PeriodForm, Period | None]:
    """The request's filter and its range; the range is None when the filter is wrong
    (the form then holds the field messages)."""
    form = PeriodForm(formdata=request.args)
    if not form.validate():
        return form, None
    zone = localtime.zone()

    def midnight(day: date | None) -> datetime | None:
        return resolve(datetime(day.year, day.month, day.day), zone) if day else None

    end = form.end.data + timedelta(days=1) if form.end.data else None
    return form, Period(midnight(form.start.data), midnight(end))


def page_number() -> int:
    """``?page=``: 0 for the newest, never below."""
    return max(request.args.get("page", 0, type=int) or 0, 0)


def paging(page: int) -> dict:
    """``:limit`` and ``:offset`` of a page; one row more than shown tells whether an
    older page follows."""
    return {"limit": PAGE_SIZE + 1, "offset": page * PAGE_SIZE}


def page_rows(rows: list, page: int) -> dict:
    """What the template's pager needs: the rows shown and whether there is more."""
    return {"rows": rows[:PAGE_SIZE], "page": page, "more": len(rows) > PAGE_SIZE}


def filter_args(form: PeriodForm) -> dict:
    """The filter as query-string arguments, for the pager's and the CSV's links."""
    return {name: form[name].data.isoformat() for name in ("start", "end")
            if form[name].data}
