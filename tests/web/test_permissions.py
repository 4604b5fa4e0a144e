"""A Cashier and a ReadOnly user cannot reach Admin views: the test walks the URL map, so
a new route is covered without editing it."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from billing import ledger
from tests.web.conftest import CASHIER, READONLY, csrf_token, login

# What a non-Admin may open; everything else must be refused.
ALLOWED = {
    "Cashier": {"CashierView", "AccountView", "SubaccountView", "AccountTariffView",
                "LedgerView", "AccountLedgerView", "TariffView", "PeriodicServiceView",
                "OnetimeServiceView", "TariffSpeedView", "SettlementPeriodView",
                "TimePeriodView", "TimePeriodNodeView", "IpPoolView", "IpPoolOccupancyView",
                "OpenSessionView", "AuthLogView", "IpLeaseView", "SuspensionView",
                "PromisedPaymentView", "StatusHistoryView", "TariffChangeRuleView",
                "PromiseSettingsView", "SessionHistoryView", "PickerView", "AccountOnlineTab",
                "AccountSessionHistoryTab", "AccountAuthLogTab", "AccountLeaseTab",
                "AccountStatusTab", "TariffTrafficPriceView", "TariffTrafficPrepaidView",
                "AccountTrafficView", "TariffTrafficLimitView", "TariffAccountingTrafficView",
                "TariffTimePriceView", "TariffTimeServiceView", "GatewayPaymentView",
                "GatewayNotificationView", "GatewayPaymentChangeView",
                "GatewayReconciliationView"},
}
ALLOWED["ReadOnly"] = ALLOWED["Cashier"] | {"NasView", "AuditLogView", "ReportsView",
                                            "SwitchView", "SubaccountSwitchPortView",
                                            "RadiusReplyAttributeView", "CoaRequestView",
                                            "AccountAuditTab", "TrafficClassView",
                                            "TrafficClassNodeView", "TrafficGroupView",
                                            "TrafficReconciliationView",
                                            "ExpressCardSeriesView", "CardDealerView",
                                            "CardSaleView", "MessageTemplateView",
                                            "TemplatePreviewView", "MessageView",
                                            "MessageBatchView", "MailingView"}
READ_METHODS = {"list", "show", "search", "account", "receipt", "occupancy", "index", "report",
                "this_form_get", "userinfo", "download", "accounts", "subaccounts", "csv",
                "invoice", "preview", "batch"}
ALWAYS = {"ForcedResetMyPasswordView", "UtilView", "LocaleView", "DashboardView",
          "AuthDBView", "UserDBModelView.userinfo", "UserInfoEditView"}


def _url(app, rule, pk: int) -> str:
    values = {arg: pk for arg in rule.arguments}
    if "name" in rule.arguments:
        values["name"] = next(iter(_actions(app, rule.endpoint)), "none")
    if "locale" in rule.arguments:
        values["locale"] = "en"
    if "filename" in rule.arguments:
        values["filename"] = "x"
    return rule.build(values)[1]


def is_action(rule) -> bool:
    return rule.endpoint.rsplit(".", 1)[1] in ("action", "action_post")


def _actions(app, endpoint: str) -> dict:
    view = next(v for v in app.appbuilder.baseviews if endpoint.startswith(v.endpoint + "."))
    return getattr(view, "actions", {}) or {}


def _may(role: str, endpoint: str) -> bool:
    view, method = endpoint.split(".", 1)
    if view in ALWAYS or endpoint in ALWAYS:
        return True
    if role == "Cashier" and endpoint == "CashierCardView.activate":
        return True  # an express card at the desk
    return view in ALLOWED[role] and method in READ_METHODS | (
        {"pay", "tariff", "shift"} if role == "Cashier" and view == "CashierView" else set())


@pytest.mark.parametrize("role, credentials", [("Cashier", CASHIER), ("ReadOnly", READONLY)])
def test_non_admin_reaches_only_its_views(app, client, conn, role, credentials):
    account = conn.execute(
        "INSERT INTO accounts (contract, login) VALUES ('P-1', 'p1') RETURNING id").fetchone()[0]
    entry = ledger.post(conn, ledger.Entry(account, "payment", Decimal("10.00"), "t:1",
                                           datetime.now(UTC))).id
    login(client, *credentials)
    token = csrf_token(client.get("/resetmypassword/form").text)  # one token per session
    reached, leaks = [], []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.rule.startswith(("/appbuilder", "/static")):
            continue
        if rule.endpoint.startswith(("AuthDBView.", "LocaleView.", "UtilView.", "SecurityApi.")):
            continue  # login/logout/language/back: open to everyone by design
        if rule.endpoint.startswith("gateways."):
            continue  # providers' callbacks: no staff login; tests/web/test_gateway_*
        if rule.endpoint.startswith("cabinet."):
            continue  # subscribers' pages, their own session: tests/web/test_cabinet_*
        if rule.endpoint.startswith("metrics."):
            continue  # Prometheus: no login, by address only (tests/web/test_metrics.py)
        if is_action(rule) and not _actions(app, rule.endpoint):
            continue  # FAB fails on an unknown action for every role alike
        url = _url(app, rule, account)
        for method in sorted(rule.methods & {"GET", "POST"}):
            data = None
            if method == "POST":
                action = next(iter(_actions(app, rule.endpoint)), "")
                data = {"csrf_token": token, "action": action, "rowid": entry}
            status = client.open(url, method=method, data=data).status_code
            if _may(role, rule.endpoint):
                reached.append((method, rule.endpoint, status))
            elif is_action(rule) and status == 302:
                continue  # FAB refuses an action with a redirect; the ledger check below
            elif status not in (401, 403):
                leaks.append((method, rule.rule, status))
    assert leaks == [], "\n".join(map(str, leaks))
    assert ("GET", "CashierView.search", 200) in reached
    assert ("GET", "AccountView.list", 200) in reached
    # Nothing got through: the account survived, no reversal was posted, staff unchanged.
    assert conn.execute("SELECT count(*) FROM accounts").fetchone()[0] == 1
    assert conn.execute("SELECT count(*) FROM ledger_entries").fetchone()[0] == 1
    assert conn.execute("SELECT count(*) FROM ab_user").fetchone()[0] == 3
