"""Numbers as the operator's language writes them, read back the same way.

A page shows an amount in the locale's habit (Babel's CLDR data): ``1 000,50`` in
Russian (a no-break space between thousands, a decimal comma), ``1,000.50`` in English;
money always with two decimals, and where a person reads a sum of money, followed by the
currency's sign (``1 000,50 ₽``, ``1,000.50 RUB``: the number first in every language, so
one sentence pattern fits both).

What an operator types is read by :func:`parse_amount`, the one reader of every form's
money field (``webapp.money_field``): Russian takes a comma or a point for the decimals
and spaces (plain, no-break, narrow no-break) between thousands; English takes commas
between thousands and a point for the decimals. A text that two habits read differently
(``1,000`` in Russian: one rouble or a thousand?) is refused rather than guessed. What is
read goes through ``billing.money.to_money``, the one rule of amounts. The REST API does
not come here: its strict format stays (``webapp.api.base.Money``).
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

from babel import Locale
from babel.numbers import format_decimal, get_currency_symbol
from flask import current_app, has_app_context, has_request_context

from billing.money import MoneyError, round_money, to_money
from billing.traffic_pricing import MEGABYTE

MONEY_PATTERN = "#,##0.00"
NO_BREAK = "\u00a0"
# Spaces people and programs put between thousands: plain, no-break (Babel's Russian),
# narrow no-break (CLDR's French, some keyboards), thin.
SPACES = " \u00a0\u202f\u2009"
MINUSES = "-\u2212"  # hyphen-minus and the typographic minus sign


def current_locale(locale: Locale | str | None = None) -> Locale:
    """``locale`` if given, else the request's language (Flask-Babel), else the app's
    default, else Russian (the project's default)."""
    if locale is not None:
        return Locale.parse(locale)
    if has_request_context():
        from flask_babel import get_locale

        found = get_locale()
        if found is not None:
            return found
    if has_app_context():
        return Locale.parse(current_app.config.get("BABEL_DEFAULT_LOCALE") or "ru")
    return Locale.parse("ru")


def format_number(value, locale: Locale | str | None = None) -> str:
    """Any number with the locale's grouping and decimal mark, all its decimals kept
    (a count, a share); None is empty."""
    if value is None:
        return ""
    if not isinstance(value, (int, Decimal)) or isinstance(value, bool):
        return str(value)
    return format_decimal(value, locale=current_locale(locale), decimal_quantization=False)


def format_money(value, locale: Locale | str | None = None) -> str:
    """An amount with exactly two decimals (rounded by ``billing.money``'s one rule),
    as the locale writes it, without the currency: what a money input shows."""
    if value is None:
        return ""
    return format_decimal(round_money(Decimal(value)), format=MONEY_PATTERN,
                          locale=current_locale(locale))


def currency_code() -> str:
    """The ISP's currency (the ``CURRENCY`` setting)."""
    if has_app_context() and "EBS_SETTINGS" in current_app.config:
        return current_app.config["EBS_SETTINGS"].CURRENCY
    from billing.settings import DEFAULTS

    return DEFAULTS["CURRENCY"]


def currency_sign(currency: str | None = None, locale: Locale | str | None = None) -> str:
    """The currency as the locale names it: ``₽`` in Russian, ``RUB`` in English."""
    return get_currency_symbol(currency or currency_code(), locale=current_locale(locale))


def format_amount(value, currency: str | None = None,
                  locale: Locale | str | None = None) -> str:
    """A sum of money as a person reads it: :func:`format_money` and the currency's sign,
    joined by a no-break space so the two never part at a line's end."""
    if value is None:
        return ""
    loc = current_locale(locale)
    return f"{format_money(value, loc)}{NO_BREAK}{currency_sign(currency, loc)}"


def money_example(locale: Locale | str | None = None) -> str:
    """How to write an amount in this language, for the message refusing one."""
    return format_money(Decimal("1000.50"), locale)


def _reading(locale: Locale) -> tuple[str, str]:
    """The characters the locale's habit puts between thousands, and as decimal marks.

    A decimal comma habit (Russian) also takes the point, which every keypad and the
    stored form use; a decimal point habit (English) takes commas between thousands.
    Spaces between thousands are read in every language: they cannot be a decimal mark.
    """
    if locale.number_symbols["latn"]["decimal"] == ",":
        return SPACES, ",."
    return SPACES + ",", "."


def _plain_decimal(text: str, locale: Locale) -> str:
    """What the operator typed as a plain decimal text (``-1000.50``), read in the
    locale's habit (see :func:`parse_amount`); raises MoneyError ``not_an_amount`` or
    ``ambiguous``."""
    groups, marks = _reading(locale)
    raw = text.strip(SPACES)
    pattern = (rf"(?P<sign>[{re.escape('+' + MINUSES)}])?"
               rf"(?P<int>\d+|[1-9]\d{{0,2}}(?P<sep>[{re.escape(groups)}])\d{{3}}(?:(?P=sep)\d{{3}})*)"
               rf"(?:(?P<mark>[{re.escape(marks)}])(?P<frac>\d+))?")
    found = re.fullmatch(pattern, raw) if len(raw) <= 64 else None
    if found is None:
        raise MoneyError("not_an_amount", f"not an amount in {locale}: {raw[:40]!r}")
    mark, frac = found["mark"], found["frac"] or ""
    whole = found["int"]
    if (mark and len(frac) == 3 and len(marks) > 1 and found["sep"] is None
            and len(whole) <= 3 and not whole.startswith("0")):
        raise MoneyError("ambiguous", f"{raw!r}: thousands or a fraction?")
    digits = re.sub(f"[{re.escape(groups)}]", "", whole)
    sign = "-" if found["sign"] and found["sign"] in MINUSES else ""
    return f"{sign}{digits}.{frac}" if frac else f"{sign}{digits}"


def parse_amount(text, locale: Locale | str | None = None) -> Decimal:
    """An amount typed in the locale's habit, as ``billing.money.to_money`` takes it.

    Raises :class:`billing.money.MoneyError`: ``not_an_amount`` for what is no amount in
    this language (``1.000,50``, ``12abc``), ``ambiguous`` for a decimal comma or point
    followed by exactly three digits where that mark is read as a decimal mark but could
    as well be a thousands separator (``1,000`` in Russian), and to_money's own codes
    (two decimals at most, within the column's range).
    """
    if isinstance(text, (Decimal, int)) and not isinstance(text, bool):
        return to_money(text)
    if not isinstance(text, str):
        raise MoneyError("not_an_amount", f"not an amount: {type(text).__name__}")
    return to_money(_plain_decimal(text, current_locale(locale)))


def parse_decimal(text: str, places: int, limit: Decimal,
                  locale: Locale | str | None = None) -> Decimal:
    """A figure with up to ``places`` decimals (a price per megabyte has six, a prepaid
    allowance three), typed in the same habit as an amount and refused for the same
    reasons (MoneyError's codes; ``out_of_range`` beyond ``limit`` either way), so
    ``0,5`` reads as half in Russian on every form."""
    number = Decimal(_plain_decimal(str(text), current_locale(locale)))
    if number.copy_abs() > limit:
        raise MoneyError("out_of_range", f"{text!r} is beyond {limit}")
    if number != number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP):
        raise MoneyError("too_many_decimals", f"{text!r} has more than {places} decimals")
    return number


def format_decimal_text(value, locale: Locale | str | None = None) -> str:
    """A figure with all its significant decimals as the locale writes it, without
    grouping (what an input shows back): ``0,5`` in Russian for a stored 0.500000."""
    if value is None:
        return ""
    number = Decimal(value)
    if number == number.to_integral_value():
        number = number.quantize(Decimal(1))
    else:
        number = number.normalize()
    return format_decimal(number, format="0.##########", locale=current_locale(locale))


def megabytes(value) -> Decimal:
    """Bytes as megabytes (2**20 bytes, the unit traffic is priced per) with two
    decimals, for a person to read; the bytes themselves stay exact where they are kept."""
    return (Decimal(value or 0) / MEGABYTE).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def install(app) -> None:
    """The template filters ``number`` (any figure), ``money`` (two decimals) and
    ``amount`` (two decimals and the currency's sign), and ``currency_sign()`` for a
    sentence that names the currency apart."""
    app.add_template_filter(format_number, "number")
    app.add_template_filter(format_money, "money")
    app.add_template_filter(format_amount, "amount")
    app.add_template_global(currency_sign, "currency_sign")
