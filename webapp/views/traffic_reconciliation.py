"""Traffic reconciliation: what ``ebs.reconcile_traffic`` (flow/reconcile.py) found when it
compared RADIUS accounting with the collector's flows: sessions whose figures differ and
exporters (NAS) per hour, silent ones among them. Read-only, next to the traffic reports
and granted as they are (ReadOnly: yes; Cashier: no).

What an operator acts on comes first: mismatches and silent exporters, newest first, then
the rest (the order of ``traffic_reconciliation_attention_idx``, so a page is one index
walk whatever the table holds). Filters name the state, the kind, the NAS and the period
(its start, typed on the ISP's clock as the page shows it).
"""

from __future__ import annotations

from flask import url_for
from flask_appbuilder.models.sqla.filters import FilterEqual, FilterGreater, FilterSmaller
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape
from sqlalchemy import desc

from webapp import labels, localtime
from webapp.models.traffic_reconciliation import TrafficReconciliation
from webapp.numbers import format_number, megabytes
from webapp.views.base import BoundedInterface, choice_field
from webapp.views.operations import ReadOnlyView

GRANT = ("can_list",)


class FilterLocalAfter(FilterGreater):
    """After a moment typed on the ISP's clock (``05.12.2026 18:20``, ``2026-12-05``), as
    the page shows its moments; FAB's own reads a typed time in the database's zone."""

    def apply(self, query, value):
        moment = localtime.parse_local(value, localtime.zone())
        if moment is None:
            return query
        return query.filter(getattr(self.model, self.column_name) > moment)


class FilterLocalBefore(FilterSmaller):
    """Before a moment typed on the ISP's clock (see :class:`FilterLocalAfter`)."""

    def apply(self, query, value):
        moment = localtime.parse_local(value, localtime.zone())
        if moment is None:
            return query
        return query.filter(getattr(self.model, self.column_name) < moment)


class AttentionFirst(BoundedInterface):
    """The list in the index's order when no column was chosen (or ``attention`` was):
    mismatches and silent exporters first, each part newest first."""

    def apply_order_by(self, query, order_column, order_direction, aliases_mapping=None,
                       bypass_many_to_many=False, add_pk=False):
        if order_column != "attention":
            return super().apply_order_by(query, order_column, order_direction,
                                          aliases_mapping, bypass_many_to_many, add_pk)
        model = self.obj
        return query.order_by(desc(model.attention), desc(model.period_start), desc(model.id))


def account_link(account) -> Markup | str:
    """The account, linked to its card."""
    if account is None:
        return labels.EMPTY
    href = url_for("AccountView.show", pk=account.id)
    return Markup('<a href="{}">{}</a>').format(href, escape(str(account)))


def bytes_as_megabytes(value) -> str:
    return format_number(megabytes(value))


def percent(value) -> str:
    return labels.EMPTY if value is None else format_number(value)


class TrafficReconciliationView(ReadOnlyView):
    datamodel = AttentionFirst(
        TrafficReconciliation,
        {"state": [FilterEqual], "kind": [FilterEqual],
         "period_start": [FilterLocalAfter, FilterLocalBefore]},
        eager=("account", "nas"))
    list_title = _l("Traffic reconciliation")
    base_permissions = ["can_list"]
    list_columns = ["state", "kind", "account", "nas", "period_start", "period_end",
                    "accounting_bytes", "flow_bytes", "difference", "difference_percent",
                    "checked_at"]
    search_columns = ["state", "kind", "nas", "period_start"]
    search_form_extra_fields = {
        "state": choice_field(_l("State"), labels.choices(labels.RECONCILE_STATES)),
        "kind": choice_field(_l("Kind"), labels.choices(labels.RECONCILE_KINDS)),
    }
    order_columns = ["attention", "period_start", "checked_at", "difference"]
    base_order = ("attention", "desc")
    formatters_columns = {
        "state": labels.formatter(labels.RECONCILE_STATES),
        "kind": labels.formatter(labels.RECONCILE_KINDS),
        "account": account_link,
        "accounting_bytes": bytes_as_megabytes,
        "flow_bytes": bytes_as_megabytes,
        "difference": bytes_as_megabytes,
        "difference_percent": percent,
    }
    label_columns = {
        "state": _l("State"), "kind": _l("Kind"), "account": _l("Account"),
        "nas": _l("NAS"), "period_start": _l("Period start"),
        "period_end": _l("Period end"), "accounting_bytes": _l("Accounting, MB"),
        "flow_bytes": _l("Flows, MB"), "difference": _l("Difference, MB"),
        "difference_percent": _l("Difference, %"), "checked_at": _l("Checked at"),
        "attention": _l("Needs attention"), "acct_unique_id": _l("Session"),
    }
    description_columns = {
        "difference": _l("Accounting minus flows."),
        "difference_percent": _l("Of the larger figure."),
    }
    role_grants = {"ReadOnly": GRANT}
