"""Password guessing against staff logins, UI form and API alike, is slowed three ways:

* a rate limit per source address and one per login name (Flask-Limiter, counted in
  Redis so every web worker shares the count, on a moving window): only failed attempts
  count, and beyond the limit the login answers 429 before any password is hashed;
* a lock on the login after ``WEB_LOGIN_LOCKOUT_FAILURES`` wrong passwords in a row, for
  ``WEB_LOGIN_LOCKOUT_SECONDS`` doubled by each further failure (``ab_user.locked_until``);
  a locked login is refused even with the right password, with a message saying until when;
* the same hash work whether or not the login exists (the security manager checks a
  dummy hash of the same method), so timing does not tell which logins exist.

Each refusal and each lock is a row of the staff audit log.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

from flask import current_app, flash, g, jsonify, redirect, request, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import text
from werkzeug.security import generate_password_hash

from webapp import localtime

API_LOGIN = "SecurityApi.login"
_FAILED = "ebs_login_failed"
_LOCKED = "ebs_login_locked_until"

_AUDIT = text(
    """
    INSERT INTO staff_audit_log (staff_user_id, action, object_type, object_id, new_values)
    VALUES (NULL, :action, 'ab_user', :id, CAST(:new AS jsonb))
    """
)
_LOCKED_UNTIL = text("SELECT locked_until FROM ab_user WHERE id = :id")
_LOCK = text("UPDATE ab_user SET locked_until = :until WHERE id = :id")


def now() -> datetime:
    """The clock the locks are read against (tests move it instead of waiting)."""
    return datetime.now(UTC)


def dummy_hash(method: str) -> str:
    """A hash of the configured method for the unknown-login path to check against."""
    return generate_password_hash("no-such-login-" + method, method=method)


def locked_until(session, user_id: int) -> datetime | None:
    until = session.execute(_LOCKED_UNTIL, {"id": user_id}).scalar()
    return until if until is not None and until > now() else None


def lock_seconds(failures: int) -> int:
    """Seconds to lock after ``failures`` wrong passwords in a row (0: no lock)."""
    config = current_app.config
    threshold = int(config["EBS_LOGIN_LOCKOUT_FAILURES"])
    if failures < threshold:
        return 0
    doubled = int(config["EBS_LOGIN_LOCKOUT_SECONDS"]) * 2 ** min(failures - threshold, 30)
    return min(doubled, int(config["EBS_LOGIN_LOCKOUT_MAX_SECONDS"]))


def audit(session, action: str, login: str, user_id: int | None, address: str,
          reason: str, **extra) -> None:
    """A refused login or a lock, as an audit row (no staff acted: the actor is empty)."""
    details = {"login": login, "address": address, "reason": reason, **extra}
    session.execute(_AUDIT, {"action": action, "id": str(user_id) if user_id else login,
                             "new": json.dumps(details, default=str, ensure_ascii=False)})


def refused(session, login: str, user, address: str, reason: str) -> None:
    """Record a refused login (and a lock when this failure earns one); commits."""
    g.setdefault(_FAILED, True)
    user_id = getattr(user, "id", None)
    audit(session, "login_refused", login, user_id, address, reason)
    if reason == "wrong_password" and user is not None:
        seconds = lock_seconds(user.fail_login_count or 0)
        if seconds:
            until = now() + timedelta(seconds=seconds)
            session.execute(_LOCK, {"id": user_id, "until": until})
            audit(session, "lockout", login, user_id, address, "failures",
                  failures=user.fail_login_count, until=until.isoformat())
            announce_lock(until)
    session.commit()


def announce_lock(until: datetime) -> None:
    """Say the login is locked: a flash on the form, a 429 body for the API."""
    g.setdefault(_FAILED, True)
    setattr(g, _LOCKED, until)
    if request.endpoint != API_LOGIN:
        flash(lock_message(until), "danger")


def lock_message(until: datetime) -> str:
    seconds = max(1, math.ceil((until - now()).total_seconds()))
    return str(_l("Too many failed logins: this login is locked for %(n)d more seconds"
                  " (until %(at)s).", n=seconds, at=localtime.format_stamp(until)))


def failed_attempt(_response=None) -> bool:
    """Flask-Limiter's ``deduct_when``: only failed attempts use up the limits."""
    return bool(g.get(_FAILED, False))


def login_name() -> str:
    if request.is_json:
        body = request.get_json(silent=True)
        name = body.get("username") if isinstance(body, dict) else None
    else:
        name = request.form.get("username")
    return "login:" + str(name or "").strip().lower()[:200]


def api_lock_response(response):
    """An after-request hook: the API login's bare 401 for a locked login becomes a 429
    that says why and until when."""
    until = g.get(_LOCKED)
    if until is None or request.endpoint != API_LOGIN or response.status_code != 401:
        return response
    answer = jsonify(message=lock_message(until), reason="login_locked",
                     locked_until=until.isoformat())
    answer.status_code = 429
    return answer


def too_many_attempts(error):
    """Flask-Limiter's 429: JSON for the API, the login form with a message for people."""
    message = str(_l("Too many login attempts from here or for this login; try again"
                     " later."))
    if request.path.startswith("/api/"):
        answer = jsonify(message=message, reason="too_many_attempts")
        answer.status_code = 429
        return answer
    flash(message, "danger")
    if request.path.startswith("/cabinet/"):
        return redirect(url_for("cabinet.login")), 303
    return redirect(url_for("AuthDBView.login")), 303


def install(appbuilder, settings) -> None:
    """Put both limits on the UI login form and the API's login and refresh."""
    sm = appbuilder.sm
    app = current_app
    blueprints = [sm.auth_view.blueprint]
    blueprints += [view.blueprint for view in appbuilder.baseviews
                   if type(view).__name__ == "SecurityApi"]
    per_address = sm.limiter.shared_limit(
        settings.WEB_LOGIN_RATE_LIMIT, scope="ebs-login-address", methods=["post"],
        deduct_when=failed_attempt)
    per_login = sm.limiter.shared_limit(
        settings.WEB_LOGIN_RATE_LIMIT_PER_LOGIN, scope="ebs-login-name", methods=["post"],
        key_func=login_name, deduct_when=failed_attempt)
    for blueprint in blueprints:
        per_address(blueprint)
        per_login(blueprint)
    app.after_request(api_lock_response)
    app.register_error_handler(429, too_many_attempts)
