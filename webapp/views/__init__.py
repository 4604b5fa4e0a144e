"""Every admin and cashier view, registered in menu order by :func:`register_views`."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from webapp.pickers import PickerView
from webapp.views.account_actions import AccountActionsView
from webapp.views.account_card import AccountCardView
from webapp.views.account_history import (
    CoaRequestView,
    PromisedPaymentView,
    StatusHistoryView,
    SuspensionView,
)
from webapp.views.account_tabs import register_tabs
from webapp.views.account_traffic import AccountTrafficView
from webapp.views.accounts import AccountTariffView, AccountView, SubaccountView
from webapp.views.audit import AuditLogView
from webapp.views.cashier import CashierView
from webapp.views.cashier_cards import CashierCardView
from webapp.views.express_cards import CardDealerView, CardSaleView, ExpressCardSeriesView
from webapp.views.gateway_payments import (
    GatewayNotificationView,
    GatewayPaymentChangeView,
    GatewayPaymentStateView,
    GatewayPaymentView,
    GatewayReconciliationView,
)
from webapp.views.ledger import AccountLedgerView, LedgerView
from webapp.views.network import IpPoolOccupancyView, IpPoolView, NasView
from webapp.views.notifications import register_notifications
from webapp.views.operations import AuthLogView, IpLeaseView, OpenSessionView
from webapp.views.periods import SettlementPeriodView, TimePeriodNodeView, TimePeriodView
from webapp.views.reports import register_reports
from webapp.views.session_history import SessionHistoryView
from webapp.views.staff_networks import StaffNetworkView
from webapp.views.switches import RadiusReplyAttributeView, SubaccountSwitchPortView, SwitchView
from webapp.views.tariff_accounting import (
    TariffAccountingTrafficView,
    TariffTimePriceView,
    TariffTimeServiceView,
)
from webapp.views.tariff_limits import TariffTrafficLimitView
from webapp.views.tariff_rules import PromiseSettingsView, TariffChangeRuleView
from webapp.views.tariff_traffic import TariffTrafficPrepaidView, TariffTrafficPriceView
from webapp.views.tariffs import (
    OnetimeServiceView,
    PeriodicServiceView,
    TariffSpeedView,
    TariffView,
)
from webapp.views.traffic import TrafficClassNodeView, TrafficClassView, TrafficGroupView
from webapp.views.traffic_reconciliation import TrafficReconciliationView


def register_views(appbuilder) -> None:
    add = appbuilder.add_view
    subscribers, money = "Subscribers", "Money"
    tariffs, network = "Tariffs", "Network"
    add(CashierView, "Cashier desk", icon="fa-search", label=_l("Cashier desk"),
        category=subscribers, category_label=_l("Subscribers"), category_icon="fa-users")
    add(AccountView, "Accounts", icon="fa-user", label=_l("Accounts"), category=subscribers)
    add(SubaccountView, "Subaccounts", icon="fa-plug", label=_l("Subaccounts"),
        category=subscribers)
    add(AccountTariffView, "Tariff assignments", icon="fa-exchange",
        label=_l("Tariff assignments"), category=subscribers)
    add(SuspensionView, "Suspensions", icon="fa-pause", label=_l("Suspensions"),
        category=subscribers)
    add(PromisedPaymentView, "Promised payments", icon="fa-handshake-o",
        label=_l("Promised payments"), category=subscribers)
    add(StatusHistoryView, "Status history", icon="fa-history", label=_l("Status history"),
        category=subscribers)
    appbuilder.add_view_no_menu(AccountActionsView)
    appbuilder.add_view_no_menu(AccountCardView)
    appbuilder.add_view_no_menu(AccountTrafficView)
    appbuilder.add_view_no_menu(PickerView)
    add(LedgerView, "Ledger", icon="fa-book", label=_l("Ledger"), category=money,
        category_label=_l("Money"), category_icon="fa-rub")
    appbuilder.add_view_no_menu(AccountLedgerView)
    add(GatewayPaymentView, "Gateway payments", icon="fa-exchange",
        label=_l("Gateway payments"), category=money)
    add(GatewayNotificationView, "Payment notifications", icon="fa-envelope-o",
        label=_l("Payment notifications"), category=money)
    add(GatewayReconciliationView, "Gateway reconciliation", icon="fa-balance-scale",
        label=_l("Gateway reconciliation"), category=money)
    appbuilder.add_view_no_menu(GatewayPaymentChangeView)
    appbuilder.add_view_no_menu(GatewayPaymentStateView)
    add(ExpressCardSeriesView, "Express cards", icon="fa-credit-card",
        label=_l("Express cards"), category=money)
    add(CardDealerView, "Card dealers", icon="fa-briefcase", label=_l("Card dealers"),
        category=money)
    add(CardSaleView, "Card sales", icon="fa-file-text-o", label=_l("Card sales"),
        category=money)
    appbuilder.add_view_no_menu(CashierCardView)
    register_tabs(appbuilder)  # after the ledger: the card's tabs follow this order
    add(TariffView, "Tariffs", icon="fa-list", label=_l("Tariffs"), category=tariffs,
        category_label=_l("Tariffs"), category_icon="fa-tags")
    add(PeriodicServiceView, "Periodic services", icon="fa-repeat",
        label=_l("Periodic services"), category=tariffs)
    add(OnetimeServiceView, "One-time services", icon="fa-bolt",
        label=_l("One-time services"), category=tariffs)
    add(TariffSpeedView, "Speeds", icon="fa-tachometer", label=_l("Speeds"), category=tariffs)
    add(TariffTrafficPriceView, "Traffic prices", icon="fa-exchange",
        label=_l("Traffic prices"), category=tariffs)
    add(TariffTrafficPrepaidView, "Prepaid traffic", icon="fa-gift",
        label=_l("Prepaid traffic"), category=tariffs)
    add(TariffTrafficLimitView, "Traffic limits", icon="fa-hand-paper-o",
        label=_l("Traffic limits"), category=tariffs)
    add(TariffAccountingTrafficView, "Traffic from RADIUS counters", icon="fa-calculator",
        label=_l("Traffic from RADIUS counters"), category=tariffs)
    add(TariffTimePriceView, "Time prices", icon="fa-hourglass-half",
        label=_l("Time prices"), category=tariffs)
    add(TariffTimeServiceView, "Time service", icon="fa-clock-o", label=_l("Time service"),
        category=tariffs)
    add(TariffChangeRuleView, "Tariff-change rules", icon="fa-random",
        label=_l("Tariff-change rules"), category=tariffs)
    add(PromiseSettingsView, "Promised-payment settings", icon="fa-credit-card",
        label=_l("Promised-payment settings"), category=tariffs)
    add(SettlementPeriodView, "Settlement periods", icon="fa-calendar",
        label=_l("Settlement periods"), category=tariffs)
    add(TimePeriodView, "Time periods", icon="fa-clock-o", label=_l("Time periods"),
        category=tariffs)
    appbuilder.add_view_no_menu(TimePeriodNodeView)
    add(NasView, "NAS", icon="fa-server", label=_l("NAS"), category=network,
        category_label=_l("Network"), category_icon="fa-sitemap")
    add(IpPoolView, "IP pools", icon="fa-cubes", label=_l("IP pools"), category=network)
    add(IpPoolOccupancyView, "IP pool occupancy", icon="fa-pie-chart",
        label=_l("IP pool occupancy"), category=network)
    add(SwitchView, "Switches", icon="fa-random", label=_l("Switches"), category=network)
    add(SubaccountSwitchPortView, "Switch ports", icon="fa-plug", label=_l("Switch ports"),
        category=network)
    add(RadiusReplyAttributeView, "RADIUS reply attributes", icon="fa-reply",
        label=_l("RADIUS reply attributes"), category=network)
    add(TrafficClassView, "Traffic classes", icon="fa-filter", label=_l("Traffic classes"),
        category=network)
    appbuilder.add_view_no_menu(TrafficClassNodeView)
    add(TrafficGroupView, "Traffic groups", icon="fa-object-group",
        label=_l("Traffic groups"), category=network)
    register_notifications(appbuilder)
    operations = "Operations"
    add(OpenSessionView, "Online sessions", icon="fa-signal", label=_l("Online sessions"),
        category=operations, category_label=_l("Operations"), category_icon="fa-wrench")
    add(SessionHistoryView, "Past sessions", icon="fa-history", label=_l("Past sessions"),
        category=operations)
    add(AuthLogView, "Auth log", icon="fa-sign-in", label=_l("Auth log"), category=operations)
    add(IpLeaseView, "IP leases", icon="fa-map-marker", label=_l("IP leases"),
        category=operations)
    add(CoaRequestView, "CoA requests", icon="fa-bolt", label=_l("CoA requests"),
        category=operations)
    add(AuditLogView, "Audit log", icon="fa-history", label=_l("Audit log"),
        category="Security")
    add(StaffNetworkView, "Login networks", icon="fa-shield", label=_l("Login networks"),
        category="Security")
    register_reports(appbuilder)
    # After the traffic reports, in their menu.
    add(TrafficReconciliationView, "Traffic reconciliation", icon="fa-balance-scale",
        label=_l("Traffic reconciliation"), category="Reports")
