"""Changes to staff accounts and roles land in the audit log like every admin edit: who
created, changed or removed a staff member or a role, which roles a staff member gained
or lost, which permissions a role gained or lost, and that a password was set (never its
value).

FAB's own user and role views are used with an interface that writes the announced row in
the change's transaction (the one ``BoundedInterface`` of the admin's tables uses)."""

from __future__ import annotations

from flask import g, request
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.security import views as fab_views
from flask_appbuilder.security.sqla.models import User
from flask_babel import lazy_gettext

from webapp import audit
from webapp.display import column_formatters
from webapp.views.base import BoundedInterface

# Relations whose members an edit may change, by table: logged as lists of names.
RELATIONS = {"ab_user": "roles", "ab_role": "permissions"}


class AuditedInterface(SQLAInterface):
    """FAB's interface, with the announced audit row written before the commit."""

    _write = BoundedInterface._write
    add = BoundedInterface.add
    edit = BoundedInterface.edit
    delete = BoundedInterface.delete


def _members(item) -> list[str] | None:
    name = RELATIONS.get(item.__tablename__)
    return sorted(str(member) for member in getattr(item, name)) if name else None


def _snapshot(item) -> dict:
    """Columns and relation members as plain values (copies, safe from later edits)."""
    members = _members(item)
    values = audit.column_values(item)
    return {**values, RELATIONS[item.__tablename__]: members} if members is not None else values


class AuditedMixin:
    def pre_add(self, item) -> None:
        super().pre_add(item)
        members = _members(item)
        audit.expect("add", after={RELATIONS[item.__tablename__]: members}
                     if members is not None else None)

    def _edit(self, pk):
        """The values before the form touches the row: filling a relation from the form
        loads it, which flushes the columns already set, so the ORM's history is gone by
        ``pre_update``."""
        if request.method == "POST":
            item = self.datamodel.get(pk)
            if item is not None:
                g.ebs_staff_before = _snapshot(item)
        return super()._edit(pk)

    def pre_update(self, item) -> None:
        super().pre_update(item)
        before, after = g.pop("ebs_staff_before", None) or {}, _snapshot(item)
        changed = [key for key in after if before.get(key) != after[key]]
        audit.expect("edit", {key: before.get(key) for key in changed},
                     {key: after[key] for key in changed})

    def pre_delete(self, item) -> None:
        super().pre_delete(item)
        members = _members(item)
        extra = {RELATIONS[item.__tablename__]: members} if members is not None else {}
        audit.expect("delete", {**audit.column_values(item), **extra})


# The classes keep FAB's names: endpoints and permissions are named after them.
class UserDBModelView(AuditedMixin, fab_views.UserDBModelView):
    # Yes/no in words and an empty moment or author as a dash, as on every other page.
    formatters_columns = column_formatters(User)


class RoleModelView(AuditedMixin, fab_views.RoleModelView):
    label_columns = {  # noqa: RUF012 (FAB's class attribute)
        "name": lazy_gettext("Name"), "permissions": lazy_gettext("Permissions"),
        "user": lazy_gettext("Users"), "groups": lazy_gettext("Groups"),
    }


class ResetPasswordView(fab_views.ResetPasswordView):
    """An Admin sets another staff member's password: the fact is logged, masked."""

    def form_post(self, form) -> None:
        audit.record_action(self.appbuilder.session, "edit", "ab_user",
                            request.args.get("pk"), {"password": "changed"})
        super().form_post(form)  # reset_password commits the row with the change


def install(security_manager) -> None:
    """After FAB gave its views their interfaces: ours, which write the audit row."""
    security_manager.userdbmodelview.datamodel = AuditedInterface(security_manager.user_model)
    security_manager.rolemodelview.datamodel = AuditedInterface(security_manager.role_model)
