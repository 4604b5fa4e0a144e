"""The subscriber's own account details: the cabinet password and the contacts.

The password is stored by ``billing.credentials.set_cabinet_password``, the admin's one
entry point, under the admin's rule (any non-empty password up to 128 characters); the
current one is asked first, so a session left open on a shared computer cannot take the
account over, and a wrong one counts as a wrong password at the login does (the same
lock, webapp/cabinet/login.py). The change ends every other session of the account and
keeps this one (``sessions.restamp``). Contacts go through ``billing.contacts``, whose
rule the form shows under each field.
"""

from __future__ import annotations

from flask import flash, redirect, url_for
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import text
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, ValidationError

from billing import contacts, credentials
from billing.passwords import verify_password
from webapp import login_guard
from webapp.cabinet import login, sessions
from webapp.cabinet.acting import attempt, form_page, words
from webapp.cabinet.blueprint import bp, menu_entry
from webapp.cabinet.sessions import login_required
from webapp.extensions import db
from webapp.views.ledger import raw_connection

PASSWORD_MAX = 128  # the admin's form allows as much (webapp/views/account_forms.py)
WRONG_CURRENT = _l("This is not your current password.")

_HASH = text("SELECT password_hash FROM accounts WHERE id = :id")
_CONTACTS = text("SELECT phone, email FROM accounts WHERE id = :id")

CONTACT_REFUSALS = {
    "bad_phone": _l("Write the phone as digits, with + in front if you like: 5 to 15 "
                    "digits."),
    "bad_email": _l("This is not an e-mail address."),
}

menu_entry(60, "contacts", "Contacts")
menu_entry(70, "password", "Password")


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField(
        _l("Current password"),
        validators=[DataRequired(message=_l("Enter your current password.")),
                    Length(max=200)])
    new_password = PasswordField(
        _l("New password"),
        validators=[DataRequired(message=_l("Enter the new password.")),
                    Length(max=PASSWORD_MAX)])
    new_password_again = PasswordField(
        _l("New password again"),
        validators=[DataRequired(message=_l("Enter the new password again.")),
                    EqualTo("new_password", message=_l("The two new passwords differ."))])


class ContactRule:
    """The field's value as ``billing.contacts`` would store it, or its refusal."""

    def __init__(self, rule) -> None:
        self.rule = rule

    def __call__(self, form, field) -> None:
        try:
            self.rule(field.data or "")
        except contacts.ContactError as exc:
            raise ValidationError(words(exc, CONTACT_REFUSALS)) from None


class ContactsForm(FlaskForm):
    phone = StringField(_l("Phone"),
                        validators=[Length(max=40), ContactRule(contacts.normal_phone)])
    email = StringField(_l("E-mail"),
                        validators=[Length(max=contacts.MAX_EMAIL),
                                    ContactRule(contacts.normal_email)])


@bp.route("/password", methods=["GET", "POST"])
@login_required
def password(subscriber):
    form = PasswordChangeForm()
    refused = None
    if form.validate_on_submit():
        stored = db.session.execute(_HASH, {"id": subscriber.id}).scalar_one()
        until = login.locked_until(db.session, subscriber.id)
        if until is not None:
            form.current_password.errors.append(login_guard.lock_message(until))
        elif not verify_password(stored, form.current_password.data):
            until = login.count_failure(db.session, subscriber.id)
            db.session.commit()
            form.current_password.errors.append(
                login_guard.lock_message(until) if until else str(WRONG_CURRENT))
        else:
            try:
                credentials.set_cabinet_password(raw_connection(db.session), subscriber.id,
                                                 form.new_password.data)
            except credentials.CredentialError as exc:
                db.session.rollback()
                refused = str(exc)
            else:
                sessions.restamp(db.session, subscriber.id)
                db.session.commit()
                flash(str(_l("Your password is changed. Your other sessions are closed.")),
                      "success")
                return redirect(url_for("cabinet.password"), code=303)
    return form_page("password", _l("Password"), form, _l("Change password"),
                     refused=refused)


@bp.route("/contacts", methods=["GET", "POST"], endpoint="contacts")
@login_required
def contacts_page(subscriber):
    form = ContactsForm()
    refused = None
    if form.validate_on_submit():
        _, refusal = attempt(lambda conn: contacts.set_contacts(
            conn, subscriber.id, phone=form.phone.data or "", email=form.email.data or ""))
        if refusal is None:
            flash(str(_l("Your contacts are saved.")), "success")
            return redirect(url_for("cabinet.contacts"), code=303)
        refused = words(refusal, CONTACT_REFUSALS)
    elif not form.is_submitted():
        stored = db.session.execute(_CONTACTS, {"id": subscriber.id}).mappings().one()
        form.phone.data, form.email.data = stored["phone"], stored["email"]
    return form_page("contacts", _l("Contacts"), form, _l("Save"), refused=refused,
                     note=_l("We use them to reach you about your account."),
                     types={"phone": "tel", "email": "email"})
