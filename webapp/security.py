"""Staff security: the password policy, the forced change of a default password, and the
permissions of the Cashier and ReadOnly roles.

Roles and staff live in FAB's tables, created by ``sql/migrations`` (FAB's create-all is
off). FAB itself records a permission for every view at start and gives all of them to
Admin; :func:`sync_role_permissions` then grants the other two roles exactly what the
views declare in their ``role_grants``, removing anything else, so a permission taken out
of the code is taken out of the database at the next start.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import flash, g, redirect, request, session, url_for
from flask_appbuilder.exceptions import PasswordComplexityValidationError
from flask_appbuilder.security.sqla.manager import SecurityManager
from flask_appbuilder.security.views import ResetMyPasswordView
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import text

from webapp.staff_networks import client_address, login_allowed

# Passwords shipped in the documentation and the demo; a login with one of them must
# choose a new password before doing anything else.
DEFAULT_PASSWORDS = frozenset({"admin", "cashier", "password", "12345678", "changeme"})
MIN_PASSWORD_LENGTH = 8
MUST_CHANGE_KEY = "ebs_must_change_password"

# Roles other than Admin; Admin gets every permission from FAB itself.
STAFF_ROLES = ("Cashier", "ReadOnly")

# What every staff member may do with their own account (see their info, change password).
SELF_SERVICE = [
    ("can_this_form_get", "ForcedResetMyPasswordView"),
    ("can_this_form_post", "ForcedResetMyPasswordView"),
    ("can_userinfo", "UserDBModelView"),
    ("resetmypassword", "UserDBModelView"),
]


def password_policy(password: str) -> None:
    """FAB's complexity hook: raise with a message the form shows under the field."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordComplexityValidationError(
            str(_l("The password must be at least %(n)d characters long.",
                   n=MIN_PASSWORD_LENGTH))
        )
    if password.lower() in DEFAULT_PASSWORDS:
        raise PasswordComplexityValidationError(
            str(_l("This is a documented default password; choose another one."))
        )


def _violates_policy(password: str) -> bool:
    try:
        password_policy(password)
    except PasswordComplexityValidationError:
        return True
    return False


class ForcedResetMyPasswordView(ResetMyPasswordView):
    """The own-password form; a successful change lifts the forced-change lock."""

    def form_post(self, form) -> None:
        super().form_post(form)
        session.pop(MUST_CHANGE_KEY, None)


_ROLE_PERMISSIONS = text(
    """
    SELECT p.name, v.name
      FROM ab_permission_view_role pvr
      JOIN ab_permission_view pv ON pv.id = pvr.permission_view_id
      JOIN ab_permission p ON p.id = pv.permission_id
      JOIN ab_view_menu v ON v.id = pv.view_menu_id
     WHERE pvr.role_id = ANY(:ids)
    """
)


class EbsSecurityManager(SecurityManager):
    resetmypasswordview = ForcedResetMyPasswordView

    def create_db(self) -> None:
        """The schema, roles included, comes from sql/migrations; nothing to create."""

    def _has_view_access(self, user, permission_name: str, view_name: str) -> bool:
        """FAB asks the database once per check, and a page makes dozens (menu, buttons,
        related views); here a request loads the user's permissions in one query."""
        role_ids = tuple(sorted(r.id for r in self.get_user_roles(user) if r is not None))
        cached = g.get("ebs_permissions")
        if cached is None or cached[0] != role_ids:
            rows = self.session.execute(_ROLE_PERMISSIONS, {"ids": list(role_ids)}).all()
            cached = (role_ids, {(perm, view) for perm, view in rows})
            g.ebs_permissions = cached
        return (permission_name, view_name) in cached[1]

    def auth_user_db(self, username, password):
        user = super().auth_user_db(username, password)
        if user is not None and not login_allowed(self.session, user.id, client_address()):
            flash(str(_l("Logins of %(user)s are not allowed from %(address)s.",
                         user=user.username, address=client_address())), "danger")
            return None
        if user is not None and _violates_policy(password or ""):
            session[MUST_CHANGE_KEY] = user.id
        return user


# Endpoints a staff member under the forced-change lock may still reach.
_UNLOCKED_ENDPOINTS = {
    "ForcedResetMyPasswordView.this_form_get",
    "ForcedResetMyPasswordView.this_form_post",
    "AuthDBView.logout",
    "AuthDBView.login",
    "LocaleView.index",
    "static",
    "appbuilder.static",
}


def enforce_password_change():
    """A before-request hook: until the default password is replaced, every page but the
    change form (and logout) redirects there."""
    if not current_user.is_authenticated:
        return None
    locked_for = session.get(MUST_CHANGE_KEY)
    if locked_for is None or locked_for != current_user.id:
        return None
    if request.endpoint in _UNLOCKED_ENDPOINTS:
        return None
    flash(str(_l("Please choose a new password before you continue.")), "warning")
    return redirect(url_for("ForcedResetMyPasswordView.this_form_get"))


def declared_grants(baseviews: Iterable, menu) -> dict[str, set[tuple[str, str]]]:
    """(permission, view) pairs each non-Admin role should hold, from the views'
    ``role_grants`` = {role: permissions} and the menu entries of those views."""
    grants: dict[str, set[tuple[str, str]]] = {role: set(SELF_SERVICE) for role in STAFF_ROLES}
    reachable: dict[str, set[str]] = {role: set() for role in STAFF_ROLES}
    for view in baseviews:
        for role, perms in getattr(view, "role_grants", {}).items():
            allowed = set(perms) & set(view.base_permissions)
            grants[role] |= {(perm, view.class_permission_name) for perm in allowed}
            if allowed:
                reachable[role].add(view.__class__.__name__)
    for top in menu.get_list():
        for item in [top, *top.childs]:
            baseview = getattr(item, "baseview", None)
            if baseview is None:
                continue
            for role in STAFF_ROLES:
                if baseview.__class__.__name__ in reachable[role]:
                    grants[role] |= {("menu_access", item.name), ("menu_access", top.name)}
    return grants


_SYNC_ADD = text(
    """
    INSERT INTO ab_permission_view_role (permission_view_id, role_id)
    SELECT pv.id, r.id
      FROM unnest(CAST(:perms AS text[]), CAST(:views AS text[])) AS d(perm, view)
      JOIN ab_permission p ON p.name = d.perm
      JOIN ab_view_menu v ON v.name = d.view
      JOIN ab_permission_view pv ON pv.permission_id = p.id AND pv.view_menu_id = v.id
      JOIN ab_role r ON r.name = :role
    ON CONFLICT (permission_view_id, role_id) DO NOTHING
    """
)
_SYNC_REMOVE = text(
    """
    DELETE FROM ab_permission_view_role pvr
     USING ab_role r, ab_permission_view pv, ab_permission p, ab_view_menu v
     WHERE r.name = :role AND pvr.role_id = r.id AND pv.id = pvr.permission_view_id
       AND p.id = pv.permission_id AND v.id = pv.view_menu_id
       AND (p.name, v.name) NOT IN (
           SELECT * FROM unnest(CAST(:perms AS text[]), CAST(:views AS text[])))
    """
)


def sync_role_permissions(appbuilder) -> None:
    """Make Cashier and ReadOnly hold exactly their declared permissions (set-based: two
    statements per role)."""
    grants = declared_grants(appbuilder.baseviews, appbuilder.menu)
    db_session = appbuilder.session
    for role, pairs in grants.items():
        params = {
            "role": role,
            "perms": [perm for perm, _ in sorted(pairs)],
            "views": [view for _, view in sorted(pairs)],
        }
        db_session.execute(_SYNC_ADD, params)
        db_session.execute(_SYNC_REMOVE, params)
    db_session.commit()
