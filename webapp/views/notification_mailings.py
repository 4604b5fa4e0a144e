"""Mailings in the admin: one template to one subscriber, to accounts chosen on the list,
or to a filtered selection (tariff, status, balance range, NAS), now or at a set time.

The form shows how many accounts the selection holds before the operator confirms; the
confirmed form makes one batch under its one-time key (``billing.notifications.batches``:
a form submitted twice is one batch and queues nothing twice), and the batch is queued a
chunk at a time, each chunk committed with its progress, which the batch's page shows. A
batch stopped half-way (a closed browser, a refusal) goes on from its page.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

from flask import abort, current_app, flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.fieldwidgets import Select2Widget
from flask_appbuilder.forms import DynamicForm
from flask_appbuilder.models.sqla.filters import FilterEqual
from flask_appbuilder.security.decorators import permission_name
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import text
from wtforms import HiddenField, SelectField
from wtforms.validators import DataRequired, InputRequired, Optional, ValidationError

from billing.errors import Refused
from billing.notifications import batches, templates
from billing.notifications import selection as selections
from billing.notifications.mailing import MailingRefused
from billing.notifications.selection import Selection
from webapp import audit, labels
from webapp.localtime import LocalDateTimeField
from webapp.models.notifications import MessageBatch
from webapp.money_field import MoneyField
from webapp.pickers import account_picker
from webapp.validators import Money
from webapp.views.base import BoundedInterface, choice_field
from webapp.views.ledger import raw_connection
from webapp.views.notifications import CHANNELS, MESSAGE_STATES
from webapp.views.operations import ReadOnlyView

BATCH_STATES = {"selecting": _l("Being queued"), "queued": _l("Queued"),
                "cancelled": _l("Cancelled")}
ANY = ("", _l("— any —"))
REQUEST_SECONDS = 15

_TEMPLATES = text("SELECT code, channel FROM message_templates GROUP BY code, channel"
                  " ORDER BY code, channel")
_TARIFFS = text("SELECT id, name FROM tariffs ORDER BY name")
_NAS = text("SELECT id, name FROM nas ORDER BY name")
_CHOSEN = text("SELECT id, contract, full_name FROM accounts"
               " WHERE id = ANY(CAST(:ids AS bigint[])) ORDER BY contract LIMIT 50")
_BY_STATE = text("SELECT state, count(*) FROM messages WHERE batch_id = :id GROUP BY state")
_BATCH_ROW = text(
    "SELECT b.id, b.template_code, b.channel, b.selection, b.due_at, b.total, b.queued,"
    "       b.skipped, b.state, b.created_at, cardinality(b.waiting) - b.made AS waiting,"
    "       u.username"
    "  FROM message_batches b LEFT JOIN ab_user u ON u.id = b.staff_user_id"
    " WHERE b.id = :id")


def _optional_int(value) -> int | None:
    return int(value) if value not in (None, "", "None") else None


def _ids(raw: str | None) -> list[int]:
    return sorted({int(p) for p in (raw or "").split(",") if p.strip().isdigit()})


class BalanceRange:
    def __call__(self, form, field) -> None:
        low, high = form.balance_from.data, field.data
        if low is not None and high is not None and low > high:
            raise ValidationError(_l("The upper end is below the lower one."))


class MailingForm(DynamicForm):
    template = SelectField(_l("Template"), widget=Select2Widget(),
                           validators=[InputRequired(message=_l("Choose the template."))])
    account = account_picker(_l("One subscriber"), Optional(),
                             description=_l("Empty: every account the filters below "
                                            "select."))
    ids = HiddenField()
    tariff = SelectField(_l("Tariff"), coerce=_optional_int, widget=Select2Widget())
    status = SelectField(_l("Status"), coerce=lambda v: v or None, widget=Select2Widget(),
                         choices=[ANY, *labels.choices(labels.ACCOUNT_STATUSES)])
    balance_from = MoneyField(_l("Balance from"), validators=[Optional(), Money()])
    balance_to = MoneyField(_l("Balance up to"),
                            validators=[Optional(), Money(), BalanceRange()])
    nas = SelectField(_l("NAS"), coerce=_optional_int, widget=Select2Widget(),
                      description=_l("Accounts with a subaccount on this NAS."))
    due_at = LocalDateTimeField(_l("Send at"), validators=[Optional()],
                                description=_l("Local time; empty: now. Quiet hours still "
                                               "hold a message back until the morning."))
    nonce = HiddenField(validators=[DataRequired()])

    def selection(self) -> Selection:
        return Selection(
            account_ids=(self.account.data.id,) if self.account.data is not None
            else tuple(_ids(self.ids.data)),
            tariff_id=self.tariff.data, status=self.status.data,
            balance_from=self.balance_from.data, balance_to=self.balance_to.data,
            nas_id=self.nas.data)


class StopForm(DynamicForm):
    """A button: the CSRF token is all it carries."""


def batch_link(batch_id) -> Markup:
    return Markup('<a href="{}">{}</a>').format(
        url_for("MailingView.batch", batch_id=batch_id), batch_id)


class MessageBatchView(ReadOnlyView):
    """The mailings made, each linked to its progress page."""

    datamodel = BoundedInterface(MessageBatch, {"state": [FilterEqual]})
    list_title = _l("Mailings")
    base_permissions = ["can_list"]
    list_columns = ["id", "created_at", "template_code", "channel", "due_at", "total",
                    "queued", "skipped", "state"]
    search_columns = ["state"]
    search_form_extra_fields = {
        "state": choice_field(_l("State"), labels.choices(BATCH_STATES))}
    base_order = ("id", "desc")
    formatters_columns = {"id": batch_link, "state": labels.formatter(BATCH_STATES),
                          "channel": labels.formatter(CHANNELS)}
    label_columns = {"id": _l("Mailing"), "created_at": _l("Made"),
                     "template_code": _l("Template"), "channel": _l("Channel"),
                     "due_at": _l("Due"), "total": _l("Selected"), "queued": _l("Queued"),
                     "skipped": _l("Skipped"), "state": _l("State"),
                     "selection": _l("Selection"), "request_key": _l("Form key"),
                     "walked_to": _l("Queued up to account"),
                     "waiting": _l("Waiting to be made"), "made": _l("Made of those waiting")}
    list_template = "notifications/batch_list.html"
    role_grants = {"ReadOnly": ("can_list",)}


class MailingView(BaseView):
    route_base = "/mailings"
    default_view = "new"
    role_grants = {"ReadOnly": ("can_batch",)}

    def _db(self):
        return self.appbuilder.session

    def _form(self) -> MailingForm:
        db = self._db()
        form = MailingForm()
        form.template.choices = [(f"{r.code}:{r.channel}",
                                  f"{r.code} ({labels.label(CHANNELS, r.channel)})")
                                 for r in db.execute(_TEMPLATES)]
        form.tariff.choices = [ANY, *((r.id, r.name) for r in db.execute(_TARIFFS))]
        form.nas.choices = [ANY, *((r.id, r.name) for r in db.execute(_NAS))]
        if not form.nonce.data:
            form.nonce.data = uuid.uuid4().hex
        if not form.ids.data and request.args.get("ids"):
            form.ids.data = ",".join(map(str, _ids(request.args.get("ids"))))
        return form

    @expose("/new", methods=["GET", "POST"])
    @has_access
    @permission_name("send")
    def new(self):
        """First the count of the selection, then the confirmed form makes the batch."""
        form = self._form()
        count = None
        if form.validate_on_submit():
            if request.form.get("confirm") == "1":
                return self._make(form)
            count = selections.count(raw_connection(self._db()), form.selection())
            self._db().rollback()
        chosen = []
        if form.ids.data and form.account.data is None:
            chosen = self._db().execute(_CHOSEN, {"ids": _ids(form.ids.data)}).all()
        return self.render_template("notifications/mailing_new.html", form=form,
                                    count=count, chosen=chosen,
                                    fields=", ".join(templates.FIELDS))

    def _make(self, form: MailingForm):
        db = self._db()
        code, channel = form.template.data.split(":", 1)
        batch_id, new = batches.create(
            raw_connection(db), template_code=code, channel=channel,
            selection=form.selection(), due_at=form.due_at.data or datetime.now(UTC),
            request_key=f"form:{form.nonce.data}", staff_user_id=g.user.id)
        if not new:
            db.rollback()
            flash(str(_l("This form was sent already: its mailing is below; nothing was "
                         "queued again.")), "info")
            return redirect(url_for(".batch", batch_id=batch_id))
        audit.record_action(db, "add", "message_batches", batch_id,
                            {"template_code": code, "channel": channel,
                             "selection": form.selection().as_json()})
        db.commit()
        return self._queue(batch_id)

    def _queue(self, batch_id: int):
        """Queue the batch's chunks, each committed with its progress, for at most
        REQUEST_SECONDS (a web worker is stopped at 30 s; 20,000 accounts take about a
        second): a longer selection goes on from its page."""
        db = self._db()
        settings = current_app.config["EBS_SETTINGS"]
        until = time.monotonic() + REQUEST_SECONDS
        try:
            while batches.queue_next(raw_connection(db), batch_id, settings=settings):
                db.commit()
                if time.monotonic() > until:
                    flash(str(_l("Queued so far as the progress shows; press “Go on "
                                 "queueing” for the rest.")), "info")
                    break
            db.commit()
        except (Refused, MailingRefused, templates.TemplateRefused) as exc:
            db.rollback()
            flash(str(_l("The mailing stopped: %(reason)s", reason=str(exc))), "danger")
        return redirect(url_for(".batch", batch_id=batch_id))

    @expose("/<int:batch_id>")
    @has_access
    @permission_name("batch")
    def batch(self, batch_id: int):
        db = self._db()
        row = db.execute(_BATCH_ROW, {"id": batch_id}).mappings().first()
        if row is None:
            abort(404)
        by_state = dict(db.execute(_BY_STATE, {"id": batch_id}).all())
        can = self.appbuilder.sm.has_access("can_send", "MailingView")
        return self.render_template(
            "notifications/batch.html", b=row, by_state=by_state, waiting=row["waiting"],
            can_send=can,
            states=MESSAGE_STATES, batch_states=BATCH_STATES, channels=CHANNELS,
            form=StopForm(formdata=None),
            selection=Selection.from_json(row["selection"]))

    @expose("/<int:batch_id>/continue", methods=["POST"])
    @has_access
    @permission_name("send")
    def resume(self, batch_id: int):
        if not StopForm().validate_on_submit():
            abort(400)
        return self._queue(batch_id)

    @expose("/<int:batch_id>/cancel", methods=["POST"])
    @has_access
    @permission_name("send")
    def cancel(self, batch_id: int):
        if not StopForm().validate_on_submit():
            abort(400)
        db = self._db()
        cancelled = batches.cancel(raw_connection(db), batch_id)
        if cancelled is None:
            db.rollback()
            flash(str(_l("The mailing is cancelled already.")), "info")
        else:
            audit.record_action(db, "status", "message_batches", batch_id,
                                {"to": "cancelled", "messages_cancelled": cancelled})
            db.commit()
            flash(str(_l("The mailing is cancelled; %(n)s messages not yet sent are "
                         "cancelled.", n=cancelled)), "success")
        return redirect(url_for(".batch", batch_id=batch_id))

