"""The cabinet's login, logout and language switch.

A subscriber logs in with the account's cabinet login and password (``accounts.login``
and ``accounts.password_hash``, the account form's "cabinet password"; never a
subaccount's network password). Guessing is slowed as on the staff login
(webapp/login_guard.py), with the same settings: a rate limit per source address and one
per login name (only failures count), a lock on the account after
``WEB_LOGIN_LOCKOUT_FAILURES`` wrong passwords in a row that doubles with each further
one, and the same hash work whether or not the login exists. Every refusal is logged
with its reason; the subscriber is told only "wrong login or password", or until when
the login is locked.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from flask import current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import text

from billing.passwords import ITERATIONS, hash_password, verify_password
from webapp import login_guard
from webapp.cabinet import sessions
from webapp.cabinet.blueprint import bp
from webapp.cabinet.forms import LoginForm
from webapp.extensions import db
from webapp.staff_networks import client_address

log = logging.getLogger(__name__)

WRONG = _l("Wrong login or password.")
_DUMMY_HASH: dict[int, str] = {}

_FIND = text(
    """
    SELECT a.id, a.password_hash, c.locked_until
      FROM accounts a
      LEFT JOIN cabinet_logins c ON c.account_id = a.id
     WHERE a.login = :login
    """
)
_SUCCEEDED = text(
    """
    INSERT INTO cabinet_logins AS c (account_id, last_login_at, last_login_from)
    VALUES (:id, :at, CAST(:address AS inet))
    ON CONFLICT (account_id) DO UPDATE
       SET failures = 0, locked_until = NULL, last_login_at = excluded.last_login_at,
           last_login_from = excluded.last_login_from
    """
)
_FAILED = text(
    """
    INSERT INTO cabinet_logins AS c (account_id, failures) VALUES (:id, 1)
    ON CONFLICT (account_id) DO UPDATE SET failures = c.failures + 1
    RETURNING failures
    """
)
_LOCK = text("UPDATE cabinet_logins SET locked_until = :until WHERE account_id = :id")
_LOCKED_UNTIL = text("SELECT locked_until FROM cabinet_logins WHERE account_id = :id")
_LOGOUT = text(
    """
    INSERT INTO cabinet_logins AS c (account_id, logouts) VALUES (:id, 1)
    ON CONFLICT (account_id) DO UPDATE SET logouts = c.logouts + 1
    """
)


def dummy_hash(iterations: int) -> str:
    """A hash of the usual strength for an unknown login to be checked against."""
    if iterations not in _DUMMY_HASH:
        _DUMMY_HASH[iterations] = hash_password("no-such-cabinet-login", iterations)
    return _DUMMY_HASH[iterations]


def inet_or_none(address: str) -> str | None:
    return None if address == "unknown" else address


def refuse(login: str, account_id: int | None, reason: str) -> None:
    g.setdefault("ebs_login_failed", True)  # counts against the rate limits
    log.warning("cabinet login refused: login=%r account=%s address=%s reason=%s",
                login[:200], account_id, client_address(), reason)


def authenticate(login: str, password: str) -> int | None:
    """The account id when the password is right and the login not locked; else None,
    with the refusal recorded, a lock earned where due, and a message flashed."""
    dbs = db.session
    row = dbs.execute(_FIND, {"login": login}).mappings().first()
    now = login_guard.now()
    if row is None or not row["password_hash"]:
        verify_password(dummy_hash(ITERATIONS), password)  # the same work as a real login
        refuse(login, row["id"] if row else None,
               "unknown_login" if row is None else "no_cabinet_password")
        flash(str(WRONG), "danger")
        return None
    if row["locked_until"] is not None and row["locked_until"] > now:
        refuse(login, row["id"], "locked")
        flash(login_guard.lock_message(row["locked_until"]), "danger")
        return None
    if verify_password(row["password_hash"], password):
        dbs.execute(_SUCCEEDED, {"id": row["id"], "at": now,
                                 "address": inet_or_none(client_address())})
        dbs.commit()
        return row["id"]
    until = count_failure(dbs, row["id"])
    refuse(login, row["id"], "wrong_password")
    flash(login_guard.lock_message(until) if until else str(WRONG), "danger")
    dbs.commit()
    return None


def count_failure(dbs, account_id: int) -> datetime | None:
    """One more wrong cabinet password in a row (at the login, or as the current password
    of a change): the lock it earns, None while there is none. One count for both, so
    a session left open is no way around the login's lock."""
    failures = dbs.execute(_FAILED, {"id": account_id}).scalar_one()
    seconds = login_guard.lock_seconds(failures)
    if not seconds:
        return None
    until = login_guard.now() + timedelta(seconds=seconds)
    dbs.execute(_LOCK, {"id": account_id, "until": until})
    log.warning("cabinet login locked: account=%s failures=%s until=%s",
                account_id, failures, until.isoformat())
    return until


def locked_until(dbs, account_id: int) -> datetime | None:
    """Until when the account's cabinet password is locked (None: it is not)."""
    until = dbs.execute(_LOCKED_UNTIL, {"id": account_id}).scalar_one_or_none()
    return until if until is not None and until > login_guard.now() else None


def safe_next(target: str | None) -> str:
    """Where to go after login: a cabinet path of this site, never another site."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and sessions.under_prefix(parts.path):
            return target
    return url_for("cabinet.overview")


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        account_id = authenticate(form.username.data.strip(), form.password.data)
        if account_id is not None:
            sessions.sign_in(db.session, account_id)
            return redirect(safe_next(request.args.get("next")), code=303)
    elif request.method == "GET" and sessions.current(db.session) is not None:
        return redirect(url_for("cabinet.overview"))
    return render_template("cabinet/login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout():
    """Ends this session and every other the account holds (the logout count changes)."""
    subscriber = sessions.current(db.session)
    if subscriber is not None:
        db.session.execute(_LOGOUT, {"id": subscriber.id})
        db.session.commit()
    sessions.sign_out()
    return redirect(url_for("cabinet.login"), code=303)


@bp.route("/language/<code>")
def language(code: str):
    if code in current_app.config["LANGUAGES"]:
        session["locale"] = code
    back = request.referrer or ""
    parts = urlsplit(back)
    if parts.netloc == request.host and sessions.under_prefix(parts.path):
        return redirect(back)
    return redirect(url_for("cabinet.overview"))
