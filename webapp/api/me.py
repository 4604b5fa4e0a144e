"""The caller's own staff account: who am I, and the password change that lifts the lock
a login with a default password puts on its token (see ``password_lock``)."""

from __future__ import annotations

from flask_appbuilder.api import expose, protect, safe
from flask_appbuilder.exceptions import PasswordComplexityValidationError
from flask_appbuilder.security.decorators import permission_name
from marshmallow import Schema, fields
from werkzeug.security import check_password_hash

from webapp import audit
from webapp.api import password_lock
from webapp.api.base import EbsBaseApi, invalid

SELF = ("can_me", "can_change_password")


class PasswordSchema(Schema):
    current_password = fields.String(
        required=True, metadata={"description": "The password in use now"})
    password = fields.String(required=True, metadata={"description": "The new password"})


class MeSchema(Schema):
    id = fields.Integer()
    username = fields.String()
    roles = fields.List(fields.String())
    password_change_required = fields.Boolean()


class MeApi(EbsBaseApi):
    resource_name = "me"
    openapi_spec_tag = "Me"
    openapi_spec_component_schemas = (PasswordSchema, MeSchema)
    role_grants = {"Cashier": SELF, "ReadOnly": SELF}

    def refuse_default_password(self):
        """Not locked: this resource is the way out of the lock."""
        return None

    @expose("/", methods=["GET"])
    @protect()
    @safe
    @permission_name("me")
    def me(self):
        """The caller's staff account
        ---
        get:
          description: Who the token belongs to, and whether it must change its password.
          responses:
            200:
              description: The staff account
              content:
                application/json:
                  schema:
                    $ref: '#/components/schemas/MeSchema'
            401:
              $ref: '#/components/responses/401'
        """
        user = self.appbuilder.sm.current_user
        return self.response(200, **MeSchema().dump({
            "id": user.id, "username": user.username,
            "roles": [role.name for role in user.roles],
            "password_change_required": password_lock.locked(),
        }))

    @expose("/password", methods=["POST"])
    @protect()
    @safe
    @permission_name("change_password")
    def change_password(self):
        """Change the caller's password
        ---
        post:
          description: >-
            Set a new password (at least 8 characters, not a documented default), given
            the current one. The access token in use stays valid and is no longer
            locked; every refresh token and browser session issued before ends.
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  $ref: '#/components/schemas/PasswordSchema'
          responses:
            200:
              description: Changed
            400:
              $ref: '#/components/responses/400'
            401:
              $ref: '#/components/responses/401'
        """
        data, error = self.load_body(PasswordSchema())
        if error:
            return error
        user = self.appbuilder.sm.current_user
        if not check_password_hash(user.password or "", data["current_password"]):
            return self.response(400, **invalid(
                {"current_password": ["The current password is wrong."]}))
        try:
            password_lock.password_policy(data["password"])
        except PasswordComplexityValidationError as exc:
            return self.response(400, **invalid({"password": [str(exc)]}))
        audit.record_action(self.db(), "edit", "ab_user", user.id, {"password": "changed"})
        self.appbuilder.sm.reset_password(user.id, data["password"])  # commits both
        return self.response(200, message="The password is changed.")
