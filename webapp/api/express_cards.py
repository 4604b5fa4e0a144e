"""Express-card activation through the REST API: a dealer's system or a call-centre tool
puts a card's nominal on an account with ``billing.express_cards.activate``, the desk's
and the cabinet's one entry point.

The attempt's source is the calling staff member (``staff:<id>``): a token is a stronger
name for who is guessing than an address several clients may share. A refusal still
commits, so that a wrong PIN is counted (the refusal wrote nothing else).
"""

from __future__ import annotations

from flask_appbuilder.api import expose, protect, safe
from flask_appbuilder.security.decorators import permission_name
from marshmallow import Schema, fields
from marshmallow.validate import Length

from billing import express_cards
from billing.errors import Refused
from webapp import audit
from webapp.api import schemas
from webapp.api.base import EbsBaseApi, Money
from webapp.credential_checks import host_key


class CardActivationRequestSchema(Schema):
    number = fields.String(required=True, validate=Length(min=1, max=64),
                           metadata={"description": "The number printed on the card"})
    pin = fields.String(required=True, validate=Length(min=1, max=64),
                        metadata={"description": "The PIN under the scratch layer"})


class CardActivationSchema(Schema):
    card_number = fields.String()
    nominal = Money()
    entry = fields.Nested(schemas.LedgerEntrySchema)


class CardRefusalSchema(schemas.RefusalSchema):
    locked_until = fields.DateTime(
        allow_none=True, metadata={"description": "too_many_attempts: until when"})


class ExpressCardApi(EbsBaseApi):
    resource_name = "account"
    openapi_spec_tag = "Express cards"
    openapi_spec_component_schemas = (CardActivationRequestSchema, CardActivationSchema,
                                      CardRefusalSchema)
    role_grants = {"Cashier": ("can_activate_card",)}

    @expose("/<int:pk>/card", methods=["POST"])
    @protect()
    @safe
    @permission_name("activate_card")
    def activate_card(self, pk: int):
        """Put an express card's nominal on an account's balance
        ---
        post:
          description: >-
            Credits the card's nominal once, as a payment with the caller as the
            operator. Wrong PINs are counted per account and per caller; too many lock
            both for a while (429).
          parameters:
          - in: path
            name: pk
            schema:
              type: integer
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  $ref: '#/components/schemas/CardActivationRequestSchema'
          responses:
            201:
              description: Credited
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      result:
                        $ref: '#/components/schemas/CardActivationSchema'
            400:
              $ref: '#/components/responses/400'
            403:
              $ref: '#/components/responses/403'
            404:
              $ref: '#/components/responses/404'
            422:
              description: >-
                Refused: wrong_pin, card_disabled, card_expired, card_unsold, card_used;
                nothing was credited
              content:
                application/json:
                  schema:
                    $ref: '#/components/schemas/CardRefusalSchema'
            429:
              description: too_many_attempts; nothing was tried
              content:
                application/json:
                  schema:
                    $ref: '#/components/schemas/CardRefusalSchema'
            503:
              description: This server has no credentials key, so no PIN can be checked
        """
        data, error = self.load_body(CardActivationRequestSchema())
        if error:
            return error
        missing = self.missing_account(pk)
        if missing:
            return missing
        key = host_key()
        if key is None:
            return self.response(503, message="This server has no credentials key: "
                                              "express cards cannot be checked.")
        try:
            done = express_cards.activate(
                self.conn(), pk, data["number"], data["pin"],
                source=f"staff:{self.staff_id()}", key=key, staff_user_id=self.staff_id())
        except express_cards.CardRefused as exc:
            self.db().commit()  # the wrong PIN's count
            status = 429 if exc.code == "too_many_attempts" else 422
            until = exc.locked_until.isoformat() if exc.locked_until else None
            return self.response(status, message=str(exc), reason=exc.code,
                                 locked_until=until)
        except Refused as exc:
            self.db().rollback()
            return self.refused(422, exc.code, str(exc))
        audit.record_action(self.db(), "payment", "ledger_entries", done.payment.id,
                            {"account_id": pk, "amount": done.nominal,
                             "express_card": done.number})
        entry = self.ledger_entry(entry_id=done.payment.id)
        result = CardActivationSchema().dump({"card_number": done.number,
                                              "nominal": done.nominal, "entry": entry})
        self.db().commit()
        return self.response(201, result=result)
