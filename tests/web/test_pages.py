"""Every page of the admin renders for Admin: walks the URL map (GET routes without
arguments), so a new view is covered without editing this test."""

from tests.web.conftest import ADMIN, login

SKIP = {"/logout/", "/login/"}


def static_get_routes(app):
    """GET routes without arguments, ours and FAB's, except static files and the API."""
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.arguments or rule.rule in SKIP:
            continue
        if rule.rule.startswith(("/static", "/appbuilder", "/api/", "/swagger")):
            continue
        yield rule


def _absent_permission(app, rule) -> bool:
    """FAB registers /add on read-only views too and answers 403 there by design."""
    view = next((v for v in app.appbuilder.baseviews
                 if rule.endpoint.startswith(v.endpoint + ".")), None)
    method = rule.endpoint.rsplit(".", 1)[1]
    return view is not None and f"can_{method}" not in view.base_permissions


def test_every_page_renders_for_admin(app, client):
    login(client, *ADMIN)
    failures = {}
    for rule in static_get_routes(app):
        response = client.get(rule.rule, follow_redirects=True)
        if response.status_code == 403 and _absent_permission(app, rule):
            continue
        if response.status_code != 200:
            failures[rule.rule] = response.status_code
    assert failures == {}
