"""The cabinet's session: its own cookie, never the staff's.

One Flask app serves staff and subscribers, and Flask has one session interface, so the
interface chooses by path: a request under ``/cabinet`` reads and writes the cookie
``ebs_cabinet`` (path ``/cabinet``, signed with its own salt); every other request the
staff cookie. A browser never sends the cabinet's cookie to a staff page (its path), a
staff page would not read it (its name) nor accept its signature (its salt), and the
cabinet reads nothing from the staff cookie: a staff login opens no cabinet and a
subscriber's login opens no staff view.

A cabinet session remembers the account and a stamp of what it was granted on: the
password hash and the count of the account's logouts, so a password change or a logout
ends every session issued before it (the staff sessions' rule, webapp/session_guard.py).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import wraps

from flask import g, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import text

PREFIX = "/cabinet"
COOKIE = "ebs_cabinet"
SALT = "ebs-cabinet-session"
ACCOUNT_KEY = "cabinet_account"
STAMP_KEY = "cabinet_stamp"

_ACCOUNT = text(
    """
    SELECT a.id, a.login, a.contract, a.full_name, a.password_hash,
           coalesce(c.logouts, 0) AS logouts
      FROM accounts a
      LEFT JOIN cabinet_logins c ON c.account_id = a.id
     WHERE a.id = :id
    """
)


def under_prefix(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


def in_cabinet() -> bool:
    return under_prefix(request.path)


class CabinetCookie(SecureCookieSessionInterface):
    salt = SALT

    def get_cookie_name(self, app) -> str:
        return COOKIE

    def get_cookie_path(self, app) -> str:
        return PREFIX


class PathSessionInterface(SecureCookieSessionInterface):
    """The staff's signed cookie, or the cabinet's under ``/cabinet``."""

    cabinet = CabinetCookie()

    def open_session(self, app, request):
        if under_prefix(request.path):
            return self.cabinet.open_session(app, request)
        return super().open_session(app, request)

    def save_session(self, app, session, response) -> None:
        if in_cabinet():
            return self.cabinet.save_session(app, session, response)
        return super().save_session(app, session, response)


@dataclass(frozen=True)
class Subscriber:
    """The account a cabinet request acts for."""

    id: int
    login: str
    contract: str
    full_name: str


def stamp(password_hash: str, logouts: int) -> str:
    material = f"ebs-cabinet:{logouts}:{password_hash}".encode()
    return hashlib.sha256(material).hexdigest()[:32]


def sign_in(db, account_id: int) -> None:
    """Start a fresh session for ``account_id`` (nothing of an earlier one is kept)."""
    row = db.execute(_ACCOUNT, {"id": account_id}).mappings().one()
    locale = session.get("locale")
    session.clear()
    if locale:
        session["locale"] = locale
    session[ACCOUNT_KEY] = row["id"]
    session[STAMP_KEY] = stamp(row["password_hash"], row["logouts"])


def restamp(db, account_id: int) -> None:
    """After the subscriber's own password change: this session holds the new stamp."""
    row = db.execute(_ACCOUNT, {"id": account_id}).mappings().one()
    session[STAMP_KEY] = stamp(row["password_hash"], row["logouts"])


def sign_out() -> None:
    locale = session.get("locale")
    session.clear()
    if locale:
        session["locale"] = locale


def current(db) -> Subscriber | None:
    """The session's account while its stamp still holds, else None (and the session is
    cleared)."""
    if "cabinet_subscriber" in g:
        return g.cabinet_subscriber
    subscriber = None
    account_id = session.get(ACCOUNT_KEY)
    if isinstance(account_id, int):
        row = db.execute(_ACCOUNT, {"id": account_id}).mappings().first()
        if row is not None and session.get(STAMP_KEY) == stamp(row["password_hash"],
                                                               row["logouts"]):
            subscriber = Subscriber(row["id"], row["login"], row["contract"], row["full_name"])
        else:
            sign_out()
    g.cabinet_subscriber = subscriber
    return subscriber


def login_required(view):
    """A cabinet page: the session's subscriber is the view's first argument; without one
    the login form, which comes back here."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        from webapp.extensions import db

        subscriber = current(db.session)
        if subscriber is None:
            return redirect(url_for("cabinet.login", next=request.full_path.rstrip("?")))
        return view(subscriber, *args, **kwargs)

    return wrapper
