"""The one input of an amount of money, for every form of the web app.

WTForms' ``DecimalField`` reads ``Decimal(text)`` before any validator runs, so
``1 000,50`` or ``750,00`` fails there with its own English message. :class:`MoneyField`
reads the text with ``webapp.numbers.parse_amount`` (the operator's language, then
``billing.money.to_money``) and says what is wrong in the operator's words; its ``data`` is
a ``Decimal`` with two decimals, or None when the input was empty or refused. A new form
with a sum in it (a payment, a price, a transfer) takes this field and nothing else.
"""

from __future__ import annotations

from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
from wtforms.fields import Field
from wtforms.fields.core import UnboundField
from wtforms.validators import DataRequired, InputRequired, StopValidation

from billing.money import MoneyError
from webapp.decimal_field import DecimalTextField
from webapp.numbers import SPACES, format_money, parse_amount
from webapp.validators import money_message


class MoneyField(Field):
    """A text input read as an amount in the operator's language."""

    widget = BS3TextFieldWidget()

    def __init__(self, label=None, validators=None, **kwargs) -> None:
        kwargs.setdefault("render_kw", {"inputmode": "decimal", "autocomplete": "off"})
        super().__init__(label, validators, **kwargs)

    def process_formdata(self, valuelist) -> None:
        self.data = None
        if not valuelist or not str(valuelist[0]).strip(SPACES):
            return
        try:
            self.data = parse_amount(str(valuelist[0]))
        except MoneyError as exc:
            raise ValueError(money_message(exc, valuelist[0])) from None

    def pre_validate(self, form) -> None:
        """A refused text is the field's only message: the validators after it (a
        required check, a sign) would speak of an empty value the operator did not type."""
        if self.process_errors:
            raise StopValidation()

    def _value(self) -> str:
        """What the input shows: the text as typed, else the amount as the language
        writes it (an edit form's stored price reads ``1 000,50`` in Russian)."""
        if self.raw_data:
            return str(self.raw_data[0])
        return format_money(self.data) if self.data is not None else ""


def required_as_input(validators) -> list:
    """A money field is filled when something is typed: zero is an amount, though
    ``DataRequired`` (FAB's for a NOT NULL column) takes ``0.00`` for empty."""
    return [InputRequired(message=v.message) if isinstance(v, DataRequired) else v
            for v in validators or ()]


def money_fields(form_class, money_columns) -> None:
    """Make each of ``money_columns`` in a FAB-built form class a :class:`MoneyField`,
    keeping its label, description, validators and place in the form. A column with two
    decimals that is not money (a percentage) keeps the view's ``DecimalTextField``."""
    for name in money_columns:
        unbound = getattr(form_class, name, None)
        if not isinstance(unbound, UnboundField) or issubclass(
                unbound.field_class, (MoneyField, DecimalTextField)):
            continue
        kwargs = {k: v for k, v in unbound.kwargs.items() if k not in ("widget", "places")}
        kwargs["validators"] = required_as_input(kwargs.get("validators"))
        field = MoneyField(*unbound.args, **kwargs)
        field.creation_counter = unbound.creation_counter
        setattr(form_class, name, field)
