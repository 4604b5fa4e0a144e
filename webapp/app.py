"""The web app factory: ``create_app(settings)`` builds the admin and cashier app.

Configuration comes from ``billing.settings`` (defaults, ``settings_local.py``, ``EBS_*``
variables); the UI language defaults to Russian (``LANGUAGE_CODE`` in the settings file or
``EBS_LANGUAGE_CODE``), each user may switch to English. The session-signing key is never
in the code: ``SECRET_KEY`` from the settings file or ``EBS_SECRET_KEY``, else a random
key generated once into ``STATE_DIR/secrets/web_secret.key`` (the local demo's case).

Served by gunicorn (``stack/servers/web.py``) as ``webapp.app:create_app()``.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import flask_appbuilder
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask
from sqlalchemy.engine import URL

from billing import db_pooler
from billing import settings as settings_mod
from webapp import errors, labels, localtime, login_guard, numbers
from webapp.extensions import db, make_appbuilder, make_csrf
from webapp.headers import add_security_headers
from webapp.security import enforce_password_change, password_policy, sync_role_permissions
from webapp.session_guard import check_browser_session
from webapp.staff_networks import client_address, trusted_proxies

HERE = Path(__file__).resolve().parent
LANGUAGES = {
    "ru": {"flag": "ru", "name": "Русский"},
    "en": {"flag": "gb", "name": "English"},
}


def secret_key(settings: SimpleNamespace) -> str:
    configured = getattr(settings, "SECRET_KEY", "") or os.environ.get("EBS_SECRET_KEY", "")
    if configured:
        return configured
    path = Path(settings.STATE_DIR) / "secrets" / "web_secret.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first; use theirs
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
    return path.read_text().strip()


def fab_catalogue(lang: str) -> Path:
    """FAB's own .po for ``lang``: its shipped .mo lags behind it ("Show", "Refresh")."""
    return Path(flask_appbuilder.__file__).parent / "translations" / lang / \
        "LC_MESSAGES" / "messages.po"


def merged_catalogue(po_path: Path, lang: str):
    """FAB's messages with ours over them: one catalogue, ours winning where both speak."""
    with po_path.open("rb") as fh:
        catalog = read_po(fh, locale=lang)
    fab = fab_catalogue(lang)
    if fab.exists():
        with fab.open("rb") as fh:
            for message in read_po(fh, locale=lang):
                if message.id and message.string and not message.fuzzy \
                        and not (catalog.get(message.id) and catalog.get(message.id).string):
                    catalog[message.id] = message
    return catalog


def compile_translations(settings: SimpleNamespace) -> str:
    """Compile the committed .po catalogues, each over FAB's own, into STATE_DIR (the
    checkout may be read-only for the service user); recompiles only what changed.
    Returns the directory."""
    target = Path(settings.STATE_DIR) / "cache" / "translations"
    for po_path in (HERE / "translations").glob("*/LC_MESSAGES/messages.po"):
        lang = po_path.parent.parent.name
        mo_path = target / lang / "LC_MESSAGES" / "messages.mo"
        sources = [po_path, fab_catalogue(lang)]
        newest = max(p.stat().st_mtime for p in sources if p.exists())
        if mo_path.exists() and mo_path.stat().st_mtime >= newest:
            continue
        mo_path.parent.mkdir(parents=True, exist_ok=True)
        catalog = merged_catalogue(po_path, lang)
        tmp = mo_path.with_suffix(f".{os.getpid()}.tmp")
        with tmp.open("wb") as fh:
            write_mo(fh, catalog)
        tmp.replace(mo_path)
    return str(target)


def database_url(settings: SimpleNamespace) -> URL:
    """The web app's own role (DB_WEB_USER), never the owner; PostgreSQL's address or
    PgBouncer's (billing/db_pooler.py)."""
    host, port = db_pooler.address(settings, "web")
    user, password = settings_mod.database_role(settings, "web")
    return URL.create(
        "postgresql+psycopg",
        username=user,
        password=password or None,
        host=host,
        port=port,
        database=settings.DB_NAME,
        query={"application_name": "ebs-web"},
    )


def engine_connect_args(settings: SimpleNamespace) -> dict:
    """No JIT: a page's statements run in milliseconds, and compiling one whose estimate
    is large (a report's branch that a one-time filter skips) costs 100+ ms. Through
    PgBouncer, which refuses the ``options`` startup parameter, the role's own setting
    says so instead (docs/scaling.md), and psycopg prepares nothing."""
    if db_pooler.pooled(settings, "web"):
        return {"prepare_threshold": None}
    return {"options": "-c jit=off"}


def flag(value) -> bool:
    """A yes/no setting, also when it comes from an ``EBS_*`` variable as text."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def flask_config(settings: SimpleNamespace) -> dict:
    return {
        "APP_NAME": "EBS",
        "SECRET_KEY": secret_key(settings),
        "SQLALCHEMY_DATABASE_URI": database_url(settings),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True, "pool_size": 5,
                                      "connect_args": engine_connect_args(settings)},
        "SQLALCHEMY_TRACK_MODIFICATIONS": False,
        "WTF_CSRF_ENABLED": True,
        "WTF_CSRF_TIME_LIMIT": None,  # a cashier's form stays valid through the shift
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": flag(settings.WEB_HTTPS),
        "JWT_REFRESH_TOKEN_EXPIRES": timedelta(seconds=int(settings.WEB_REFRESH_TOKEN_SECONDS)),
        # Login limits (webapp.login_guard) counted in Redis, shared by every worker.
        "RATELIMIT_ENABLED": True,  # FAB turns the limiter off unless its own limit is on
        "RATELIMIT_STORAGE_URI": settings_mod.redis_url(settings),
        "RATELIMIT_STRATEGY": "moving-window",
        # Redis down: each worker counts in its own memory meanwhile (the locks, kept in
        # PostgreSQL, hold regardless), so staff can still log in.
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_KEY_FUNC": client_address,
        "RATELIMIT_KEY_PREFIX": "ebs-web",
        "AUTH_RATE_LIMITED": False,  # FAB's own single limit: ours are set in login_guard
        "EBS_TRUSTED_PROXIES": trusted_proxies(settings.WEB_TRUSTED_PROXIES),
        "EBS_LOGIN_LOCKOUT_FAILURES": settings.WEB_LOGIN_LOCKOUT_FAILURES,
        "EBS_LOGIN_LOCKOUT_SECONDS": settings.WEB_LOGIN_LOCKOUT_SECONDS,
        "EBS_LOGIN_LOCKOUT_MAX_SECONDS": settings.WEB_LOGIN_LOCKOUT_MAX_SECONDS,
        "AUTH_TYPE": 1,  # AUTH_DB
        "AUTH_USER_REGISTRATION": False,
        "FAB_CREATE_DB": False,  # sql/migrations own every table, FAB's included
        "FAB_UPDATE_PERMS": flag(settings.WEB_SYNC_PERMISSIONS),
        "FAB_API_SWAGGER_UI": True,  # /swagger/v1, for Admin
        "FAB_ADD_OPENAPI_VIEWS": False,  # webapp.api registers the spec behind its lock
        "FAB_ADD_MENU_API": False,
        "FAB_PASSWORD_HASH_METHOD": "pbkdf2:sha256:600000",  # billing.passwords' format
        "FAB_PASSWORD_COMPLEXITY_ENABLED": True,
        "FAB_PASSWORD_COMPLEXITY_VALIDATOR": password_policy,
        "LANGUAGES": LANGUAGES,
        "BABEL_DEFAULT_LOCALE": getattr(settings, "LANGUAGE_CODE", None)
        or os.environ.get("EBS_LANGUAGE_CODE", "ru"),
        "BABEL_DEFAULT_TIMEZONE": settings.TIME_ZONE,
        "BABEL_TRANSLATION_DIRECTORIES": compile_translations(settings),
        "EBS_SETTINGS": settings,
    }


def create_app(settings: SimpleNamespace | None = None, **overrides) -> Flask:
    settings = settings or settings_mod.load()
    app = Flask(__name__, template_folder=str(HERE / "templates"))
    app.config.update(flask_config(settings))
    app.config.update(overrides)
    # Unknown logins check this hash: the same method, so the same work, as a real one.
    app.config.setdefault("AUTH_DB_FAKE_PASSWORD_HASH_CHECK",
                          login_guard.dummy_hash(app.config["FAB_PASSWORD_HASH_METHOD"]))
    db.init_app(app)
    make_csrf(app)
    with app.app_context():
        appbuilder = make_appbuilder(app)
        from webapp.views import register_views

        register_views(appbuilder)
        from webapp.api import register_api

        register_api(appbuilder)
        from webapp import gateway_callbacks

        gateway_callbacks.install(app)
        from webapp import metrics

        metrics.install(app)
        from webapp import cabinet

        cabinet.install(app, appbuilder, settings)
        login_guard.install(appbuilder, settings)
        errors.install(app, appbuilder)
        numbers.install(app)
        localtime.install(app)
        sync_role_permissions(appbuilder)
        # gunicorn --preload forks after this: children must open their own connections.
        db.session.remove()
        db.engine.dispose()
    # A ledger description billing wrote ("Payment through the API") in the reader's language.
    app.add_template_filter(labels.ledger_description, "ledger_text")
    app.before_request(lambda: check_browser_session(appbuilder))
    app.before_request(enforce_password_change)
    app.after_request(add_security_headers)
    return app
