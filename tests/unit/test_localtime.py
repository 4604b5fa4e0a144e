"""Moments as the ISP's staff read and type them (webapp.localtime): the ISP's clock, the
locale's writing, no offset and no microseconds; typed text resolved the way charging
and time windows resolve wall times on the days the clocks change."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask_babel import Babel
from wtforms import Form
from wtforms.validators import Optional

from webapp import localtime

MSK = ZoneInfo("Europe/Moscow")
BERLIN = ZoneInfo("Europe/Berlin")
STORED = datetime(2026, 12, 5, 15, 16, 59, 516874, tzinfo=UTC)  # as a list gets it


def test_a_stored_moment_reads_on_the_isp_clock_without_offset_or_microseconds():
    assert localtime.format_stamp(STORED, MSK, "ru") == "05.12.2026 18:16:59"
    assert localtime.format_stamp(STORED, MSK, "en") == "2026-12-05 18:16:59"
    assert localtime.format_minute(STORED, MSK, "ru") == "05.12.2026 18:16"
    assert localtime.format_clock(STORED, MSK) == "18:16:59"
    assert localtime.format_day(STORED, "ru", MSK) == "05.12.2026"
    assert localtime.format_day(date(2026, 1, 31), "en") == "2026-01-31"


def test_a_naive_value_is_taken_as_utc_and_none_reads_empty():
    assert localtime.format_stamp(datetime(2026, 12, 5, 15, 20), MSK, "ru") == \
        "05.12.2026 18:20:00"
    assert localtime.format_stamp(None) == localtime.format_minute(None) == ""
    assert localtime.format_day(None) == localtime.format_clock(None) == ""


def test_a_typed_moment_reads_as_it_was_typed():
    typed = datetime(2026, 12, 5, 15, 20, tzinfo=UTC)
    assert localtime.format_typed(typed, MSK, "ru") == "05.12.2026 18:20"
    assert localtime.format_typed(typed.replace(second=7), MSK, "ru") == "05.12.2026 18:20:07"


@pytest.mark.parametrize("text", [
    "05.12.2026 18:20", "5.12.2026 18:20", "2026-12-05 18:20", "2026-12-05T18:20",
    " 05.12.2026  18:20:00 ", "2026-12-05 18:20:00",
])
def test_moscow_1820_in_every_accepted_spelling_is_1520_utc(text):
    assert localtime.parse_local(text, MSK) == datetime(2026, 12, 5, 15, 20, tzinfo=UTC)


def test_seconds_and_a_day_alone():
    assert localtime.parse_local("05.12.2026 18:20:30", MSK) == \
        datetime(2026, 12, 5, 15, 20, 30, tzinfo=UTC)
    assert localtime.parse_local("01.01.2027", MSK) == datetime(2026, 12, 31, 21, 0, tzinfo=UTC)


@pytest.mark.parametrize("text", [
    "", "yesterday", "31.02.2026 10:00", "05.12.26 18:20", "2026-12-05 25:00",
    "2026-12-05 18:61", "12/05/2026 18:20", "05.12.2026 18", "2026-12-05 18:20+03:00",
])
def test_what_is_not_a_moment_is_none(text):
    assert localtime.parse_local(text, MSK) is None


def test_dst_days_resolve_as_the_charging_rules_do():
    # Berlin springs forward at 02:00 on 29 March 2026: 02:30 does not exist and is the
    # moment the clocks jump (01:00 UTC), as billing.wallclock resolves it.
    assert localtime.parse_local("29.03.2026 02:30", BERLIN) == \
        datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    assert localtime.parse_local("29.03.2026 03:30", BERLIN) == \
        datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    # It falls back at 03:00 on 25 October: 02:30 happens twice, the first one counts.
    assert localtime.parse_local("25.10.2026 02:30", BERLIN) == \
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    # Summer and winter hours of one zone differ by its offset, not by a fixed one.
    assert localtime.format_stamp(datetime(2026, 7, 1, 12, tzinfo=UTC), BERLIN, "ru") == \
        "01.07.2026 14:00:00"
    assert localtime.format_stamp(datetime(2026, 1, 1, 12, tzinfo=UTC), BERLIN, "ru") == \
        "01.01.2026 13:00:00"


class _Moment(Form):
    at = localtime.LocalDateTimeField("At", validators=[Optional()], tz=MSK)


class _Posted(dict):
    def getlist(self, key):
        return [self[key]] if key in self else []


@pytest.fixture
def russian_request():
    app = Flask(__name__)
    app.config["BABEL_DEFAULT_LOCALE"] = "ru"
    Babel(app)
    with app.test_request_context():
        yield


def test_the_field_gives_utc_and_shows_the_local_moment_back(russian_request):
    form = _Moment(_Posted(at="05.12.2026 18:20"))
    assert form.validate()
    assert form.at.data == datetime(2026, 12, 5, 15, 20, tzinfo=UTC)
    shown = _Moment(data={"at": form.at.data})
    assert shown.at._value() == "05.12.2026 18:20"
    html = str(shown.at())
    assert 'value="05.12.2026 18:20"' in html and "ebs-datetime" in html
    assert 'data-day-format="dd.mm.yyyy"' in html


def test_the_field_refuses_a_bad_moment_and_keeps_what_was_typed(russian_request):
    form = _Moment(_Posted(at="5 декабря"))
    assert not form.validate()
    assert form.at.data is None
    assert "ДД.ММ.ГГГГ ЧЧ:ММ" in form.at.errors[0] or "DD.MM.YYYY HH:MM" in form.at.errors[0]
    assert form.at._value() == "5 декабря"


def test_an_empty_field_is_none(russian_request):
    form = _Moment(_Posted(at="  "))
    assert form.validate() and form.at.data is None
