"""The web app of tests/web, with its login limits counted in the session's real Redis
and settings a test may tighten (import these fixtures into a test module)."""

from __future__ import annotations

import time
import uuid

import limits.storage.redis as limits_redis
import pytest

from tests.web.conftest import (  # noqa: F401  (fixtures re-exported for test modules)
    FAST_HASH,
    db,
    staff,
    web_settings,
    web_state,
    web_template,
)


class MovedClock:
    """``time`` for the limits library, moved forward instead of waited for."""

    def __init__(self):
        self.offset = 0.0

    def time(self) -> float:
        return time.time() + self.offset


@pytest.fixture
def limits_clock(monkeypatch):
    clock = MovedClock()
    monkeypatch.setattr(limits_redis, "time", clock)
    return clock


@pytest.fixture
def make_app(web_settings, staff, redis_server):  # noqa: F811
    """Builds the app with settings changed by the test; closes each one at the end."""
    from webapp.app import create_app

    made = []

    def build(**settings):
        for name, value in settings.items():
            setattr(web_settings, name, value)
        application = create_app(
            web_settings, TESTING=True, FAB_PASSWORD_HASH_METHOD=FAST_HASH,
            FAB_UPDATE_PERMS=False,
            RATELIMIT_STORAGE_URI=redis_server.url.rsplit("/", 1)[0] + "/9",
            RATELIMIT_KEY_PREFIX=f"t-{uuid.uuid4().hex[:12]}")
        made.append(application)
        return application

    yield build
    for application in made:
        with application.app_context():
            from webapp.extensions import db as sqla

            sqla.session.remove()
            sqla.engine.dispose()
