"""Business actions on an account: post a payment, change the tariff, suspend, resume.

Each calls its one ``billing`` entry point (the rules live there) inside the request's
transaction, writes its audit row in that same transaction, and commits once: the action
and its record stand or fall together.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import current_app
from flask_appbuilder.api import expose, protect, safe
from flask_appbuilder.security.decorators import permission_name

from billing import payments
from billing.errors import Refused
from billing.suspension import resume_account, suspend_account
from billing.tariff_change import change_tariff
from webapp import audit
from webapp.api import schemas
from webapp.api.base import EbsBaseApi

# billing's codes for "no such account"; every other refusal is a rule saying no (422).
_NOT_FOUND = {"no_account", "unknown_account"}


def _tz() -> ZoneInfo:
    return ZoneInfo(current_app.config["EBS_SETTINGS"].TIME_ZONE)


class AccountActionApi(EbsBaseApi):
    resource_name = "account"
    openapi_spec_tag = "Account actions"
    openapi_spec_component_schemas = schemas.ALL
    role_grants = {"Cashier": ("can_post_payment", "can_change_tariff")}

    def _entry(self, key: str) -> dict:
        return schemas.LedgerEntrySchema().dump(self.ledger_entry(key=key))

    def _refused(self, code: str, message: str):
        self.db().rollback()
        return self.refused(404 if code in _NOT_FOUND else 422, code, message)

    @expose("/<int:pk>/payment", methods=["POST"])
    @protect()
    @safe
    @permission_name("post_payment")
    def post_payment(self, pk: int):
        """Post a payment to an account's balance
        ---
        post:
          description: >-
            A ledger entry of kind payment, with the caller recorded as the operator.
            The client's idempotency key makes a retry safe: the same key again credits
            nothing and answers 409 with the entry the first request posted.
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
                  $ref: '#/components/schemas/PaymentRequestSchema'
          responses:
            201:
              description: Posted
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      result:
                        $ref: '#/components/schemas/LedgerEntrySchema'
            400:
              $ref: '#/components/responses/400'
            401:
              $ref: '#/components/responses/401'
            403:
              $ref: '#/components/responses/403'
            404:
              $ref: '#/components/responses/404'
            409:
              description: The idempotency key was used before; nothing was credited
              content:
                application/json:
                  schema:
                    $ref: '#/components/schemas/PaymentConflictSchema'
            422:
              description: >-
                Refused by a rule, e.g. amount_above_maximum (more than PAYMENT_MAX_AMOUNT);
                nothing was credited
              content:
                application/json:
                  schema:
                    $ref: '#/components/schemas/RefusalSchema'
        """
        data, error = self.load_body(schemas.PaymentRequestSchema())
        if error:
            return error
        missing = self.missing_account(pk)
        if missing:
            return missing
        # Keys are the caller's own: two clients choosing "1" never collide.
        unique_id = f"{self.staff_id()}:{data['idempotency_key']}"
        try:
            posted = payments.post_payment(
                self.conn(), pk, data["amount"], source="api", unique_id=unique_id,
                staff_user_id=self.staff_id(),
                comment=data["description"] or "Payment through the API",
                maximum=payments.maximum_amount(current_app.config["EBS_SETTINGS"]))
            matches = True
        except payments.PaymentError as exc:
            if exc.code != "key_reused":
                return self._refused(exc.code, str(exc))
            posted, matches = None, False
        key = payments.payment_key("api", unique_id)
        if posted is None or not posted.created:
            self.db().rollback()
            return self.response(
                409, message="This idempotency key was used before; nothing was credited.",
                matches_request=matches, result=self._entry(key))
        audit.record_action(self.db(), "payment", "ledger_entries", posted.id,
                            {"account_id": pk, "amount": posted.amount,
                             "idempotency_key": key})
        result = self._entry(key)
        self.db().commit()
        return self.response(201, result=result)

    @expose("/<int:pk>/tariff", methods=["POST"])
    @protect()
    @safe
    @permission_name("change_tariff")
    def change_tariff(self, pk: int):
        """Change an account's tariff by the rule matrix
        ---
        post:
          description: >-
            The matrix (from, to) decides whether the change is allowed, what it costs and
            whether it takes effect now or at the next period start.
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
                  $ref: '#/components/schemas/TariffChangeRequestSchema'
          responses:
            201:
              description: Changed now, or scheduled
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      result:
                        $ref: '#/components/schemas/TariffChangeResultSchema'
            400:
              $ref: '#/components/responses/400'
            403:
              $ref: '#/components/responses/403'
            404:
              $ref: '#/components/responses/404'
            422:
              description: Refused by a rule
              content:
                application/json:
                  schema:
                    $ref: '#/components/schemas/RefusalSchema'
        """
        data, error = self.load_body(schemas.TariffChangeRequestSchema())
        if error:
            return error
        try:
            done = change_tariff(self.conn(), pk, data["tariff_id"], tz=_tz(),
                                 staff_user_id=self.staff_id())
        except Refused as exc:
            return self._refused(exc.code, str(exc))
        result = schemas.TariffChangeResultSchema().dump(asdict(done))
        audit.record_action(self.db(), "tariff_change", "accounts", pk, result)
        self.db().commit()
        return self.response(201, result=result)

    @expose("/<int:pk>/suspend", methods=["POST"])
    @protect()
    @safe
    @permission_name("suspend")
    def suspend(self, pk: int):
        """Suspend an account by its tariff's suspension rules
        ---
        post:
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
                  $ref: '#/components/schemas/SuspendRequestSchema'
          responses:
            201:
              description: Suspended
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      result:
                        $ref: '#/components/schemas/SuspensionSchema'
            400:
              $ref: '#/components/responses/400'
            403:
              $ref: '#/components/responses/403'
            404:
              $ref: '#/components/responses/404'
            422:
              description: Refused by a rule
              content:
                application/json:
                  schema:
                    $ref: '#/components/schemas/RefusalSchema'
        """
        data, error = self.load_body(schemas.SuspendRequestSchema())
        if error:
            return error
        try:
            done = suspend_account(self.conn(), pk, at=datetime.now(UTC), tz=_tz(),
                                   days=data["days"], staff_user_id=self.staff_id(),
                                   reason=data["reason"])
        except Refused as exc:
            return self._refused(exc.code, str(exc))
        return self._state_changed("suspend", pk, done, 201)

    @expose("/<int:pk>/resume", methods=["POST"])
    @protect()
    @safe
    @permission_name("resume")
    def resume(self, pk: int):
        """End an account's suspension now
        ---
        post:
          parameters:
          - in: path
            name: pk
            schema:
              type: integer
          requestBody:
            required: false
            content:
              application/json:
                schema:
                  $ref: '#/components/schemas/ResumeRequestSchema'
          responses:
            200:
              description: Resumed
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      result:
                        $ref: '#/components/schemas/SuspensionSchema'
            400:
              $ref: '#/components/responses/400'
            403:
              $ref: '#/components/responses/403'
            404:
              $ref: '#/components/responses/404'
            422:
              description: Refused by a rule
              content:
                application/json:
                  schema:
                    $ref: '#/components/schemas/RefusalSchema'
        """
        data, error = self.load_body(schemas.ResumeRequestSchema(), optional=True)
        if error:
            return error
        try:
            done = resume_account(self.conn(), pk, at=datetime.now(UTC),
                                  staff_user_id=self.staff_id(), reason=data["reason"])
        except Refused as exc:
            return self._refused(exc.code, str(exc))
        return self._state_changed("resume", pk, done, 200)

    def _state_changed(self, action: str, pk: int, suspension, status: int):
        result = schemas.SuspensionSchema().dump(asdict(suspension))
        audit.record_action(self.db(), action, "accounts", pk, result)
        self.db().commit()
        return self.response(status, result=result)
