"""The forced password change, for API tokens.

The browser keeps its lock in the session cookie; a token has no cookie, so the lock
travels in the token itself. A login (``/api/v1/security/login``) with a password the
policy refuses (a documented default, too short) gets a token carrying the fingerprint
of the stored password hash. While the stored hash is still that one, every resource of
ours answers 403 with what to do; the one way forward is ``POST /api/v1/me/password``.
Once the password changes (here or in the browser) the hash differs and the same token
works. A refresh token carries the lock over to the access tokens it issues, so
refreshing does not lift it.
"""

from __future__ import annotations

import hashlib

from flask import g, request
from flask_appbuilder.exceptions import PasswordComplexityValidationError
from flask_jwt_extended import get_jwt, verify_jwt_in_request
from flask_jwt_extended.exceptions import JWTExtendedException
from jwt import PyJWTError

from webapp.security import password_policy
from webapp.session_guard import STAMP_CLAIM, current_stamp

CLAIM = "ebs_pwlock"
LOGIN_ENDPOINT = "SecurityApi.login"
CHANGE_URL = "/api/v1/me/password"


def fingerprint(password_hash: str) -> str:
    return hashlib.sha256((password_hash or "").encode()).hexdigest()[:32]


def _weak(password) -> bool:
    try:
        password_policy(password if isinstance(password, str) else "")
    except PasswordComplexityValidationError:
        return True
    return False


def claims_for(appbuilder, identity) -> dict:
    """flask-jwt-extended's additional claims for a token being issued: the lock, and
    the stamp of the password the token is granted on (``webapp.session_guard``)."""
    if request.endpoint == LOGIN_ENDPOINT:
        user = appbuilder.sm.get_user_by_id(int(identity))
        if user is None:
            return {}
        claims = {STAMP_CLAIM: current_stamp(appbuilder.sm, user)}
        body = request.get_json(silent=True) or {}
        if _weak(body.get("password")):
            claims[CLAIM] = fingerprint(user.password)
        return claims
    try:  # a refresh: the lock and the stamp of the refresh token go on
        previous = get_jwt()
    except RuntimeError:  # no token in this request
        previous = {}
    return {key: previous[key] for key in (CLAIM, STAMP_CLAIM) if previous.get(key)}


def locked() -> bool:
    """Does this request's token come from a login whose password is still the weak one?
    Only a valid token can be locked; an invalid or absent one is left to FAB's
    permission check (401)."""
    try:
        verify_jwt_in_request(optional=True)
    except (JWTExtendedException, PyJWTError):
        return False
    lock = get_jwt().get(CLAIM) if g.get("user") is not None else None
    return bool(lock) and lock == fingerprint(g.user.password)


def refusal(api):
    if not locked():
        return None
    return api.response(
        403,
        message="The password is a documented default or too weak: choose a new one with"
                f" POST {CHANGE_URL} before using the API.",
        reason="password_change_required",
    )


def install(appbuilder) -> None:
    jwt_manager = appbuilder.sm.jwt_manager
    jwt_manager.additional_claims_loader(lambda identity: claims_for(appbuilder, identity))
