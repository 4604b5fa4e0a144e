"""Numbers as each language writes them (webapp.numbers): what a page shows, what a money
field reads back, and the figures of a CSV export."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.money import MONEY_LIMIT, MoneyError
from webapp.numbers import format_amount, format_money, format_number, parse_amount
from webapp.views.reports import csv_cell, csv_flavour

NBSP = "\u00a0"


@pytest.mark.parametrize(("value", "ru", "en"), [
    (Decimal("1000.50"), f"1{NBSP}000,50", "1,000.50"),
    (Decimal("750"), "750,00", "750.00"),
    (Decimal("-1234567.5"), f"-1{NBSP}234{NBSP}567,50", "-1,234,567.50"),
    (Decimal("0"), "0,00", "0.00"),
    (Decimal("0.005"), "0,01", "0.01"),  # billing.money's rounding: half away from zero
    (Decimal("-0.005"), "-0,01", "-0.01"),
    (MONEY_LIMIT, f"999{NBSP}999{NBSP}999{NBSP}999,99", "999,999,999,999.99"),
    (12, "12,00", "12.00"),
])
def test_money_reads_as_each_language_writes_it(value, ru, en):
    assert format_money(value, "ru") == ru
    assert format_money(value, "en") == en


def test_an_amount_carries_the_currency_after_the_figure_on_one_line():
    assert format_amount(Decimal("1000.50"), "RUB", "ru") == f"1{NBSP}000,50{NBSP}₽"
    assert format_amount(Decimal("1000.50"), "RUB", "en") == f"1,000.50{NBSP}RUB"
    assert format_amount(Decimal("-5"), "EUR", "en") == f"-5.00{NBSP}€"
    assert format_amount(None, "RUB", "ru") == format_money(None, "ru") == ""


def test_other_figures_keep_their_decimals_and_group_thousands():
    assert format_number(500000, "ru") == f"500{NBSP}000"
    assert format_number(500000, "en") == "500,000"
    assert format_number(Decimal("1234.5678"), "ru") == f"1{NBSP}234,5678"
    assert format_number(None, "ru") == ""
    assert format_number("text", "en") == "text"


@pytest.mark.parametrize(("typed", "amount"), [
    ("750,00", "750.00"), ("750.00", "750.00"), ("750", "750.00"), ("750,5", "750.50"),
    ("1 000,50", "1000.50"), (f"1{NBSP}000,50", "1000.50"), ("1\u202f000,50", "1000.50"),
    ("1\u2009000,50", "1000.50"), ("1 000 000", "1000000.00"), ("1000.50", "1000.50"),
    ("  750,00 ", "750.00"), ("-10,5", "-10.50"), ("\u221210,5", "-10.50"),
    ("+10", "10.00"), ("0,500", "0.50"), ("1000,000", "1000.00"),
])
def test_russian_fields_read_a_comma_or_a_point_and_spaces_between_thousands(typed, amount):
    assert parse_amount(typed, "ru") == Decimal(amount)


@pytest.mark.parametrize(("typed", "amount"), [
    ("1,000.50", "1000.50"), ("1000.50", "1000.50"), ("1,000", "1000.00"),
    ("1,000,000.5", "1000000.50"), ("1 000.50", "1000.50"), ("-1,000", "-1000.00"),
    ("1.000", "1.00"), ("750", "750.00"),
])
def test_english_fields_read_commas_between_thousands_and_a_decimal_point(typed, amount):
    assert parse_amount(typed, "en") == Decimal(amount)


@pytest.mark.parametrize(("language", "typed", "code"), [
    ("ru", "1,000", "ambiguous"), ("ru", "1.000", "ambiguous"), ("ru", "12.345", "ambiguous"),
    ("ru", "1.000,50", "not_an_amount"), ("ru", "1,000.50", "not_an_amount"),
    ("ru", "1 00,50", "not_an_amount"), ("ru", "1 000 00", "not_an_amount"),
    ("ru", "1  000", "not_an_amount"), ("ru", f"1 000{NBSP}000", "not_an_amount"),
    ("ru", "01 000", "not_an_amount"), ("ru", ",50", "not_an_amount"),
    ("ru", "750,", "not_an_amount"), ("ru", "abc", "not_an_amount"), ("ru", "", "not_an_amount"),
    ("ru", "NaN", "not_an_amount"), ("ru", "Infinity", "not_an_amount"),
    ("ru", "1e5", "not_an_amount"), ("ru", "12 руб", "not_an_amount"),
    ("ru", "--5", "not_an_amount"), ("ru", "1" * 100, "not_an_amount"),
    ("ru", "1 000,005", "too_many_decimals"), ("ru", "1000000000000", "out_of_range"),
    ("en", "750,00", "not_an_amount"), ("en", "1 000,50", "not_an_amount"),
    ("en", "1.000,50", "not_an_amount"), ("en", "1,00", "not_an_amount"),
    ("en", "0,500", "not_an_amount"), ("en", "1,000 000", "not_an_amount"),
    ("en", "1.005", "too_many_decimals"), ("en", "1,000,000,000,000", "out_of_range"),
])
def test_garbage_and_what_two_habits_read_differently_are_refused(language, typed, code):
    with pytest.raises(MoneyError) as refused:
        parse_amount(typed, language)
    assert refused.value.code == code


def test_a_value_already_a_number_is_checked_by_the_one_rule():
    assert parse_amount(Decimal("10.5"), "ru") == Decimal("10.50")
    assert parse_amount(7, "en") == Decimal("7.00")
    for bad in (1.5, True, None):
        with pytest.raises(MoneyError):
            parse_amount(bad, "ru")


amounts = st.decimals(min_value=-MONEY_LIMIT, max_value=MONEY_LIMIT, places=2,
                      allow_nan=False, allow_infinity=False)


@given(amounts, st.sampled_from(["ru", "en"]))
def test_what_a_page_shows_a_field_reads_back_unchanged(amount, language):
    shown = format_money(amount, language)
    assert parse_amount(shown, language) == amount
    assert parse_amount(shown.replace(NBSP, " "), language) == amount  # retyped by hand


@given(amounts)
def test_an_excel_csv_figure_is_the_amount_with_the_languages_decimal_mark(amount):
    russian, english = csv_flavour("excel", "ru"), csv_flavour("excel", "en")
    assert (russian.delimiter, english.delimiter) == (";", ",")
    assert Decimal(csv_cell("money", amount, russian).replace(",", ".")) == amount
    assert Decimal(csv_cell("money", amount, english)) == amount
    assert csv_cell("money", amount, csv_flavour("csv", "ru")) == f"{amount:.2f}"
