"""Notifications in the admin: the templates the operator writes (refused at save when
they cannot render, previewed for a chosen subscriber), every message with what its
provider answered, and the operator's decision on a message the sender could not finish.

A message's state moves only through ``billing.notifications.outbox``: "send again" is
``outbox.requeue`` and "cancel" is ``outbox.cancel``, each audited in the same
transaction. The mailings are ``webapp.views.notification_mailings``; the subscriber's
opt-out switch ``webapp.views.notification_optout``.

Granted like the gateway payments: ReadOnly reads templates and messages; only Admin
edits a template or decides on a message.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import abort, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.fieldwidgets import BS3TextAreaFieldWidget, BS3TextFieldWidget
from flask_appbuilder.forms import DynamicForm
from flask_appbuilder.models.sqla.filters import FilterEqual, FilterGreater, FilterSmaller
from flask_appbuilder.security.decorators import permission_name
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, text
from wtforms import BooleanField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Regexp, ValidationError

from billing.notifications import fields, outbox, sms_text, templates
from webapp import audit, labels, localtime
from webapp.models.notifications import Message, MessageTemplate
from webapp.pickers import account_picker
from webapp.views.base import READ, AdminOnlyModelView, BoundedInterface, choice_field, text_field
from webapp.views.ledger import raw_connection
from webapp.views.operations import ReadOnlyView
from webapp.views.traffic_reconciliation import account_link

MESSAGE_STATES = {
    "queued": _l("Queued"), "sending": _l("Being sent"), "sent": _l("Sent"),
    "delivered": _l("Delivered"), "failed": _l("Failed"), "unknown": _l("Unknown"),
    "cancelled": _l("Cancelled"),
}
CHANNELS = {"sms": _l("SMS"), "email": _l("E-mail")}
LANGUAGES = {"ru": _l("Russian"), "en": _l("English")}
ATTEMPT_OUTCOMES = {"sent": _l("Accepted"), "retry": _l("To be retried"),
                    "failed": _l("Refused"), "status": _l("Delivery status")}
# The states an operator decides on: the provider may or may not have an unknown one.
DECIDED_BY_OPERATOR = ("unknown", "failed")
UNKNOWN_EXPLAINED = _l(
    "The sender stopped before the provider's answer was recorded (a crash, a lost "
    "connection): the provider may or may not have sent this message. It is never sent "
    "again by itself. Send it again if the subscriber did not get it, or cancel it.")

_ATTEMPTS = text(
    "SELECT at, outcome, answer, error FROM message_attempts WHERE message_id = :id"
    " ORDER BY at, id")


class TemplateRenders:
    """The body (and a subject) must render for any subscriber: ``templates.check``
    against sample values of every field, in the template's language; its reason is the
    field's message."""

    def __call__(self, form, field) -> None:
        language = form.language.data if form.language.data in LANGUAGES else "ru"
        try:
            if field.name == "body":
                templates.check(field.data or "", language)
            elif field.data:
                templates.render(field.data, templates.FIELDS, language)
        except templates.TemplateRefused as exc:
            raise ValidationError(str(_l("Refused: %(reason)s", reason=str(exc)))) from None


def fields_hint() -> str:
    return ", ".join("{{ " + name + " }}" for name in templates.FIELDS)


class MessageTemplateView(AdminOnlyModelView):
    datamodel = BoundedInterface(MessageTemplate)
    list_title = _l("Message templates")
    list_columns = ["code", "language", "channel", "subject", "essential", "updated_at"]
    add_columns = edit_columns = ["code", "language", "channel", "subject", "body",
                                  "essential"]
    show_columns = [*add_columns, "updated_at"]
    search_columns = ["code", "language", "channel"]
    base_order = ("code", "asc")
    add_form_extra_fields = edit_form_extra_fields = {
        "code": StringField(
            _l("Code"), widget=BS3TextFieldWidget(),
            validators=[DataRequired(), Regexp(r"^[a-z][a-z0-9_]{0,62}$", message=_l(
                "Latin small letters, digits and _, starting with a letter."))],
            description=_l("The event: low_balance, payment_received, blocked, "
                           "suspension_ending, forecast, or your own for mailings.")),
        "language": choice_field(_l("Language"), labels.choices(LANGUAGES)),
        "channel": choice_field(_l("Channel"), labels.choices(CHANNELS)),
        "subject": StringField(_l("Subject"), widget=BS3TextFieldWidget(),
                               validators=[Length(max=200), TemplateRenders()],
                               description=_l("E-mail only.")),
        "body": TextAreaField(_l("Text"), widget=BS3TextAreaFieldWidget(),
                              validators=[DataRequired(), TemplateRenders()],
                              render_kw={"rows": 6}),
        "essential": BooleanField(_l("Essential")),  # unticked is an answer, not "empty"
    }
    search_form_extra_fields = {
        "language": choice_field(_l("Language"), labels.choices(LANGUAGES)),
        "channel": choice_field(_l("Channel"), labels.choices(CHANNELS)),
    }
    formatters_columns = {"language": labels.formatter(LANGUAGES),
                          "channel": labels.formatter(CHANNELS)}
    label_columns = {"code": _l("Code"), "language": _l("Language"), "channel": _l("Channel"),
                     "subject": _l("Subject"), "body": _l("Text"),
                     "essential": _l("Essential"), "updated_at": _l("Changed")}
    description_columns = {
        "essential": _l("Sent even to a subscriber who opted out of other messages "
                        "(a block, a payment)."),
    }
    show_template = "notifications/template_show.html"

    def _init_forms(self) -> None:
        super()._init_forms()
        hint = _l("Fields: %(fields)s; money with |money.", fields=fields_hint())
        for form in (self.add_form, self.edit_form):
            form.body.kwargs["description"] = hint

    def pre_update(self, item) -> None:
        item.updated_at = func.now()
        super().pre_update(item)


class PreviewForm(DynamicForm):
    class Meta:
        csrf = False  # a GET that changes nothing

    account = account_picker(_l("Subscriber"))


def preview_fields(conn, account_id: int, body: str, language: str) -> dict:
    """The fields the template renders with for the account: its own (the mailing's
    ``fields.account_fields``, ``days_left`` by the forecast when the template asks), the
    event's (a payment's sum, a block's reason) as their sample values."""
    used = fields.used(body, language)
    own = fields.account_fields(conn, [account_id], datetime.now(UTC), localtime.zone(),
                                fields=used)[account_id]
    values = {**templates.FIELDS, **{k: own[k] for k in fields.ACCOUNT_COLUMNS}}
    if "days_left" in used:
        values["days_left"] = own["days_left"]
    return values


class TemplatePreviewView(BaseView):
    """A template rendered for a chosen subscriber, with its SMS parts."""

    route_base = "/notification-templates"
    default_view = "preview"
    role_grants = {"ReadOnly": ("can_preview",)}

    @expose("/<int:template_id>/preview")
    @has_access
    @permission_name("preview")
    def preview(self, template_id: int):
        db = self.appbuilder.session
        item = db.get(MessageTemplate, template_id)
        if item is None:
            abort(404)
        form = PreviewForm(request.args)
        shown = refused = None
        if form.account.data is not None:
            try:
                values = preview_fields(raw_connection(db), form.account.data.id, item.body,
                                        item.language)
                shown = {"subject": templates.render(item.subject, values, item.language)
                         if item.subject else "",
                         "body": templates.render(item.body, values, item.language)}
            except templates.TemplateRefused as exc:
                refused = str(exc)
        db.rollback()
        length = sms_text.length(shown["body"]) if shown else None
        return self.render_template("notifications/preview.html", item=item, form=form,
                                    shown=shown, refused=refused, length=length,
                                    channels=CHANNELS, languages=LANGUAGES)


class MessageView(ReadOnlyView):
    datamodel = BoundedInterface(
        Message,
        {"state": [FilterEqual], "account_id": [FilterEqual], "batch_id": [FilterEqual],
         "created_at": [FilterGreater, FilterSmaller]},
        eager=("account",))
    list_title = _l("Messages")
    show_title = _l("Message")
    base_permissions = list(READ)
    list_columns = ["created_at", "state", "recipient", "account", "template_code",
                    "backend", "due_at", "attempts", "provider_id", "provider_status",
                    "cost", "parts", "error"]
    show_columns = ["state", "recipient", "account", "batch_id", "template_code", "channel",
                    "backend", "essential", "subject", "body", "due_at", "attempts",
                    "sending_since", "sent_at", "provider_id", "provider_status", "cost",
                    "parts", "error", "idempotency_key", "created_at"]
    search_columns = ["state", "account_id", "batch_id", "created_at"]
    search_form_extra_fields = {
        "state": choice_field(_l("State"), labels.choices(MESSAGE_STATES)),
        "account_id": text_field(_l("Account id")),
        "batch_id": text_field(_l("Mailing")),
    }
    order_columns = ["created_at", "due_at"]
    base_order = ("created_at", "desc")
    formatters_columns = {"state": labels.formatter(MESSAGE_STATES), "account": account_link}
    label_columns = {
        "created_at": _l("Queued at"), "state": _l("State"), "recipient": _l("Recipient"),
        "account": _l("Account"), "account_id": _l("Account id"), "batch_id": _l("Mailing"),
        "batch": _l("Mailing"), "template_code": _l("Template"), "channel": _l("Channel"),
        "backend": _l("Backend"), "essential": _l("Essential"), "subject": _l("Subject"),
        "body": _l("Text"), "due_at": _l("Due"), "attempts": _l("Attempts"),
        "sending_since": _l("Sending since"), "sent_at": _l("Sent at"),
        "provider_id": _l("Provider's id"), "provider_status": _l("Provider's status"),
        "cost": _l("Cost"), "parts": _l("Parts"), "error": _l("Error"),
        "idempotency_key": _l("Key"), "attempts_made": _l("Provider's answers"),
    }
    show_template = "notifications/message_show.html"
    role_grants = {"ReadOnly": READ}

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        """FAB's show page, with the provider's answers and the operator's decision."""
        widgets = self._show(pk)
        item = self.datamodel.get(pk)
        attempts = self.appbuilder.session.execute(_ATTEMPTS, {"id": item.id}).all()
        decide = (item.state in DECIDED_BY_OPERATOR and self.appbuilder.sm.has_access(
            "can_decide", "MessageDecisionView"))
        return self.render_template(
            self.show_template, pk=pk, title=self.show_title, widgets=widgets,
            related_views=self._related_views, message=item, attempts=attempts,
            outcomes=ATTEMPT_OUTCOMES, decide=decide, explained=UNKNOWN_EXPLAINED,
            form=DecisionForm(formdata=None))


class DecisionForm(DynamicForm):
    """A button: the CSRF token is all it carries."""


class MessageDecisionView(BaseView):
    """Send again or cancel a message the sender left unknown or that failed; Admin only."""

    route_base = "/message-decision"
    default_view = "requeue"

    def _decide(self, message_id: int, action: str):
        if not DecisionForm().validate_on_submit():
            abort(400)
        db = self.appbuilder.session
        before = db.execute(text("SELECT state FROM messages WHERE id = :id"),
                            {"id": message_id}).scalar()
        if before is None:
            abort(404)
        conn = raw_connection(db)
        moved = (outbox.requeue(conn, message_id, datetime.now(UTC)) if action == "requeue"
                 else outbox.cancel(conn, message_id))
        back = url_for("MessageView.show", pk=message_id)
        if not moved:
            db.rollback()
            flash(str(_l("The message is %(state)s now: nothing changed.",
                         state=labels.label(MESSAGE_STATES, before))), "warning")
            return redirect(back)
        after = "queued" if action == "requeue" else "cancelled"
        audit.record_action(db, "status", "messages", message_id,
                            {"from": before, "to": after})
        db.commit()
        flash(str(_l("The message is queued to be sent again.") if action == "requeue"
                  else _l("The message is cancelled.")), "success")
        return redirect(back)

    @expose("/<int:message_id>/requeue", methods=["POST"])
    @has_access
    @permission_name("decide")
    def requeue(self, message_id: int):
        return self._decide(message_id, "requeue")

    @expose("/<int:message_id>/cancel", methods=["POST"])
    @has_access
    @permission_name("decide")
    def cancel(self, message_id: int):
        return self._decide(message_id, "cancel")


def register_notifications(appbuilder) -> None:
    """Templates, messages and mailings in the Subscribers menu (a menu of their own would
    not fit the bar on one line at 1366 px: tests/browser/test_walk_menu.py); the actions
    behind them."""
    from webapp.views.notification_mailings import MailingView, MessageBatchView
    from webapp.views.notification_optout import AccountOptoutView

    category = "Subscribers"
    appbuilder.add_separator(category)
    appbuilder.add_view(MessageTemplateView, "Message templates", icon="fa-file-text-o",
                        label=_l("Message templates"), category=category)
    appbuilder.add_view(MessageView, "Messages", icon="fa-envelope-o", label=_l("Messages"),
                        category=category)
    appbuilder.add_view(MessageBatchView, "Mailings", icon="fa-bullhorn",
                        label=_l("Mailings"), category=category)
    appbuilder.add_view_no_menu(TemplatePreviewView)
    appbuilder.add_view_no_menu(MessageDecisionView)
    appbuilder.add_view_no_menu(MailingView)
    appbuilder.add_view_no_menu(AccountOptoutView)
