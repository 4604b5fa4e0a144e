"""Access switches and the subaccounts bound to their ports (DHCP option 82: RADIUS
authorize finds an IPoE subscriber by them), and the custom RADIUS reply attributes added
to a tariff's or a NAS's answers."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms.validators import DataRequired, Length, NumberRange, Regexp

from webapp import labels
from webapp.models.network import SubaccountSwitchPort, Switch
from webapp.models.radius import RadiusReplyAttribute
from webapp.pickers import subaccount_picker
from webapp.views.base import AdminOnlyModelView, BoundedInterface, choice_field, exact

ATTRIBUTE_NAME = r"^[A-Za-z][A-Za-z0-9-]{0,62}$"  # the CHECK of the table
REPLY_OPS = [("+=", "+="), ("=", "="), (":=", ":=")]
APPLIES_WHEN = labels.choices(labels.REPLY_WHEN)


class SwitchView(AdminOnlyModelView):
    datamodel = BoundedInterface(Switch, exact("remote_id"))
    list_title = _l("Switches")
    list_columns = ["name", "remote_id", "description"]
    search_columns = ["name", "remote_id"]
    add_columns = edit_columns = ["name", "remote_id", "description"]
    validators_columns = {"name": [DataRequired()], "remote_id": [DataRequired()]}
    description_columns = {
        "remote_id": _l("As the relay sends it: the switch MAC as aa:bb:cc:dd:ee:ff, or its "
                        "text id."),
    }
    label_columns = {"created_at": _l("Created"), "name": _l("Name"), "remote_id": _l("Remote ID"),
                     "description": _l("Description")}


class SubaccountSwitchPortView(AdminOnlyModelView):
    datamodel = BoundedInterface(SubaccountSwitchPort, eager=("subaccount", "switch"))
    list_title = _l("Switch ports")
    list_columns = ["switch", "port", "subaccount"]
    add_columns = edit_columns = ["subaccount", "switch", "port"]
    # Searched as the operator types: a select of every subaccount cannot load at 500k.
    add_form_extra_fields = edit_form_extra_fields = {
        "subaccount": subaccount_picker(_l("Subaccount"), DataRequired()),
    }
    validators_columns = {
        "subaccount": [DataRequired()], "switch": [DataRequired()],
        "port": [NumberRange(min=0, max=65535)],
    }
    label_columns = {"switch": _l("Switch"), "port": _l("Port"),
                     "subaccount": _l("Subaccount")}


class RadiusReplyAttributeView(AdminOnlyModelView):
    datamodel = BoundedInterface(RadiusReplyAttribute, eager=("tariff", "nas"))
    list_title = _l("RADIUS reply attributes")
    list_columns = ["tariff", "nas", "attribute", "op", "value", "applies_when"]
    add_columns = edit_columns = ["tariff", "nas", "attribute", "op", "value",
                                  "applies_when", "description"]
    add_form_extra_fields = edit_form_extra_fields = {
        "op": choice_field(_l("Operator"), REPLY_OPS),
        "applies_when": choice_field(_l("Applies"), APPLIES_WHEN),
    }
    validators_columns = {
        "attribute": [DataRequired(), Regexp(ATTRIBUTE_NAME, message=_l(
            "An attribute name of the dictionary, e.g. Mikrotik-Address-List."))],
        "value": [DataRequired(), Length(max=253)],
    }
    description_columns = {
        "tariff": _l("Empty: every tariff."), "nas": _l("Empty: every NAS."),
    }
    formatters_columns = {"applies_when": labels.formatter(labels.REPLY_WHEN)}
    label_columns = {
        "tariff": _l("Tariff"), "nas": _l("NAS"), "attribute": _l("Attribute"),
        "op": _l("Operator"), "value": _l("Value"), "applies_when": _l("Applies"),
        "description": _l("Description"),
    }
