"""Forms of the money views. Each carries a CSRF token (Flask-WTF) and, for postings, a
one-time nonce that becomes the ledger entry's idempotency key, so a double click or a
resubmitted page posts once. Amounts are typed as the operator's language writes them
(``webapp.money_field``)."""

from __future__ import annotations

import uuid
from decimal import Decimal

from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
from flask_appbuilder.forms import DynamicForm
from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError

from webapp.money_field import MoneyField
from webapp.validators import Money, NonNegativeMoney


class _NotZero:
    def __call__(self, form, field) -> None:
        if field.data is not None and Decimal(field.data) == 0:
            raise ValidationError(_l("The amount cannot be zero."))


class PaymentForm(DynamicForm):
    amount = MoneyField(_l("Amount"),
                        validators=[InputRequired(message=_l("Enter the amount.")),
                                    NonNegativeMoney(), _NotZero()])
    description = StringField(_l("Comment"), widget=BS3TextFieldWidget(),
                              validators=[Length(max=500)])
    nonce = HiddenField(validators=[DataRequired()])
    # Carries the operator's confirmation of a large sum (webapp.views.payment_confirmation).
    confirmation = HiddenField()

    def fresh(self) -> PaymentForm:
        self.nonce.data = uuid.uuid4().hex
        return self


class CorrectionForm(PaymentForm):
    """A manual correction may take money off (negative) as well as add it."""

    amount = MoneyField(_l("Amount"),
                        validators=[InputRequired(message=_l("Enter the amount.")), Money(),
                                    _NotZero()])
    description = StringField(_l("Reason"), widget=BS3TextFieldWidget(),
                              validators=[DataRequired(message=_l("Give the reason.")),
                                          Length(max=500)])


class SearchForm(DynamicForm):
    class Meta:
        csrf = False  # a GET search changes nothing

    q = StringField(_l("Contract, login, name, phone or street"), widget=BS3TextFieldWidget())
