"""The REST API (version v1): the core's interface for outside tools.

Log in with ``POST /api/v1/security/login`` (FAB's JWT, the staff table's passwords),
send ``Authorization: Bearer <access_token>``. The OpenAPI spec is
``/api/v1/_openapi``, the Swagger UI ``/swagger/v1`` (Admin). Roles are the admin UI's:
Cashier reads and posts payments and tariff changes, ReadOnly reads, Admin does
everything; the grants are synced at start like the views' (``role_grants``).
"""

from __future__ import annotations

from flask import current_app
from flask_appbuilder.api.manager import OpenApi, SwaggerView

from webapp.api import password_lock
from webapp.api.actions import AccountActionApi
from webapp.api.base import EbsApiMixin
from webapp.api.express_cards import ExpressCardApi
from webapp.api.kick import SessionActionApi
from webapp.api.me import MeApi
from webapp.api.resources import AccountApi, LedgerEntryApi, SessionApi, TariffApi

RESOURCES = (AccountApi, AccountActionApi, TariffApi, LedgerEntryApi, SessionApi,
             SessionActionApi, MeApi, ExpressCardApi)


class EbsOpenApi(EbsApiMixin, OpenApi):
    """FAB's spec endpoint, behind the same password lock as the rest."""


def register_api(appbuilder) -> None:
    password_lock.install(appbuilder)
    for resource in RESOURCES:
        appbuilder.add_api(resource)
    appbuilder.add_api(EbsOpenApi)
    if current_app.config.get("FAB_API_SWAGGER_UI"):
        appbuilder.add_view_no_menu(SwaggerView)
