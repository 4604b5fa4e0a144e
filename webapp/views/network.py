"""IP pools (with their occupancy) and NAS (with vendor presets)."""

from __future__ import annotations

from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
from flask_appbuilder.security.decorators import permission_name
from flask_babel import lazy_gettext as _l
from sqlalchemy import inspect, text
from wtforms import IntegerField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from billing import nas_secrets
from billing.speeds import VENDORS
from webapp import labels, tasks_client
from webapp.models.network import IpPool, Nas
from webapp.validators import IpAddress, IpRangeEnd, PoolDoesNotOverlap
from webapp.views.base import (
    AdminOnlyModelView,
    BoundedInterface,
    EbsModelView,
    choice_field,
    exact,
    text_field,
)
from webapp.views.collector_change import CollectorChange

POOL_KINDS = labels.choices(labels.POOL_KINDS)

# What each vendor's NAS usually listens on for CoA/Disconnect, and a sensible interim
# interval; a field left empty on the form takes the preset.
VENDOR_PRESETS = {
    "mikrotik": {"coa_port": 3799, "acct_interim_interval": 300},
    "cisco": {"coa_port": 1700, "acct_interim_interval": 300},
    "juniper": {"coa_port": 3799, "acct_interim_interval": 600},
    "accel-ppp": {"coa_port": 3799, "acct_interim_interval": 300},
    "other": {"coa_port": 3799, "acct_interim_interval": 300},
}
VENDOR_LABELS = labels.NAS_VENDORS


class IpPoolView(CollectorChange, EbsModelView):
    datamodel = BoundedInterface(IpPool, exact("range_start", "range_end"))
    list_title = _l("IP pools")
    list_columns = ["name", "kind", "range_start", "range_end", "next_pool_id"]
    search_columns = ["name", "range_start"]
    search_form_extra_fields = {"range_start": text_field(_l("First address"))}
    add_columns = edit_columns = ["name", "kind", "range_start", "range_end"]
    add_form_extra_fields = edit_form_extra_fields = {
        "kind": choice_field(_l("Kind"), POOL_KINDS),
        "range_start": text_field(_l("First address"), DataRequired(), IpAddress()),
        "range_end": text_field(_l("Last address"), DataRequired(), IpAddress(), IpRangeEnd(),
                                PoolDoesNotOverlap()),
    }
    validators_columns = {"name": [DataRequired()]}
    formatters_columns = {"kind": labels.formatter(labels.POOL_KINDS)}
    label_columns = {
        "name": _l("Name"), "kind": _l("Kind"), "range_start": _l("First address"),
        "range_end": _l("Last address"), "next_pool_id": _l("Overflow pool"),
    }


# One pass: each pool's size and the addresses in it held by a subaccount's static IP or
# an open session (a static address online counts once). Pools are few; subaccounts and
# sessions are found through their indexes by range.
_OCCUPANCY = text(
    """
    SELECT p.id, p.name, p.kind, host(p.range_start) AS range_start,
           host(p.range_end) AS range_end,
           (p.range_end - p.range_start) + 1 AS size,
           (SELECT count(*) FROM subaccounts s
             WHERE s.ip_address BETWEEN p.range_start AND p.range_end) AS static,
           (SELECT count(DISTINCT o.framed_ip) FROM sessions_open o
             WHERE o.framed_ip BETWEEN p.range_start AND p.range_end
               AND NOT EXISTS (SELECT 1 FROM subaccounts s
                                WHERE s.ip_address = o.framed_ip)) AS online
      FROM ip_pools p
     ORDER BY p.name
    """
)


class IpPoolOccupancyView(BaseView):
    route_base = "/ip-pools/occupancy"
    default_view = "occupancy"
    role_grants = {"Cashier": ("can_occupancy",), "ReadOnly": ("can_occupancy",)}

    @expose("/")
    @has_access
    @permission_name("occupancy")
    def occupancy(self):
        rows = self.appbuilder.session.execute(_OCCUPANCY).mappings().all()
        return self.render_template("network/occupancy.html", rows=rows)


class NasView(CollectorChange, AdminOnlyModelView):
    datamodel = BoundedInterface(Nas, exact("ip_address"))
    list_title = _l("NAS")
    list_columns = ["name", "vendor", "ip_address", "coa_port", "acct_interim_interval"]
    search_columns = ["name", "ip_address"]
    search_form_extra_fields = {"ip_address": text_field(_l("IP address"))}
    show_exclude_columns = ["secret"]
    add_columns = edit_columns = ["name", "vendor", "ip_address", "secret", "dhcp_ipoe",
                                  "reject_reply_message", "coa_port", "acct_interim_interval",
                                  "description"]
    add_fieldsets = edit_fieldsets = [
        (_l("General parameters"), {"fields": ["name", "vendor", "ip_address", "description"]}),
        (_l("RADIUS"), {"fields": ["secret", "dhcp_ipoe", "reject_reply_message",
                                   "acct_interim_interval"]}),
        (_l("Disconnect and CoA"), {"fields": ["coa_port"]}),
    ]
    add_form_extra_fields = edit_form_extra_fields = {
        "vendor": choice_field(_l("Vendor"), [(v, VENDOR_LABELS[v]) for v in VENDORS]),
        "ip_address": text_field(_l("IP address"), DataRequired(), IpAddress()),
        # No default shown: an empty field takes the vendor's preset.
        "coa_port": IntegerField(_l("CoA port"), validators=[Optional(), NumberRange(1, 65535)],
                                 widget=BS3TextFieldWidget()),
        "acct_interim_interval": IntegerField(
            _l("Interim interval"), validators=[Optional(), NumberRange(min=60)],
            widget=BS3TextFieldWidget()),
    }
    validators_columns = {
        "name": [DataRequired()],
        # Empty: one is generated (billing.nas_secrets), as the table's check asks.
        "secret": [Optional(), Length(min=nas_secrets.MIN_LENGTH,
                                      message=_l("At least 16 characters; leave it empty to "
                                                 "have one generated."))],
    }
    description_columns = {
        "coa_port": _l("Empty: the vendor's usual port (MikroTik 3799, Cisco 1700)."),
        "acct_interim_interval": _l("Seconds; empty: the vendor preset."),
        "secret": _l("At least 16 characters; empty: a 43-character one is generated."),
        "dhcp_ipoe": _l("The NAS serves DHCP/IPoE: its requests may find a subscriber "
                        "without a password, by option 82, MAC or address."),
        "reject_reply_message": _l("The NAS shows the subscriber the Reply-Message of a "
                                   "refused login (a hotspot page, a dialer): a short reason "
                                   "is sent in the ISP's language. Off: nothing is sent."),
    }
    formatters_columns = {"vendor": labels.formatter(labels.NAS_VENDORS)}
    label_columns = {
        "coa_attempts": _l("CoA attempts"), "coa_timeout_ms": _l("CoA timeout, ms"),
        "created_at": _l("Created"), "updated_at": _l("Updated"),
        "name": _l("Name"), "vendor": _l("Vendor"), "ip_address": _l("IP address"),
        "secret": _l("RADIUS secret"), "coa_port": _l("CoA port"),
        "dhcp_ipoe": _l("DHCP / IPoE"), "reject_reply_message": _l("Reply-Message on reject"),
        "acct_interim_interval": _l("Interim interval"), "description": _l("Description"),
    }

    def _apply_preset(self, item: Nas) -> None:
        preset = VENDOR_PRESETS.get(item.vendor, VENDOR_PRESETS["other"])
        for column, value in preset.items():
            if getattr(item, column) in (None, ""):
                setattr(item, column, value)
        item.secret = nas_secrets.given_or_generated(item.secret)

    def pre_add(self, item: Nas) -> None:
        self._apply_preset(item)  # before the column defaults, which are MikroTik's
        super().pre_add(item)

    def pre_update(self, item: Nas) -> None:
        self._apply_preset(item)
        super().pre_update(item)

    def _nas_changed(self, item: Nas) -> None:
        """FreeRADIUS learns its clients from the worker; FAB calls the post_* hooks after
        the commit. The key comes from the identity map: reading ``item.id`` would reload
        the expired row (and, after a delete, find none)."""
        tasks_client.send_after_commit(self.datamodel.session, tasks_client.NAS_CHANGED,
                                       inspect(item).identity[0])

    def post_add(self, item: Nas) -> None:
        super().post_add(item)
        self._nas_changed(item)

    def post_update(self, item: Nas) -> None:
        super().post_update(item)
        self._nas_changed(item)

    def post_delete(self, item: Nas) -> None:
        super().post_delete(item)
        self._nas_changed(item)
