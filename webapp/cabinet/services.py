"""The subscriber's services: changing the tariff by the operator's matrix, and suspending
and resuming the service by the tariff's rules.

Each costs money, so each shows first what it will do: the tariff change's cost and the
moment it takes effect come from ``billing.tariff_change.plan_change`` (the rules of
``change_tariff`` itself, nothing written); a suspension is tried by
``billing.suspension.suspend_account`` and rolled back, so its cost, its end and the
advance charges it returns are the service's own figures. The confirmation then calls the
same function for real. A repeated confirmation is refused by the service (the tariff is
already changed or scheduled, the account already suspended), so it never acts twice.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import flash, redirect, url_for
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import text
from wtforms import IntegerField, RadioField
from wtforms.validators import InputRequired, NumberRange, Optional

from billing import suspension
from billing.tariff_change import cancel_scheduled_change, change_tariff, plan_change
from webapp import localtime
from webapp.cabinet.acting import (
    Fact,
    attempt,
    confirm_page,
    confirming,
    form_page,
    money_fact,
    preview,
    words,
)
from webapp.cabinet.blueprint import bp, menu_entry
from webapp.cabinet.sessions import login_required
from webapp.extensions import db
from webapp.numbers import format_amount
from webapp.views.cashier_tariff import ACCOUNT_WITH_CHANGE, OPTIONS
from webapp.views.ledger import raw_connection
from webapp.views.tariff_in_force import account_with_tariff

menu_entry(40, "tariff", "Services", also=("cancel_tariff_change", "suspension", "resume"))

TARIFF_REFUSALS = {
    "not_allowed": _l("This change of tariff is not allowed."),
    "balance_below_minimum": _l("This change needs a balance of at least %(min_balance)s."),
    "too_early": _l("You can change to this tariff from %(allowed_from)s."),
    "change_pending": _l("A change of tariff is already scheduled: cancel it first to "
                         "choose another."),
    "same_tariff": _l("You are already on this tariff."),
    "no_tariff": _l("Your account has no tariff yet; support assigns the first one."),
    "unknown_tariff": _l("This tariff is not available."),
    "tariff_inactive": _l("This tariff is not available."),
    "no_settlement_period": _l("Your tariff has no settlement period to wait for; please "
                               "contact support."),
    "assignment_exists": _l("Your tariff already changes at this moment; please try again "
                            "in a minute."),
}
SUSPENSION_REFUSALS = {
    "already_suspended": _l("Your service is already suspended."),
    "not_active": _l("Only an active service can be suspended."),
    "no_tariff": _l("Your account has no tariff yet."),
    "not_allowed": _l("Your tariff does not allow suspending the service."),
    "balance_too_low": _l("A suspension needs a balance of at least %(min_balance)s."),
    "too_short": _l("A suspension lasts at least one day."),
    "too_long": _l("Your tariff allows at most %(max_days)s days."),
    "not_suspended": _l("Your service is not suspended."),
}

_RUNNING = text(
    """
    SELECT id, starts_at, planned_until, cost
      FROM account_suspensions
     WHERE account_id = :id AND ended_at IS NULL
    """
)
_STATUS = text("SELECT status, balance FROM accounts WHERE id = :id")


def _now() -> datetime:
    return datetime.now(UTC)


def _when(moment: datetime, now: datetime) -> str:
    return str(_l("now")) if moment <= now else localtime.format_minute(moment)


def _tabs() -> dict:
    return {"tabs": [("cabinet.tariff", _l("Tariff"), "cabinet-tab-tariff"),
                     ("cabinet.suspension", _l("Suspension"), "cabinet-tab-suspension")]}


# --- tariff ---------------------------------------------------------------------------


class TariffChoiceForm(FlaskForm):
    tariff_id = RadioField(_l("New tariff"), coerce=int,
                           validators=[InputRequired(message=_l("Choose a tariff."))])


class CancelForm(FlaskForm):
    """Only its CSRF token: the account has at most one scheduled change."""


def _option_facts(option, account, now: datetime) -> dict:
    """The figures a refusal of this option speaks of."""
    since = account["assigned_at"]
    allowed_from = since + option["min_time_on_tariff"] if since else now
    return {"min_balance": format_amount(option["min_balance"]),
            "allowed_from": localtime.format_minute(allowed_from)}


@bp.route("/tariff", methods=["GET", "POST"])
@login_required
def tariff(subscriber):
    account = account_with_tariff(db.session, ACCOUNT_WITH_CHANGE, subscriber.id)
    options = [o for o in db.session.execute(OPTIONS, {"current": account["tariff_id"]})
               .mappings() if o["allowed"]] if account["tariff_id"] else []
    chosen = {o["id"]: o for o in options}
    form = TariffChoiceForm()
    form.tariff_id.choices = [(o["id"], o["name"]) for o in options]
    refused, now = None, _now()
    if form.validate_on_submit():
        option = chosen[form.tariff_id.data]
        figures = _option_facts(option, account, now)
        if confirming():
            done, refusal = attempt(lambda conn: change_tariff(
                conn, subscriber.id, option["id"], tz=localtime.zone(), at=now))
            if refusal is None:
                flash(str(_l("Your tariff is now %(name)s.", name=option["name"])
                          if done.applied else
                          _l("Your tariff changes to %(name)s on %(when)s.",
                             name=option["name"],
                             when=localtime.format_minute(done.effective_at))), "success")
                return redirect(url_for("cabinet.tariff"), code=303)
        else:
            plan, refusal = preview(lambda conn: plan_change(
                conn, subscriber.id, option["id"], tz=localtime.zone(), at=now))
            if refusal is None:
                return confirm_page(
                    _l("Change the tariff?"),
                    [Fact("cabinet-confirm-from", _l("Current tariff"), account["tariff_name"]),
                     Fact("cabinet-confirm-to", _l("New tariff"), option["name"]),
                     money_fact("cabinet-confirm-cost", _l("Cost of the change"), plan.cost),
                     Fact("cabinet-confirm-when", _l("Takes effect"),
                          _when(plan.effective_at, now), plan.effective_at.isoformat()),
                     money_fact("cabinet-confirm-balance", _l("Balance now"),
                                account["balance"])],
                    {"tariff_id": option["id"]}, _l("Change the tariff"),
                    url_for("cabinet.tariff"))
        refused = words(refusal, TARIFF_REFUSALS, **figures)
    rows = [Fact("cabinet-tariff-current", _l("Current tariff"),
                 account["tariff_name"] or str(_l("No tariff yet")))]
    if account["pending_name"]:
        rows.append(Fact("cabinet-tariff-pending", _l("Scheduled change"),
                         str(_l("to %(name)s on %(when)s", name=account["pending_name"],
                                when=localtime.format_minute(account["pending_at"])))))
    return form_page("tariff", _l("Tariff"), form if options and not account["pending_name"]
                     else None, _l("Continue"), rows=rows, refused=refused,
                     template="cabinet/tariff.html", options=options, now=now,
                     cancel_form=CancelForm() if account["pending_name"] else None,
                     **_tabs())


@bp.route("/tariff/cancel", methods=["POST"])
@login_required
def cancel_tariff_change(subscriber):
    if CancelForm().validate_on_submit():
        cancelled, _ = attempt(lambda conn: cancel_scheduled_change(conn, subscriber.id))
        flash(str(_l("The scheduled change of tariff is cancelled.") if cancelled else
                  _l("No change of tariff is scheduled.")), "success" if cancelled else "info")
    return redirect(url_for("cabinet.tariff"), code=303)


# --- suspension -----------------------------------------------------------------------


class SuspendForm(FlaskForm):
    days = IntegerField(_l("Days"), validators=[Optional()],
                        render_kw={"inputmode": "numeric", "autocomplete": "off"})


class ResumeForm(FlaskForm):
    """Only its CSRF token: resuming ends the one running suspension."""


def _until(planned: datetime | None) -> str:
    return localtime.format_minute(planned) if planned else str(_l("until you resume it"))


def _terms_facts(terms: suspension.SuspensionTerms) -> dict:
    return {"min_balance": format_amount(terms.min_balance),
            "max_days": terms.max_days if terms.max_days is not None else "—"}


@bp.route("/suspension", methods=["GET", "POST"], endpoint="suspension")
@login_required
def suspension_page(subscriber):
    running = db.session.execute(_RUNNING, {"id": subscriber.id}).mappings().first()
    if running is not None:
        return form_page(
            "resume", _l("Suspension"), ResumeForm(), _l("Resume the service"),
            rows=[Fact("cabinet-suspension-since", _l("Suspended since"),
                       localtime.format_minute(running["starts_at"])),
                  Fact("cabinet-suspension-until", _l("Until"),
                       _until(running["planned_until"]))],
            action=url_for("cabinet.resume"), **_tabs(), template="cabinet/tabbed.html")
    now = _now()
    terms = suspension.suspension_terms(raw_connection(db.session), subscriber.id, now)
    account = db.session.execute(_STATUS, {"id": subscriber.id}).mappings().one()
    form = SuspendForm()
    if terms is not None and terms.max_days is not None:
        form.days.validators = [Optional(), NumberRange(
            min=1, max=terms.max_days,
            message=_l("From 1 to %(max)s days.", max=terms.max_days))]
    else:
        form.days.validators = [Optional(), NumberRange(
            min=1, message=_l("At least one day."))]
    refused = None
    if terms is None or not terms.allowed:
        note = (_l("Your account has no tariff yet.") if terms is None else
                SUSPENSION_REFUSALS["not_allowed"])
        return form_page("suspend", _l("Suspension"), None, None, note=note,
                         template="cabinet/tabbed.html", **_tabs())
    figures = _terms_facts(terms)
    if form.validate_on_submit():

        def suspend(conn):
            return suspension.suspend_account(conn, subscriber.id, at=now,
                                              tz=localtime.zone(), days=form.days.data)

        if confirming():
            done, refusal = attempt(suspend)
            if refusal is None:
                flash(str(_l("Your service is suspended until %(when)s.",
                             when=localtime.format_minute(done.planned_until))
                          if done.planned_until else
                          _l("Your service is suspended until you resume it.")), "success")
                return redirect(url_for("cabinet.suspension"), code=303)
        else:
            trial, refusal = preview(suspend)
            if refusal is None:
                rows = [money_fact("cabinet-confirm-cost", _l("Cost of the suspension"),
                                   trial.cost),
                        Fact("cabinet-confirm-from", _l("From"), str(_l("now"))),
                        Fact("cabinet-confirm-until", _l("Until"),
                             _until(trial.planned_until))]
                if trial.refunded:
                    rows.append(money_fact("cabinet-confirm-refund",
                                           _l("Returned for the time paid in advance"),
                                           trial.refunded))
                rows.append(money_fact("cabinet-confirm-balance", _l("Balance now"),
                                       account["balance"]))
                return confirm_page(
                    _l("Suspend the service?"), rows,
                    {"days": form.days.data if form.days.data is not None else ""},
                    _l("Suspend"), url_for("cabinet.suspension"),
                    note=_l("While suspended you have no access and no periodic charges."))
        refused = words(refusal, SUSPENSION_REFUSALS, **figures)
    rows = [money_fact("cabinet-suspension-cost", _l("Cost of a suspension"), terms.cost),
            money_fact("cabinet-suspension-min-balance", _l("Balance needed"),
                       terms.min_balance),
            Fact("cabinet-suspension-max-days", _l("Longest suspension, days"),
                 str(terms.max_days) if terms.max_days is not None else
                 str(_l("no limit")), terms.max_days)]
    return form_page("suspend", _l("Suspension"), form, _l("Continue"), rows=rows,
                     refused=refused, template="cabinet/tabbed.html",
                     note=_l("Empty days: the longest the tariff allows, or until you "
                             "resume it."), **_tabs())


@bp.route("/suspension/resume", methods=["POST"])
@login_required
def resume(subscriber):
    if ResumeForm().validate_on_submit():
        _, refusal = attempt(lambda conn: suspension.resume_account(
            conn, subscriber.id, at=_now()))
        if refusal is None:
            flash(str(_l("Your service is resumed.")), "success")
        else:
            flash(words(refusal, SUSPENSION_REFUSALS), "danger")
    return redirect(url_for("cabinet.suspension"), code=303)
