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
from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget
from flask_appbuilder.forms import DynamicForm
from flask_appbuilder.security.sqla.manager import SecurityManager
from flask_appbuilder.security.views import ResetMyPasswordView
from flask_appbuilder.validators import PasswordComplexityValidator
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import text
from werkzeug.security import check_password_hash
from wtforms import PasswordField
from wtforms.validators import DataRequired, EqualTo, ValidationError

from webapp import audit, login_guard, staff_audit
from webapp.session_guard import remember, token_user
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


def current_password_matches(_form, field) -> None:
    """Changing one's password takes the current one: a session left open (or taken)
    is not enough to lock its owner out."""
    if not check_password_hash(g.user.password or "", field.data or ""):
        raise ValidationError(str(_l("The current password is wrong.")))


class OwnPasswordForm(DynamicForm):
    current_password = PasswordField(
        _l("Current password"), validators=[DataRequired(), current_password_matches],
        widget=BS3PasswordFieldWidget())
    password = PasswordField(
        _l("Password"), validators=[DataRequired(), PasswordComplexityValidator()],
        widget=BS3PasswordFieldWidget())
    conf_password = PasswordField(
        _l("Confirm Password"),
        validators=[EqualTo("password", message=_l("Passwords must match"))],
        widget=BS3PasswordFieldWidget())


class ForcedResetMyPasswordView(ResetMyPasswordView):
    """The own-password form; a successful change lifts the forced-change lock and keeps
    this session (every other session of the staff member ends)."""

    form = OwnPasswordForm

    def form_post(self, form) -> None:
        audit.record_action(self.appbuilder.session, "edit", "ab_user", g.user.id,
                            {"password": "changed"})
        super().form_post(form)  # reset_password commits the row with the change
        session.pop(MUST_CHANGE_KEY, None)
        sm = self.appbuilder.sm
        user = sm.get_user_by_id(g.user.id)
        remember(user, sm.session_epoch(user))


# The request's permissions and, in the same round trip, whether the staff member may
# work from the request's address (a marker row when not).
_NETWORK_REFUSED = ("ebs:network", "refused")
_ROLE_PERMISSIONS = text(
    """
    SELECT p.name, v.name
      FROM ab_permission_view_role pvr
      JOIN ab_permission_view pv ON pv.id = pvr.permission_view_id
      JOIN ab_permission p ON p.id = pv.permission_id
      JOIN ab_view_menu v ON v.id = pv.view_menu_id
     WHERE pvr.role_id = ANY(:ids)
    UNION ALL
    SELECT 'ebs:network', 'refused'
     WHERE ebs_staff_login_allowed(:user_id, CAST(:address AS inet)) IS FALSE
    UNION ALL
    SELECT 'ebs:epoch', CAST(session_epoch AS text) FROM ab_user WHERE id = :user_id
    """
)
_NEXT_EPOCH = text("UPDATE ab_user SET session_epoch = session_epoch + 1 WHERE id = :id")


class EbsSecurityManager(SecurityManager):
    resetmypasswordview = ForcedResetMyPasswordView
    userdbmodelview = staff_audit.UserDBModelView
    rolemodelview = staff_audit.RoleModelView
    resetpasswordview = staff_audit.ResetPasswordView
    # FAB's user-statistics chart loads Google Charts from the internet, which an ISP's
    # management network often cannot reach: no such view, menu entry or permission.
    userstatschartview = None

    def __init__(self, appbuilder):
        super().__init__(appbuilder)
        staff_audit.install(self)

    def create_db(self) -> None:
        """The schema, roles included, comes from sql/migrations; nothing to create."""

    def _access_facts(self, user) -> set[tuple[str, str]]:
        """FAB asks the database once per check, and a page makes dozens (menu, buttons,
        related views); here a request loads the user's permissions in one query, which
        also answers the source-network rule for this request's address."""
        role_ids = tuple(sorted(r.id for r in self.get_user_roles(user) if r is not None))
        key = (getattr(user, "id", None), role_ids)
        cached = g.get("ebs_permissions")
        if cached is None or cached[0] != key:
            rows = self.session.execute(_ROLE_PERMISSIONS, {
                "ids": list(role_ids), "user_id": key[0], "address": client_address(),
            }).all()
            cached = (key, {(perm, view) for perm, view in rows})
            g.ebs_permissions = cached
        return cached[1]

    def _has_view_access(self, user, permission_name: str, view_name: str) -> bool:
        return (permission_name, view_name) in self._access_facts(user)

    def network_allowed(self, user) -> bool:
        """May ``user`` work from this request's address (checked on every request)?"""
        return _NETWORK_REFUSED not in self._access_facts(user)

    def session_epoch(self, user) -> int:
        """The count of the staff member's logouts (part of every stamp)."""
        return next((int(value) for perm, value in self._access_facts(user)
                     if perm == "ebs:epoch"), 0)

    def on_user_logout(self, user) -> None:
        """Logging out ends every session and refresh token of the staff member, the
        copies of this session's cookie included."""
        super().on_user_logout(user)
        self.session.execute(_NEXT_EPOCH, {"id": user.id})
        self.session.commit()

    def auth_user_db(self, username, password):
        """FAB's check (the same hash work for unknown logins), behind the lock of
        ``login_guard``; every refusal is audited and answers alike, whatever its reason
        (a source network the staff member may not use included)."""
        address, login = client_address(), str(username or "")
        known = self.find_user(username=username) if login else None
        if known is not None and not known.is_active:
            known = None
        until = login_guard.locked_until(self.session, known.id) if known else None
        if until is not None:
            check_password_hash(known.password or "", password or "")  # the same work
            login_guard.audit(self.session, "login_refused", login, known.id, address,
                              "locked")
            self.session.commit()
            login_guard.announce_lock(until)
            return None
        user = super().auth_user_db(username, password)
        if user is None:
            reason = "wrong_password" if known is not None else "unknown_login"
            login_guard.refused(self.session, login, known, address, reason)
            return None
        if not login_allowed(self.session, user.id, address):
            login_guard.refused(self.session, login, user, address, "network")
            return None
        remember(user, self.session_epoch(user))
        if _violates_policy(password or ""):
            session[MUST_CHANGE_KEY] = user.id
        return user

    def load_user_jwt(self, _jwt_header, jwt_data):
        user = token_user(self, super().load_user_jwt(_jwt_header, jwt_data), jwt_data)
        if user is None:
            g.pop("user", None)
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
