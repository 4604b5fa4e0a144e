"""An input for a figure that is not a sum of money but is typed like one: a price per
megabyte (six decimals, NUMERIC(14,6)) or prepaid megabytes (three, NUMERIC(14,3)).

WTForms' ``DecimalField`` reads ``Decimal(text)``, so ``0,5`` typed in Russian fails with
an English message; :class:`MoneyField` reads the operator's habit but allows two
decimals only. This field reads the same habit (``webapp.numbers.parse_decimal``) with
the column's own number of decimals and range, and refuses a negative figure: every such
column has a ``>= 0`` CHECK, said here under the field instead of as a database error.
"""

from __future__ import annotations

from decimal import Decimal

from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
from flask_babel import lazy_gettext as _l
from wtforms.fields import Field
from wtforms.validators import StopValidation

from billing.money import MoneyError
from webapp.numbers import SPACES, format_decimal_text, parse_decimal

REFUSALS = {
    "not_an_amount": _l("Not a number: %(v)s. Write it as %(example)s."),
    "ambiguous": _l("%(v)s can be read as thousands or as a fraction. Write it as "
                    "%(example)s."),
    "too_many_decimals": _l("At most %(places)d decimals."),
    "out_of_range": _l("The number is too large."),
    "negative": _l("Cannot be negative."),
}


class DecimalTextField(Field):
    """A text input read as a non-negative figure with at most ``places`` decimals; its
    ``data`` is a Decimal, or None when left empty."""

    widget = BS3TextFieldWidget()

    def __init__(self, label=None, validators=None, places: int = 2, digits: int = 14,
                 **kwargs) -> None:
        kwargs.setdefault("render_kw", {"inputmode": "decimal", "autocomplete": "off"})
        super().__init__(label, validators, **kwargs)
        self.places = places
        self.limit = Decimal(10) ** (digits - places) - Decimal(1).scaleb(-places)

    def _refusal(self, code: str, raw: str) -> str:
        shown = raw if len(raw) <= 40 else raw[:37] + "..."
        return str(REFUSALS[code] % {"v": shown, "places": self.places,
                                     "example": format_decimal_text(Decimal("0.5"))})

    def process_formdata(self, valuelist) -> None:
        self.data = None
        if not valuelist or not str(valuelist[0]).strip(SPACES):
            return
        raw = str(valuelist[0])
        try:
            number = parse_decimal(raw, self.places, self.limit)
        except MoneyError as exc:
            code = exc.code if exc.code in REFUSALS else "not_an_amount"
            raise ValueError(self._refusal(code, raw)) from None
        if number < 0:
            raise ValueError(self._refusal("negative", raw))
        self.data = number

    def pre_validate(self, form) -> None:
        """A refused text is the field's only message (see ``MoneyField``)."""
        if self.process_errors:
            raise StopValidation()

    def _value(self) -> str:
        if self.raw_data:
            return str(self.raw_data[0])
        return format_decimal_text(self.data) if self.data is not None else ""
