"""The API's permissions are the UI's roles, enforced by FAB's synced permissions: the test
walks every API route with each role's token (a new route is covered without editing it),
and the OpenAPI spec validates."""

from __future__ import annotations

from openapi_spec_validator import validate

from tests.web.api_tools import api_as
from tests.web.conftest import ADMIN, login

# (endpoint) each role may reach; everything else under /api/v1 must answer 403.
READS = {f"{view}.{method}" for view in ("AccountApi", "TariffApi", "LedgerEntryApi")
         for method in ("get", "get_list", "info")} | {
    "SessionApi.get_list", "SessionApi.info", "MeApi.me", "MeApi.change_password"}
ALLOWED = {
    "ReadOnly": READS,
    "Cashier": READS | {"AccountActionApi.post_payment", "AccountActionApi.change_tariff",
                        "ExpressCardApi.activate_card"},
}
OPEN = ("SecurityApi.",)  # login and refresh: for everyone by design


def _routes(app):
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/") and not rule.endpoint.startswith(OPEN):
            yield rule


def _url(rule, account: int) -> str:
    values = {"pk": account, "session_id": "sess-1", "version": "v1"}
    return rule.build({arg: values[arg] for arg in rule.arguments})[1]


def _walk(app, api, account: int) -> dict[tuple[str, str], int]:
    seen = {}
    for rule in _routes(app):
        for method in sorted(rule.methods & {"GET", "POST", "PUT", "DELETE"}):
            seen[(method, rule.endpoint)] = api.open(_url(rule, account), method, {}).status_code
    return seen


def _state(conn) -> tuple:
    return conn.execute(
        "SELECT (SELECT count(*) FROM ledger_entries), (SELECT count(*) FROM tariff_changes),"
        " (SELECT string_agg(status, ',') FROM accounts), (SELECT count(*) FROM tariffs),"
        " (SELECT count(*) FROM staff_audit_log)").fetchone()


def test_each_role_reaches_exactly_its_endpoints(app, client, conn, staff):
    account = conn.execute("INSERT INTO accounts (contract, login) VALUES ('P-1', 'p1')"
                           " RETURNING id").fetchone()[0]
    before = _state(conn)
    for role, allowed in ALLOWED.items():
        seen = _walk(app, api_as(client, role), account)
        refused = {endpoint for (_, endpoint), status in seen.items() if status == 403}
        reached = {endpoint for (_, endpoint), status in seen.items() if status != 403}
        assert reached == allowed, role
        assert all(status != 401 for status in seen.values()), seen
        assert refused, role
    # Nothing a refused call could have changed did change ({} bodies are invalid anyway).
    assert _state(conn) == before

    admin = _walk(app, api_as(client, "Admin"), account)
    assert [key for key, status in admin.items() if status in (401, 403)] == []


def test_the_openapi_spec_validates_and_describes_money_as_strings(client, staff):
    admin = api_as(client, "Admin")
    response = admin.get("/api/v1/_openapi")
    assert response.status_code == 200
    spec = response.json
    validate(spec)  # raises on any violation of OpenAPI 3
    paths = spec["paths"]
    for path in ("/api/v1/account/", "/api/v1/account/{pk}/payment",
                 "/api/v1/account/{pk}/tariff", "/api/v1/account/{pk}/suspend",
                 "/api/v1/account/{pk}/resume", "/api/v1/session/{session_id}/kick",
                 "/api/v1/tariff/", "/api/v1/ledger/", "/api/v1/session/",
                 "/api/v1/me/password", "/api/v1/security/login"):
        assert path in paths, path
    schemas = spec["components"]["schemas"]
    assert schemas["PaymentRequestSchema"]["properties"]["amount"]["type"] == "string"
    assert schemas["LedgerEntryApi.get_list"]["properties"]["amount"]["type"] == "string"
    assert schemas["AccountApi.get"]["properties"]["balance"]["type"] == "string"
    assert api_as(client, "Cashier").get("/api/v1/_openapi").status_code == 403


def test_admin_opens_the_swagger_ui(client, staff):
    login(client, *ADMIN)
    page = client.get("/swagger/v1")
    assert page.status_code == 200 and "/api/v1/_openapi" in page.text
