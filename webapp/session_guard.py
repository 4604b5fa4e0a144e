"""A staff session or token lasts only while what it was granted on still holds.

A browser session carries a stamp of the password hash it logged in with and of the count
of the staff member's logouts; a refresh token carries the same stamp as a claim. A
password change (own or by an Admin) changes the hash and a logout the count, so every
session and refresh token issued before stops working; a deactivated
staff member is not loaded at all (FAB's ``load_user``). The staff source-network rule is
checked again on every request, from the request's own address, so a session or token
taken to a network the staff member may not use (or one a rule change has since closed)
fails like a wrong password does: with the generic login failure and no reason given.
"""

from __future__ import annotations

import hashlib

from flask import flash, redirect, request, session, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, logout_user

STAMP_KEY = "ebs_stamp"
STAMP_CLAIM = "ebs_stamp"
# FAB's own wording for a failed login, so the refusal tells nothing more.
GENERIC_FAILURE = _l("Invalid login. Please try again.")
_OPEN_ENDPOINTS = {"static", "appbuilder.static", "AuthDBView.login", "AuthDBView.logout"}


def credential_stamp(password_hash: str | None, epoch: int) -> str:
    """What a session or refresh token remembers of what it was granted on: the password
    hash and the count of the staff member's logouts."""
    material = f"ebs-stamp:{epoch}:{password_hash or ''}".encode()
    return hashlib.sha256(material).hexdigest()[:32]


def remember(user, epoch: int) -> None:
    """At login and after one's own password change: this session holds the new stamp."""
    session[STAMP_KEY] = credential_stamp(user.password, epoch)


def current_stamp(security_manager, user) -> str:
    return credential_stamp(user.password, security_manager.session_epoch(user))


def still_valid(security_manager, user, stamp: str | None) -> bool:
    return stamp == current_stamp(security_manager, user) and \
        security_manager.network_allowed(user)


def check_browser_session(appbuilder):
    """A before-request hook for the UI (the API's tokens are checked as they load)."""
    if request.path.startswith("/api/") or request.endpoint in _OPEN_ENDPOINTS:
        return None
    if not current_user.is_authenticated:
        return None
    if still_valid(appbuilder.sm, current_user, session.get(STAMP_KEY)):
        return None
    logout_user()
    session.clear()
    flash(str(GENERIC_FAILURE), "danger")
    return redirect(url_for("AuthDBView.login"))


def token_user(security_manager, user, jwt_data: dict):
    """The user a JWT may act as, or None (FAB answers 401): a refresh token must carry
    the current stamp; every token must come from an allowed network."""
    if user is None:
        return None
    if jwt_data.get("type") == "refresh" and jwt_data.get(STAMP_CLAIM) != current_stamp(
            security_manager, user):
        return None
    if not security_manager.network_allowed(user):
        return None
    return user
