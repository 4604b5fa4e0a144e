"""Russian by default (the committed .po compiled at start), English on request; and the
same app served by gunicorn the way `ebs up` runs it."""

import urllib.request

import pytest

from stack.servers.base import free_port
from stack.servers.web import WebServer
from tests.conftest import ebs_env
from tests.web.conftest import ADMIN, login


@pytest.fixture
def russian_app(web_settings, staff):
    from webapp.app import create_app

    web_settings.LANGUAGE_CODE = "ru"
    return create_app(web_settings, TESTING=True)


def test_russian_by_default_english_on_request(russian_app):
    client = russian_app.test_client()
    page = login(client, *ADMIN)
    assert "Лицевые счета" in page.text and "Касса" in page.text
    form = client.get("/cashier/account/0")
    assert form.status_code == 404
    client.get("/lang/en")
    assert "Accounts" in client.get("/").text


def test_gunicorn_serves_the_app(db, staff, web_state, tmp_path, monkeypatch):
    for name, value in ebs_env(db).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("EBS_STATE_DIR", str(web_state))
    monkeypatch.setenv("EBS_SECRET_KEY", "test-only-key")
    server = WebServer(tmp_path / "run", tmp_path / "log", free_port(), workers=1)
    server.start()
    try:
        with urllib.request.urlopen(f"{server.url}login/", timeout=10) as response:
            body = response.read().decode()
        assert response.status == 200
        assert 'name="csrf_token"' in body
        assert "Имя пользователя" in body or "Логин" in body or "Пароль" in body
    finally:
        server.stop()
    assert not server.running()


@pytest.mark.parametrize("language", ["en", "ru"])
def test_action_texts_fit_in_the_list_pages_script(russian_app, language):
    """FAB writes each action's confirmation into a quoted JavaScript string unescaped
    (lazy strings count as safe markup): one apostrophe breaks every action of the page."""
    from flask_babel import force_locale

    appbuilder = russian_app.appbuilder
    seen = []
    with russian_app.test_request_context(), force_locale(language):
        for view in appbuilder.baseviews:
            for action in getattr(view, "actions", {}).values():
                for text in (str(action.text), str(action.confirmation or "")):
                    seen.append(text)
                    assert not set(text) & set("'\"\\\n<>"), (type(view).__name__, text)
    assert any("Disconnect" in t or "Отключ" in t for t in seen)
