"""Traffic classes (the remote networks, protocols and ports a flow is matched against, by
weight) and groups (the classes a tariff prices and limits together). The collector's maps
are rendered from these tables (flow/)."""

from __future__ import annotations

from flask_appbuilder.fieldwidgets import BS3TextFieldWidget, Select2Widget
from flask_babel import lazy_gettext as _l
from wtforms import IntegerField, SelectField
from wtforms.validators import DataRequired, NumberRange, Optional, ValidationError

from webapp import labels
from webapp.models.traffic import TrafficClass, TrafficClassNode, TrafficGroup
from webapp.network_filters import FilterNetworkAdmits, FilterNetworkPrefix, NetworkValue
from webapp.views.base import AdminOnlyModelView, BoundedInterface, choice_field, text_field
from webapp.views.collector_change import CollectorChange

# The protocols a node names most (IANA numbers); empty: any protocol.
PROTOCOLS = {6: "TCP", 17: "UDP", 1: "ICMP", 47: "GRE", 58: "ICMPv6"}
WITH_PORTS = (6, 17)


def _protocol_or_none(value):
    return int(value) if value not in (None, "", "None") else None


def protocol_label(number) -> str:
    if number is None:
        return str(_l("Any"))
    return PROTOCOLS.get(number, str(number))


class _PortOnlyWithTcpUdp:
    """The table's CHECK, said under the field: a port means TCP or UDP."""

    def __call__(self, form, field) -> None:
        if field.data is not None and form["protocol"].data not in WITH_PORTS:
            raise ValidationError(_l("A port is given only with TCP or UDP."))


class TrafficClassNodeView(CollectorChange, AdminOnlyModelView):
    datamodel = BoundedInterface(
        TrafficClassNode, {"network": [FilterNetworkAdmits, FilterNetworkPrefix]},
        eager=("traffic_class",))
    list_title = _l("Traffic class nodes")
    list_columns = ["traffic_class", "network", "protocol", "port"]
    add_columns = edit_columns = ["traffic_class", "network", "protocol", "port"]
    search_columns = ["traffic_class", "network", "protocol", "port"]
    search_form_extra_fields = {"network": text_field(_l("Network"))}
    add_form_extra_fields = edit_form_extra_fields = {
        "network": text_field(_l("Network"), DataRequired(), NetworkValue(), description=_l(
            "The remote side: 0.0.0.0/0 for everything, 10.0.0.0/8, 198.51.100.7.")),
        "protocol": SelectField(
            _l("Protocol"), coerce=_protocol_or_none, widget=Select2Widget(),
            choices=[("", _l("Any")), *((str(n), name) for n, name in PROTOCOLS.items())]),
        "port": IntegerField(_l("Port"), widget=BS3TextFieldWidget(),
                             validators=[Optional(), NumberRange(0, 65535),
                                         _PortOnlyWithTcpUdp()],
                             description=_l("The remote port; empty: any.")),
    }
    validators_columns = {"traffic_class": [DataRequired()]}
    formatters_columns = {"protocol": protocol_label}
    label_columns = {"traffic_class": _l("Traffic class"), "network": _l("Network"),
                     "protocol": _l("Protocol"), "port": _l("Port")}


class TrafficClassView(CollectorChange, AdminOnlyModelView):
    datamodel = BoundedInterface(TrafficClass)
    list_title = _l("Traffic classes")
    list_columns = ["name", "weight", "passthrough", "store", "store_days"]
    add_columns = edit_columns = ["name", "weight", "passthrough", "store", "store_days"]
    show_exclude_columns = ["nodes"]
    base_order = ("weight", "asc")
    related_views = [TrafficClassNodeView]
    validators_columns = {"name": [DataRequired()],
                          "weight": [Optional(), NumberRange(min=0)],
                          "store_days": [Optional(), NumberRange(min=1)]}
    description_columns = {
        "weight": _l("A flow counts in the first class it matches, the lightest first."),
        "passthrough": _l("A matching flow counts here and matching goes on to the next "
                          "class."),
        "store": _l("Keep every flow of this class, not only the sums (data-retention "
                    "law)."),
        "store_days": _l("How long the stored flows are kept; empty: the "
                         "FLOW_STORE_RETENTION_DAYS setting."),
    }
    label_columns = {"name": _l("Name"), "weight": _l("Weight"),
                     "passthrough": _l("Passthrough"), "store": _l("Store flows"),
                     "store_days": _l("Keep stored flows, days"), "nodes": _l("Nodes"),
                     "created_at": _l("Created")}


class TrafficGroupView(CollectorChange, AdminOnlyModelView):
    datamodel = BoundedInterface(TrafficGroup)
    list_title = _l("Traffic groups")
    list_columns = ["name", "direction", "rule", "classes"]
    add_columns = edit_columns = ["name", "direction", "rule", "classes"]
    add_form_extra_fields = edit_form_extra_fields = {
        "direction": choice_field(_l("Direction"), labels.choices(labels.TRAFFIC_DIRECTIONS),
                                  default="both"),
        "rule": choice_field(_l("Rule"), labels.choices(labels.GROUP_RULES)),
    }
    validators_columns = {"name": [DataRequired()]}
    description_columns = {
        "rule": _l("What the group counts in a minute: its classes' bytes added up, or only "
                   "the largest class's."),
    }
    formatters_columns = {
        "direction": labels.formatter(labels.TRAFFIC_DIRECTIONS),
        "rule": labels.formatter(labels.GROUP_RULES),
        "classes": lambda classes: ", ".join(str(c) for c in classes) or labels.EMPTY,
    }
    label_columns = {"name": _l("Name"), "direction": _l("Direction"), "rule": _l("Rule"),
                     "classes": _l("Classes")}
