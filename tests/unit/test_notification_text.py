"""What a message is before any provider sees it: the number, the text, its parts, the
hour it may leave."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from billing.notifications import phones, quiet_hours, sms_text, templates

MOSCOW = ZoneInfo("Europe/Moscow")


@pytest.mark.parametrize("raw", ["8 (916) 123-45-67", "+7 916 123 45 67", "9161234567",
                                 "89161234567", " +7(916)123-4567 "])
def test_russian_mobile_numbers_as_people_type_them(raw):
    assert phones.to_e164(raw) == "+79161234567"


def test_another_country_keeps_its_code():
    assert phones.to_e164("+380 50 123 4567") == "+380501234567"


@pytest.mark.parametrize(("raw", "reason"), [
    ("", "empty"), ("  ", "empty"), ("phone", "unreadable"), ("123", "invalid"),
    ("+7 495 123-45-67", "not_mobile"),  # a Moscow landline takes no SMS
])
def test_numbers_no_sms_reaches_are_refused_with_the_reason(raw, reason):
    with pytest.raises(phones.PhoneError) as refused:
        phones.to_e164(raw)
    assert refused.value.reason == reason


@pytest.mark.parametrize(("text", "encoding", "units", "parts"), [
    ("a" * 160, "gsm7", 160, 1),
    ("a" * 161, "gsm7", 161, 2),
    ("a" * 306, "gsm7", 306, 2),
    ("a" * 307, "gsm7", 307, 3),
    ("€" * 80, "gsm7", 160, 1),  # the extension table takes two places
    ("€" * 81, "gsm7", 162, 2),
    ("ж" * 70, "ucs2", 70, 1),
    ("ж" * 71, "ucs2", 71, 2),
    ("Баланс " + "a" * 127, "ucs2", 134, 2),  # one Cyrillic letter makes it all UCS-2
    ("😀" * 35, "ucs2", 70, 1),  # outside the BMP: two UTF-16 units each
])
def test_parts_as_the_operator_bills_them(text, encoding, units, parts):
    assert sms_text.length(text) == sms_text.Length(encoding, units, parts)


def test_transliteration_keeps_case_and_what_is_not_cyrillic():
    assert sms_text.transliterate("Щука, баланс -12,50 руб. №5") == \
        "Shhuka, balans -12,50 rub. N5"


def test_a_template_renders_the_subscribers_fields():
    text = templates.render("{{ full_name }}: {{ balance|money }} руб., {{ days_left }} дн.",
                            {**templates.FIELDS, "balance": Decimal("1234.5")})
    assert text == "Иванов Иван Иванович: 1\u00a0234,50 руб., 3 дн."
    assert templates.render("{{ amount|money }}", templates.FIELDS, "en") == "500.00"


@pytest.mark.parametrize(("body", "why"), [
    ("", "empty"),
    ("{{ balanse }}", "undefined"),
    ("{{ balance.__class__ }}", "unsafe"),
    ("{% if %}", "cannot be rendered"),
    ("{{ 1 / 0 }}", "fails on its values"),
    ("{% if false %}x{% endif %}", "empty message"),
    ("x" * 2001, "longer than"),
])
def test_a_template_that_cannot_render_is_refused_at_save(body, why):
    with pytest.raises(templates.TemplateRefused, match=why):
        templates.check(body)


def test_quiet_hours_across_midnight():
    quiet = quiet_hours.parse("22:00-09:00")
    night = datetime(2026, 12, 7, 20, 30, tzinfo=UTC)  # 23:30 in Moscow
    assert quiet.contains(night, MOSCOW)
    assert quiet.next_allowed(night, MOSCOW) == datetime(2026, 12, 8, 9, 0, tzinfo=MOSCOW)
    early = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)  # 06:00 in Moscow
    assert quiet.next_allowed(early, MOSCOW) == datetime(2026, 12, 7, 9, 0, tzinfo=MOSCOW)
    day = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # 12:00
    assert not quiet.contains(day, MOSCOW) and quiet.next_allowed(day, MOSCOW) == day


def test_quiet_hours_within_a_day_and_bad_settings():
    quiet = quiet_hours.parse("01:00-07:30")
    assert quiet.contains(datetime(2026, 12, 7, 4, 0, tzinfo=MOSCOW), MOSCOW)
    assert not quiet.contains(datetime(2026, 12, 7, 7, 30, tzinfo=MOSCOW), MOSCOW)
    assert quiet_hours.parse("") is None
    for bad in ("22-9", "22:00", "09:00-09:00"):
        with pytest.raises(ValueError):
            quiet_hours.parse(bad)
