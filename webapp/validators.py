"""Form validators: each failure is a message under its field, in the operator's language.

Rules that the database also enforces (CHECK constraints) are checked here first so the
operator sees which field is wrong instead of a database error.
"""

from __future__ import annotations

import ipaddress
import re

from flask import current_app, request
from flask_babel import lazy_gettext as _l
from wtforms.validators import ValidationError

from billing.ip_pools import PoolError, check_pool_range, check_range
from billing.money import MoneyError
from billing.speeds import Speed, SpeedError
from webapp import labels
from webapp.numbers import money_example, parse_amount


def _ip(value) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(str(value).strip())


class IpAddress:
    def __call__(self, form, field) -> None:
        if field.data in (None, ""):
            return
        try:
            _ip(field.data)
        except ValueError:
            raise ValidationError(_l("Not an IP address: %(v)s", v=field.data)) from None


_MAC = re.compile(r"^[0-9A-Fa-f]{2}([:-]?)[0-9A-Fa-f]{2}(\1[0-9A-Fa-f]{2}){4}$")


class MacAddress:
    def __call__(self, form, field) -> None:
        if field.data in (None, ""):
            return
        if not _MAC.match(str(field.data).strip()):
            raise ValidationError(_l("Not a MAC address: %(v)s", v=field.data))


_RANGE_REFUSALS = {
    "mixed_families": _l("Start and end must both be IPv4 or both IPv6."),
    "ends_before_start": _l("The range ends before it starts."),
}


class IpRangeEnd:
    """The range's end: an address of the start's family, not below the start
    (``billing.ip_pools.check_range``)."""

    def __init__(self, start_field: str = "range_start") -> None:
        self.start_field = start_field

    def __call__(self, form, field) -> None:
        try:
            check_range(str(form[self.start_field].data).strip(), str(field.data).strip())
        except PoolError as exc:
            message = _RANGE_REFUSALS.get(exc.code)
            if message is not None:  # not an address: IpAddress on each field says which
                raise ValidationError(message) from None


class PoolDoesNotOverlap:
    """No two pools share an address (the one being edited excepted): the rule is
    ``billing.ip_pools.check_pool_range``'s, shown under the field."""

    def __call__(self, form, field) -> None:
        try:
            start, end = _ip(form["range_start"].data), _ip(field.data)
        except ValueError:
            return
        editing = request.args.get("pk") or (request.view_args or {}).get("pk")
        session = current_app.appbuilder.session
        try:
            check_pool_range(session.connection().connection.driver_connection,
                             str(start), str(end), pool_id=int(editing) if editing else None)
        except PoolError as exc:
            if exc.code != "pool_overlap":
                return  # IpRangeEnd words the others under the field
            other = exc.overlaps
            raise ValidationError(_l("Overlaps pool %(name)s (%(s)s – %(e)s).",
                                     name=other.name, s=other.range_start,
                                     e=other.range_end)) from None


class SpeedSyntax:
    """A MikroTik rate-limit text, parsed by ``billing.speeds`` like the RADIUS reply."""

    def __call__(self, form, field) -> None:
        try:
            Speed.parse(str(field.data or "").strip())
        except SpeedError as exc:  # worded from its code, in the operator's language
            raise ValidationError(_l("Not a valid speed: %(why)s",
                                     why=labels.speed_error(exc))) from None


MONEY_REFUSALS = {
    "not_an_amount": _l("Not an amount: %(v)s. Write it as %(example)s."),
    "ambiguous": _l("%(v)s can be read as thousands or as a fraction. Write it as "
                    "%(example)s."),
    "too_many_decimals": _l("At most two decimals (kopecks)."),
    "out_of_range": _l("The amount is too large."),
}


def money_message(exc: MoneyError, raw: object):
    """The operator's words for a refused amount, with the way to write one in the
    operator's language (the rules are ``webapp.numbers.parse_amount`` and
    ``billing.money.to_money``)."""
    shown = str(raw)
    return MONEY_REFUSALS.get(exc.code, MONEY_REFUSALS["not_an_amount"]) % {
        "v": shown if len(shown) <= 40 else shown[:37] + "...", "example": money_example()}


class Money:
    """Any amount ``billing.money.to_money`` takes: finite, within NUMERIC(14,2), at most
    two decimals, typed as the operator's language writes it (``webapp.numbers``). It reads
    what was typed, so NaN or 1E+30 never reach a comparison."""

    def __call__(self, form, field) -> None:
        if field.process_errors:  # not a number at all: the field has said so
            return
        raw = field.raw_data[0] if field.raw_data else field.data
        if raw in (None, "") or (isinstance(raw, str) and not raw.strip()):
            return
        try:
            field.data = parse_amount(raw)
        except MoneyError as exc:
            field.data = None  # later validators and the form's re-display see no value
            raise ValidationError(money_message(exc, raw)) from None


class NonNegativeMoney(Money):
    def __call__(self, form, field) -> None:
        super().__call__(form, field)
        if field.data is not None and field.data < 0:
            raise ValidationError(_l("The amount cannot be negative."))


class PositiveMoney(Money):
    """A sum that moves money (a payment, a promise, a transfer): above zero."""

    def __call__(self, form, field) -> None:
        super().__call__(form, field)
        if field.data is not None and field.data <= 0:
            raise ValidationError(_l("The amount must be above zero."))
