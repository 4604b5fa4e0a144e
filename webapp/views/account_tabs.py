"""The account card's tabs: the admin's own lists (ledger, sessions online and past, auth
log, IP leases, status history, audit), each narrowed to one account and paginated, as
FAB renders a model view's ``related_views``.

FAB narrows a related view by an ORM relation to the account; most of these rows have
none (the auth log knows a login, a lease its subaccount, an audit row an object id), so
each tab names its own ``account_filter``, one indexed condition:

* sessions online and past, status history: ``account_id`` (with the list's order on the
  same index: ``sessions_history_account_idx``, ``account_status_history_account_idx``);
* the auth log: the logins of the account's subaccounts, looked up once a request and
  given as values, so a single login walks ``auth_log_username_idx`` newest first and
  stops at the page's end (a subquery would read and sort every row of the login);
* leases: the account's subaccounts (``ip_leases_subaccount_idx``);
* audit: ``object_type = 'accounts'`` and the id (``staff_audit_log_object_idx``).

A tab shows only to staff who may read that list elsewhere. Above the tabs the card
shows what an operator looks at first (:data:`SUMMARY`: tariff in force, balance with
credit, status and what blocks the account) in one statement plus the tariff rule's; the
last tab, Traffic, is not a list but the account's usage and charts
(``webapp.views.account_traffic``, two statements).
"""

from __future__ import annotations

from flask import abort, g
from flask_appbuilder import expose, has_access
from flask_appbuilder.models.filters import BaseFilter
from sqlalchemy import false, select, text

from webapp.models.accounts import Subaccount
from webapp.report_db import report_session
from webapp.views.account_history import StatusHistoryView
from webapp.views.account_traffic import traffic_tab
from webapp.views.audit import AuditLogView
from webapp.views.operations import AuthLogView, IpLeaseView, OpenSessionView
from webapp.views.session_history import SessionHistoryView
from webapp.views.tariff_in_force import account_with_tariff

SUMMARY = text(
    """
    SELECT a.id, a.contract, a.login, a.full_name, a.status, a.balance, a.credit,
           a.blocked_by_balance, a.blocked_by_limit,
           p.amount AS promised_amount, p.expires_at AS promised_until,
           sp.planned_until AS suspended_until,
           (SELECT count(*) FROM sessions_open o WHERE o.account_id = a.id) AS online
      FROM accounts a
      LEFT JOIN promised_payments p ON p.account_id = a.id AND p.closed_at IS NULL
      LEFT JOIN account_suspensions sp ON sp.account_id = a.id AND sp.ended_at IS NULL
     WHERE a.id = :id
    """
)


class FilterOfAccount(BaseFilter):
    """``account_id = the card's account``."""

    def apply(self, query, value):
        return query.filter(self.model.account_id == int(value))


class FilterLoginsOfAccount(BaseFilter):
    """The auth log's rows of the account's logins (see the module)."""

    def apply(self, query, value):
        cache = g.setdefault("ebs_account_logins", {})
        account_id = int(value)
        if account_id not in cache:
            session = self.datamodel.session
            cache[account_id] = session.execute(
                select(Subaccount.username).where(Subaccount.account_id == account_id,
                                                  Subaccount.username.is_not(None))
            ).scalars().all()
        logins = cache[account_id]
        if not logins:
            return query.filter(false())
        return query.filter(self.model.username.in_(logins))


class FilterLeasesOfAccount(BaseFilter):
    def apply(self, query, value):
        ids = select(Subaccount.id).where(Subaccount.account_id == int(value))
        return query.filter(self.model.subaccount_id.in_(ids.scalar_subquery()))


class FilterAuditOfAccount(BaseFilter):
    def apply(self, query, value):
        return query.filter(self.model.object_type == "accounts",
                            self.model.object_id == str(int(value)))


class AccountOnlineTab(OpenSessionView):
    account_filter = FilterOfAccount
    list_title = OpenSessionView.list_title


class AccountSessionHistoryTab(SessionHistoryView):
    account_filter = FilterOfAccount
    search_columns = ["username", "stopped_at"]


class AccountAuthLogTab(AuthLogView):
    account_filter = FilterLoginsOfAccount


class AccountLeaseTab(IpLeaseView):
    account_filter = FilterLeasesOfAccount


class AccountStatusTab(StatusHistoryView):
    account_filter = FilterOfAccount
    list_columns = ["changed_at", "what", "old_value", "new_value", "actor", "staff_user",
                    "reason"]


class AccountAuditTab(AuditLogView):
    account_filter = FilterAuditOfAccount
    base_order = ("logged_at", "desc")  # staff_audit_log_object_idx, newest first
    list_columns = ["logged_at", "staff_user.username", "action", "changes"]


CARD_TABS = [AccountOnlineTab, AccountSessionHistoryTab,
             AccountAuthLogTab, AccountLeaseTab, AccountStatusTab, AccountAuditTab]


def register_tabs(appbuilder) -> None:
    """Each tab is a view of its own (its rows link to its own pages), out of the menu."""
    for tab in CARD_TABS:
        appbuilder.add_view_no_menu(tab)


class AccountCard:
    """The account's show page as the card: summary, actions, tabs (mixed into
    ``AccountView``; its ``related_views`` are the tabs)."""

    def _visible_tabs(self) -> list:
        sm = self.appbuilder.sm
        return [view for view in self._related_views
                if sm.has_access("can_list", view.class_permission_name)]

    def _get_related_view_widget(self, item, related_view, order_column="",
                                 order_direction="", page=None, page_size=None):
        account_filter = getattr(related_view, "account_filter", None)
        if account_filter is None:
            return super()._get_related_view_widget(
                item, related_view, order_column, order_direction, page=page,
                page_size=page_size)
        filters = related_view.datamodel.get_filters()
        filters.add_filter_related_view("account", account_filter, item.id)
        return related_view._get_view_widget(
            filters=filters, order_column=order_column, order_direction=order_direction,
            page=page, page_size=page_size)

    def _get_related_views_widgets(self, item, orders=None, pages=None, page_sizes=None,
                                   widgets=None, **args):
        """FAB's, over the tabs this operator may read only."""
        widgets = widgets or {}
        orders, pages, page_sizes = orders or {}, pages or {}, page_sizes or {}
        widgets["related_views"] = []
        for view in self._visible_tabs():
            name = view.__class__.__name__
            order_column, order_direction = orders.get(name) or ("", "")
            widgets["related_views"].append(self._get_related_view_widget(
                item, view, order_column, order_direction, page=pages.get(name),
                page_size=page_sizes.get(name)))
        return widgets

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        pk = self._deserialize_pk_if_composite(pk)
        widgets = self._show(pk)
        card = account_with_tariff(self.appbuilder.session, SUMMARY, int(pk))
        if card is None:
            abort(404)
        return self.render_template(self.show_template, pk=pk, title=self.show_title,
                                    widgets=widgets, related_views=self._visible_tabs(),
                                    card=card, traffic=self._traffic(int(pk)))

    def _traffic(self, account_id: int) -> dict | None:
        """The Traffic tab's figures, for staff who may read them (its CSV's grant)."""
        if not self.appbuilder.sm.has_access("can_traffic", "AccountTrafficView"):
            return None
        return traffic_tab(report_session(), account_id)
