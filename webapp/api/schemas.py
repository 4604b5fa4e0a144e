"""Request and response bodies of the business actions (marshmallow; the OpenAPI spec is
generated from them)."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields
from marshmallow.validate import Length, Range, Regexp

from webapp.api.base import Money


def _positive(amount) -> None:
    if amount <= 0:
        raise ValidationError("The amount must be greater than zero.")


class PaymentRequestSchema(Schema):
    amount = Money(required=True, validate=_positive,
                   metadata={"description": "Credited to the balance, e.g. \"500.00\""})
    idempotency_key = fields.String(
        required=True,
        validate=[Length(min=1, max=100), Regexp(r"^[A-Za-z0-9._:-]+$", error=(
            "Use 1-100 characters: letters, digits, '.', '_', ':' or '-'."))],
        metadata={"description": "Chosen by the client, unique per payment: a retried POST "
                                 "with the same key answers 409 with the first entry and "
                                 "credits nothing"},
    )
    description = fields.String(load_default="", validate=Length(max=500))


class LedgerEntrySchema(Schema):
    id = fields.Integer()
    account_id = fields.Integer()
    kind = fields.String()
    amount = Money()
    effective_at = fields.DateTime()
    staff_user_id = fields.Integer(allow_none=True)
    description = fields.String()
    idempotency_key = fields.String()
    balance = Money(metadata={"description": "The account's balance now"})


class PaymentConflictSchema(Schema):
    message = fields.String()
    matches_request = fields.Boolean(
        metadata={"description": "The first payment had the same account and amount"})
    result = fields.Nested(LedgerEntrySchema)


class TariffChangeRequestSchema(Schema):
    tariff_id = fields.Integer(required=True, strict=True)


class TariffChangeResultSchema(Schema):
    change_id = fields.Integer()
    account_id = fields.Integer()
    from_tariff_id = fields.Integer()
    to_tariff_id = fields.Integer()
    effective_at = fields.DateTime()
    cost = Money()
    applied = fields.Boolean(metadata={
        "description": "false: scheduled by the rule matrix for the next period start"})


class SuspendRequestSchema(Schema):
    days = fields.Integer(load_default=None, allow_none=True, strict=True,
                          validate=Range(min=1, max=3660),
                          metadata={"description": "Default and maximum: the tariff's"})
    reason = fields.String(load_default="", validate=Length(max=500))


class ResumeRequestSchema(Schema):
    reason = fields.String(load_default="", validate=Length(max=500))


class SuspensionSchema(Schema):
    id = fields.Integer()
    account_id = fields.Integer()
    starts_at = fields.DateTime()
    planned_until = fields.DateTime(allow_none=True)
    ended_at = fields.DateTime(allow_none=True)
    cost = Money()
    refunded = Money()


class RefusalSchema(Schema):
    message = fields.String()
    reason = fields.String(metadata={"description": "The rule that refused, for programs"})


ALL = (PaymentRequestSchema, LedgerEntrySchema, PaymentConflictSchema,
       TariffChangeRequestSchema, TariffChangeResultSchema, SuspendRequestSchema,
       ResumeRequestSchema, SuspensionSchema, RefusalSchema)
