"""The source networks staff may log in from, per staff member or per role (Admin only).

The list is searched by network in two ways an operator asks: which rows admit a login
from this address (``network >>= address``), and which networks start with what was typed
(their text, like ``10.20.0.0/16``). The table holds a few rows per role and staff member,
so neither needs an index.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms.validators import DataRequired, ValidationError

from webapp.models.security import StaffNetwork
from webapp.network_filters import FilterNetworkAdmits, FilterNetworkPrefix, NetworkValue
from webapp.views.base import AdminOnlyModelView, BoundedInterface, text_field


class OneOwner:
    """A row names a staff member or a role, not both and not neither."""

    def __call__(self, form, field) -> None:
        if (form["user"].data is None) == (form["role"].data is None):
            raise ValidationError(_l("Choose a staff member or a role (one of them)."))


class StaffNetworkView(AdminOnlyModelView):
    datamodel = BoundedInterface(
        StaffNetwork, {"network": [FilterNetworkAdmits, FilterNetworkPrefix]},
        eager=("user", "role"))
    list_title = _l("Login networks")
    role_grants: dict[str, tuple[str, ...]] = {}  # security settings: Admin alone
    list_columns = ["user", "role", "network", "comment"]
    add_columns = edit_columns = ["user", "role", "network", "comment"]
    search_columns = ["user", "role", "network"]
    search_form_extra_fields = {"network": text_field(_l("Network"))}
    add_form_extra_fields = edit_form_extra_fields = {
        # The owner check sits on the one field always validated (an empty relation
        # field stops at its Optional validator).
        "network": text_field(_l("Network"), DataRequired(), NetworkValue(), OneOwner(),
                              description=_l("CIDR, like 192.168.10.0/24")),
    }
    description_columns = {
        "user": _l("A staff member's own networks replace those of their roles."),
        "role": _l("Staff with no networks of their own log in from these."),
    }
    label_columns = {"user": _l("Staff member"), "role": _l("Role"),
                     "network": _l("Network"), "comment": _l("Comment")}
