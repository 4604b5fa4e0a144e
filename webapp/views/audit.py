"""The audit trail of operator changes: written after every add, edit and delete made
through an admin form, read here (Admin and ReadOnly)."""

from __future__ import annotations

from flask_appbuilder.models.sqla.filters import (
    FilterEqual,
    FilterGreater,
    FilterRelationOneToManyEqual,
    FilterSmaller,
)
from flask_babel import lazy_gettext as _l

from webapp.models.security import StaffAuditLog
from webapp.views.base import READ, BoundedInterface, EbsModelView


class AuditLogView(EbsModelView):
    datamodel = BoundedInterface(
        StaffAuditLog,
        {"object_type": [FilterEqual], "object_id": [FilterEqual],
         "logged_at": [FilterGreater, FilterSmaller],
         "staff_user": [FilterRelationOneToManyEqual]},
        eager=("staff_user",),
    )
    audited = False
    list_title = _l("Audit log")
    base_permissions = ["can_list", "can_show"]
    list_columns = ["logged_at", "staff_user.username", "action", "object_type", "object_id",
                    "old_values", "new_values"]
    search_columns = ["object_type", "object_id", "logged_at", "staff_user"]
    base_order = ("id", "desc")
    role_grants = {"ReadOnly": READ}
    label_columns = {
        "logged_at": _l("When"), "staff_user": _l("Operator"),
        "staff_user.username": _l("Operator"), "action": _l("Action"),
        "object_type": _l("Object"), "object_id": _l("Object id"),
        "old_values": _l("Before"), "new_values": _l("After"),
    }
