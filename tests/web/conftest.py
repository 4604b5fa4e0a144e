"""The web app on a fresh test database: FAB's test client, staff, and helpers to log in
and submit forms with their CSRF token (CSRF stays on, as in production)."""

from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import event

from billing import settings as settings_mod
from billing import staff as staff_mod
from billing.passwords import hash_password
from billing.staff import ensure_staff
from tests.conftest import ebs_env
from tests.web.gateway_helpers import GUIDE_FILE

ADMIN = ("admin", "admin-Secret-1")
CASHIER = ("cashier", "cashier-Secret-1")
READONLY = ("auditor", "auditor-Secret-1")
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


@pytest.fixture(scope="session")
def web_state(tmp_path_factory):
    return tmp_path_factory.mktemp("web-state")


def settings_for(conninfo: str, web_state):
    env = ebs_env(conninfo)
    env["EBS_STATE_DIR"] = str(web_state)
    settings = settings_mod.load(environ=env)
    settings.LANGUAGE_CODE = "en"
    settings.SECRET_KEY = "test-only-key"
    return settings


FAST_HASH = "pbkdf2:sha256:1000"  # the format of production, fewer rounds for speed
# Login limits count in process here; tests/security counts them in a real Redis.
LIMITS_STORAGE = "memory://"


@pytest.fixture(scope="session")
def web_template(pg_server, template_db, web_state):
    """The migrated database after one start of the app: FAB's views, permissions and
    menu rows and our role grants written once (about 2,800 statements), so that each
    test's database is a copy and its app starts with FAB_UPDATE_PERMS off."""
    from webapp.app import create_app

    name = f"webtpl_{uuid.uuid4().hex[:12]}"
    pg_server.create_database(name, template=template_db)
    create_app(settings_for(pg_server.conninfo(name), web_state), TESTING=True,
               FAB_PASSWORD_HASH_METHOD=FAST_HASH,
               RATELIMIT_STORAGE_URI=LIMITS_STORAGE)  # closes its connections when done
    yield name
    pg_server.drop_database(name)


@pytest.fixture
def db(pg_server, web_template):
    """A database of its own for one web test, copied from the synced web template."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    pg_server.create_database(name, template=web_template)
    yield pg_server.conninfo(name)
    pg_server.drop_database(name)


@pytest.fixture
def web_settings(db, web_state):
    return settings_for(db, web_state)


@pytest.fixture
def staff(conn, monkeypatch):
    """Admin, Cashier and ReadOnly staff with passwords that satisfy the policy."""
    monkeypatch.setattr(staff_mod, "hash_password",
                        lambda password: hash_password(password, iterations=1000))
    return {
        "admin": ensure_staff(conn, *ADMIN, "Admin"),
        "cashier": ensure_staff(conn, *CASHIER, "Cashier"),
        "readonly": ensure_staff(conn, *READONLY, "ReadOnly"),
    }


def start_app(settings):
    """The app as a test uses it: the template holds every permission already
    (web_template), so FAB does not sync them again."""
    from webapp.app import create_app

    return create_app(settings, TESTING=True, FAB_PASSWORD_HASH_METHOD=FAST_HASH,
                      FAB_UPDATE_PERMS=False, RATELIMIT_STORAGE_URI=LIMITS_STORAGE)


@pytest.fixture
def app(web_settings, staff):
    application = start_app(web_settings)
    yield application
    with application.app_context():
        from webapp.extensions import db as sqla

        sqla.session.remove()
        sqla.engine.dispose()


@pytest.fixture
def gateway_app(web_settings, web_state, staff):
    """The app with the guide's payment backends enabled (tests/web/gateway_helpers.py)."""
    local = web_state / f"settings_local_{uuid.uuid4().hex[:8]}.py"
    local.write_text(GUIDE_FILE)
    operators = settings_mod.load(environ={"EBS_SETTINGS": str(local)})
    web_settings.GETPAID_BACKENDS = operators.GETPAID_BACKENDS
    web_settings.GETPAID_BACKENDS_SETTINGS = operators.GETPAID_BACKENDS_SETTINGS
    application = start_app(web_settings)
    yield application
    with application.app_context():
        from webapp.extensions import db as sqla

        sqla.session.remove()
        sqla.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


def csrf_token(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def login(client, username: str, password: str, follow: bool = True):
    page = client.get("/login/")
    return client.post(
        "/login/",
        data={"username": username, "password": password, "csrf_token": csrf_token(page.text)},
        follow_redirects=follow,
    )


def submit(client, form_url: str, data: dict, post_url: str | None = None, follow=True):
    """GET a form page, then POST data with the page's CSRF token (to post_url if given)."""
    page = client.get(form_url)
    assert page.status_code == 200, (form_url, page.status_code)
    return client.post(post_url or form_url, data={**data, "csrf_token": csrf_token(page.text)},
                       follow_redirects=follow)


@pytest.fixture
def as_admin(client):
    login(client, *ADMIN)
    return client


@pytest.fixture
def as_cashier(client):
    login(client, *CASHIER)
    return client


class QueryCounter:
    """Counts SQL statements the app's engine runs (a SQLAlchemy event listener)."""

    def __init__(self, engine):
        self.engine = engine
        self.statements: list[str] = []

    def _on_execute(self, conn, cursor, statement, parameters, context, executemany):
        self.statements.append(statement)

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._on_execute)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._on_execute)

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def count_queries(app):
    from webapp.extensions import db as sqla

    with app.app_context():
        engine = sqla.engine
    return lambda: QueryCounter(engine)
