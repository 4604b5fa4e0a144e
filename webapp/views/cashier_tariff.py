"""The cashier's tariff change: what the matrix offers an account, and its refusals in
words a cashier can repeat to the subscriber.

The rule itself lives in ``billing.tariff_change`` (the cabinet calls the same
``change_tariff``); here are only the queries that show the choice and the translation of
:class:`~billing.tariff_change.TariffChangeError` codes.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from flask_appbuilder.fieldwidgets import Select2Widget
from flask_appbuilder.forms import DynamicForm
from flask_babel import lazy_gettext as _l
from sqlalchemy import text
from wtforms import SelectField
from wtforms.validators import InputRequired

from billing.tariff_change import TariffChangeError
from webapp import localtime
from webapp.numbers import format_amount

# The account with its scheduled change (the tariff in force joins it by
# webapp.views.tariff_in_force).
ACCOUNT_WITH_CHANGE = text(
    """
    SELECT a.id, a.contract, a.full_name, a.balance,
           pend.to_name AS pending_name, pend.effective_at AS pending_at
      FROM accounts a
      LEFT JOIN LATERAL (SELECT tf.name AS to_name, c.effective_at
                           FROM tariff_changes c JOIN tariffs tf ON tf.id = c.to_tariff_id
                          WHERE c.account_id = a.id AND c.status = 'pending') pend ON true
     WHERE a.id = :id
    """
)

# Every active tariff but the current one, with the matrix cell from the current tariff
# (NULL where the matrix has none: such a change is refused as not allowed).
OPTIONS = text(
    """
    SELECT t.id, t.name, r.allowed, r.cost, r.min_balance, r.min_time_on_tariff, r.effective
      FROM tariffs t
      LEFT JOIN tariff_change_rules r ON r.to_tariff_id = t.id AND r.from_tariff_id = :current
     WHERE t.active AND t.id IS DISTINCT FROM :current
     ORDER BY t.name
    """
)

class TariffChangeForm(DynamicForm):
    to_tariff = SelectField(_l("New tariff"), coerce=int, widget=Select2Widget(),
                            validators=[InputRequired(message=_l("Choose a tariff."))])


def option_label(row: Mapping) -> str:
    """A tariff as the select shows it: name, then what the matrix says."""
    if not row["allowed"]:
        return str(_l("%(name)s — not allowed", name=row["name"]))
    when = _l("now") if row["effective"] == "NOW" else _l("from the next period")
    return str(_l("%(name)s — %(cost)s, %(when)s", name=row["name"],
                  cost=format_amount(row["cost"]), when=when))


def _duration(value: timedelta) -> str:
    hours = value.seconds // 3600
    return str(_l("%(days)s d %(hours)s h", days=value.days, hours=hours))


def refusal(exc: TariffChangeError, account: Mapping, rule: Mapping | None) -> str:
    """The cashier's message for a refused change; ``rule`` is the option chosen."""
    code = exc.code
    if code == "not_allowed":
        return str(_l("The matrix does not allow changing from %(old)s to %(new)s.",
                      old=account["tariff_name"], new=rule["name"] if rule else "?"))
    if code == "balance_below_minimum" and rule is not None:
        return str(_l("The change needs a balance of at least %(min)s; the balance is "
                      "%(balance)s.", min=format_amount(rule["min_balance"]),
                      balance=format_amount(account["balance"])))
    if code == "too_early" and rule is not None and account["assigned_at"] is not None:
        allowed_from = account["assigned_at"] + rule["min_time_on_tariff"]
        return str(_l("The subscriber must stay %(time)s on the current tariff: the change "
                      "is allowed from %(when)s.", time=_duration(rule["min_time_on_tariff"]),
                      when=localtime.format_minute(allowed_from)))
    messages = {
        "change_pending": _l("A tariff change is already scheduled for this account."),
        "same_tariff": _l("The account is already on this tariff."),
        "no_tariff": _l("The account has no tariff to change from; an administrator "
                        "assigns the first one."),
        "unknown_tariff": _l("This tariff is not available."),
        "tariff_inactive": _l("This tariff is not available."),
        "no_settlement_period": _l("The current tariff has no settlement period to wait "
                                   "for; the change cannot be scheduled."),
        "before_last_tick": _l("Charges are already settled past this moment; try again "
                               "in a few minutes."),
        "assignment_exists": _l("The account already has a tariff assignment at this "
                                "moment."),
        "unknown_account": _l("No such account."),
    }
    return str(messages.get(code, str(exc)))
