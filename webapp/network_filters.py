"""Searching and typing a ``cidr`` column (staff login networks, traffic class nodes): the
rows whose network holds an address, the rows whose network's text starts with what was
typed, and a typed network checked before the database sees it. Such tables hold a few
rows each, so neither search needs an index."""

from __future__ import annotations

import ipaddress

from flask_appbuilder.models.filters import BaseFilter
from flask_babel import lazy_gettext as _l
from sqlalchemy import Text, cast, false
from sqlalchemy.dialects.postgresql import INET
from wtforms.validators import ValidationError

from webapp.views.base import like_prefix


class FilterNetworkAdmits(BaseFilter):
    """The networks that hold an address; one that is not an address matches nothing
    (rather than an SQL error)."""

    name = _l("Contains address")
    arg_name = "admits"

    def apply(self, query, value):
        try:
            address = str(ipaddress.ip_address(str(value or "").strip()))
        except ValueError:
            return query.filter(false())
        column = getattr(self.model, self.column_name)
        return query.filter(column.op(">>=")(cast(address, INET)))


class FilterNetworkPrefix(BaseFilter):
    """The networks whose text (``10.20.0.0/16``) starts with the value."""

    name = _l("Starts with")
    arg_name = "nsw"

    def apply(self, query, value):
        column = getattr(self.model, self.column_name)
        return query.filter(cast(column, Text).like(like_prefix(value), escape="\\"))


class NetworkValue:
    """A network in CIDR notation with no host bits set (what a ``cidr`` column holds)."""

    def __call__(self, form, field) -> None:
        try:
            ipaddress.ip_network(str(field.data or "").strip())
        except ValueError:
            raise ValidationError(_l("Not a network in CIDR notation (like 10.0.0.0/8): "
                                     "%(v)s", v=field.data)) from None
