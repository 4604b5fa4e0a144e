"""Account actions: every change of an account's state goes through its ``billing``
service, never through a raw column edit, so the admin obeys the same rules as the
cabinet, the cashier, the API and ``ebs``.

Status (``billing.accounts.set_status``), suspension and resume (``billing.suspension``),
tariff assignment, one account or many (``billing.tariff_change.bulk_change_tariff``: an
admin's change bypasses the change matrix, never the settled time), cabinet and network
passwords (``billing.credentials``) and promised payments (``billing.promise``). A refusal
is shown on the form in the operator's words, and nothing is written; a done action
leaves its row in the staff audit log, in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import abort, current_app, flash, g, make_response, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from flask_babel import lazy_gettext as _l
from sqlalchemy import text

from billing import credentials, promise, suspension
from billing.accounts import set_status
from billing.errors import Refused
from billing.tariff_change import bulk_change_tariff
from webapp import audit, localtime
from webapp.views import account_forms as forms
from webapp.views.ledger import raw_connection
from webapp.views.tariff_in_force import account_with_tariff

# Every service's refusal is a billing.errors.Refused with its code; a password the
# credentials module cannot store is refused as well.
REFUSED = (Refused, credentials.CredentialError)

_ACCOUNT = text(
    """
    SELECT a.id, a.contract, a.full_name, a.status, a.balance
      FROM accounts a
     WHERE a.id = :id
    """
)
_SUBACCOUNT = text("SELECT id, account_id, username FROM subaccounts WHERE id = :id")
_TARIFFS = text("SELECT id, name FROM tariffs WHERE active ORDER BY name")
_CHOSEN = text(
    "SELECT id, contract, full_name FROM accounts WHERE id = ANY(CAST(:ids AS bigint[]))"
    " ORDER BY contract")
BULK_SHOWN = 50  # accounts listed on the bulk form; the rest are counted


def _ids(raw: str | None) -> list[int]:
    return sorted({int(p) for p in (raw or "").split(",") if p.strip().isdigit()})


def _typed_or_new(form) -> tuple[str, str | None]:
    """The password the operator typed, or a generated one (then also returned second,
    to be shown)."""
    if form.password.data:
        return form.password.data, None
    generated = credentials.new_password()
    return generated, generated


class AccountActionsView(BaseView):
    """The action forms an account's page links to; Admin only."""

    route_base = "/account-actions"
    default_view = "bulk_tariff"

    def _db(self):
        return self.appbuilder.session

    @staticmethod
    def _tz() -> ZoneInfo:
        return ZoneInfo(current_app.config["EBS_SETTINGS"].TIME_ZONE)

    def _account(self, account_id: int):
        account = account_with_tariff(self._db(), _ACCOUNT, account_id)
        if account is None:
            abort(404)
        return account

    def _run(self, form, call: Callable, done, back: str, logged: tuple):
        """Call the service on the ORM session's connection and log ``logged`` (action,
        object type, id, details) with it; commit and go back on success, or roll back
        and return the refusal's words."""
        db = self._db()
        try:
            result = call(raw_connection(db))
        except REFUSED as exc:
            db.rollback()
            return None, forms.refusal_text(exc)
        audit.record_action(db, *logged)
        db.commit()
        flash(done if not callable(done) else done(result), "success")
        return redirect(back), None

    def _page(self, account, form, title: str, button: str, refused: str | None,
              back: str, note: str | None = None):
        return self.render_template(
            "accounts/action.html", account=account, form=form, title=title,
            button=button, refused=refused, back=back, note=note, chosen=None, more=0)

    def _back(self, account_id: int) -> str:
        return url_for("AccountView.show", pk=account_id)

    @expose("/<int:account_id>/status", methods=["GET", "POST"])
    @has_access
    @permission_name("change_status")
    def status(self, account_id: int):
        account = self._account(account_id)
        form = forms.StatusForm()
        refused = None
        if form.validate_on_submit():
            done, refused = self._run(
                form, lambda conn: set_status(
                    conn, account_id, form.status.data, at=datetime.now(UTC),
                    staff_user_id=g.user.id, reason=form.reason.data or ""),
                str(_l("The status is changed.")), self._back(account_id),
                ("status", "accounts", account_id,
                 {"status": form.status.data, "reason": form.reason.data or ""}))
            if done:
                return done
        return self._page(account, form, _l("Change status"), _l("Change status"),
                          refused, self._back(account_id))

    @expose("/<int:account_id>/suspend", methods=["GET", "POST"])
    @has_access
    @permission_name("suspend")
    def suspend(self, account_id: int):
        account = self._account(account_id)
        form = forms.SuspendForm()
        refused = None
        if form.validate_on_submit():
            done, refused = self._run(
                form, lambda conn: suspension.suspend_account(
                    conn, account_id, at=datetime.now(UTC), tz=self._tz(),
                    days=form.days.data, staff_user_id=g.user.id,
                    reason=form.reason.data or ""),
                str(_l("The account is suspended.")), self._back(account_id),
                ("suspend", "accounts", account_id,
                 {"days": form.days.data, "reason": form.reason.data or ""}))
            if done:
                return done
        return self._page(account, form, _l("Suspend"), _l("Suspend"), refused,
                          self._back(account_id),
                          note=_l("By the tariff's self-suspension rules: its fee is "
                                  "charged, time paid in advance is returned."))

    @expose("/<int:account_id>/resume", methods=["GET", "POST"])
    @has_access
    @permission_name("resume")
    def resume(self, account_id: int):
        account = self._account(account_id)
        form = forms.ResumeForm()
        refused = None
        if form.validate_on_submit():
            done, refused = self._run(
                form, lambda conn: suspension.resume_account(
                    conn, account_id, at=datetime.now(UTC), staff_user_id=g.user.id,
                    reason=form.reason.data or ""),
                str(_l("The account is resumed.")), self._back(account_id),
                ("resume", "accounts", account_id, {"reason": form.reason.data or ""}))
            if done:
                return done
        return self._page(account, form, _l("Resume"), _l("Resume"), refused,
                          self._back(account_id))

    def _tariff_form(self):
        form = forms.TariffForm()
        form.tariff.choices = [(r.id, r.name) for r in self._db().execute(_TARIFFS)]
        return form

    def _assign(self, form, account_ids: list[int], back: str):
        """One account or many to the chosen tariff at the chosen moment. For one account a
        change that moves nothing (already on the tariff, or an assignment at that very
        moment) is refused, so the operator sees why and nothing is written."""
        at = forms.moment_or_now(form.at.data)
        single = len(account_ids) == 1
        tariff_name = dict(form.tariff.choices).get(form.tariff.data, "")

        def change(conn):
            result = bulk_change_tariff(conn, account_ids, form.tariff.data,
                                        staff_user_id=g.user.id, tz=self._tz(), at=at)
            if single and not result.changed:
                raise Refused("unchanged", "the account is already on this tariff, or has an "
                                           "assignment at that moment")
            return result

        def done(result) -> str:
            if single:
                return str(_l("The tariff is %(tariff)s from %(when)s.", tariff=tariff_name,
                              when=localtime.format_minute(at, self._tz())))
            return str(_l("Moved to %(tariff)s: %(changed)s; unchanged: %(unchanged)s "
                          "(already on it, or an assignment at that moment).",
                          tariff=tariff_name, changed=result.changed,
                          unchanged=result.unchanged))

        return self._run(
            form, change, done, back,
            ("tariff_change", "accounts", account_ids[0] if single else "bulk",
             {"tariff_id": form.tariff.data, "at": at.isoformat(),
              "accounts": len(account_ids)}))

    @expose("/<int:account_id>/tariff", methods=["GET", "POST"])
    @has_access
    @permission_name("assign_tariff")
    def tariff(self, account_id: int):
        account = self._account(account_id)
        form = self._tariff_form()
        refused = None
        if form.validate_on_submit():
            done, refused = self._assign(form, [account_id], self._back(account_id))
            if done:
                return done
        return self._page(account, form, _l("Change tariff"), _l("Change tariff"), refused,
                          self._back(account_id))

    @expose("/bulk-tariff", methods=["GET", "POST"])
    @has_access
    @permission_name("bulk_tariff")
    def bulk_tariff(self):
        """Many accounts to one tariff at one moment (chosen on the accounts list)."""
        ids = _ids(request.values.get("ids"))
        back = url_for("AccountView.list")
        if not ids:
            flash(str(_l("Choose accounts on the list first.")), "warning")
            return redirect(back)
        form = self._tariff_form()
        refused = None
        if form.validate_on_submit():
            done, refused = self._assign(form, ids, back)
            if done:
                return done
        chosen = self._db().execute(_CHOSEN, {"ids": ids[:BULK_SHOWN]}).mappings().all()
        return self.render_template(
            "accounts/action.html", account=None, form=form, title=_l("Change tariff"),
            button=_l("Change tariff"), refused=refused, back=back, note=None,
            chosen=chosen, more=len(ids) - len(chosen), ids=",".join(map(str, ids)))

    @expose("/<int:account_id>/password", methods=["GET", "POST"])
    @has_access
    @permission_name("set_password")
    def password(self, account_id: int):
        account = self._account(account_id)
        form = forms.PasswordForm()
        refused = None
        title, button = _l("Cabinet password"), _l("Change password")
        if form.validate_on_submit():
            password, generated = _typed_or_new(form)
            done, refused = self._run(
                form, lambda conn: credentials.set_cabinet_password(conn, account_id, password),
                str(_l("The cabinet password is changed.")), self._back(account_id),
                ("password", "accounts", account_id, {"password_hash": "changed"}))
            if done and generated:
                return self._generated(account, title, button, generated,
                                       self._back(account_id))
            if done:
                return done
        return self._page(account, form, title, button, refused, self._back(account_id))

    def _generated(self, account, title, button, password: str, back: str):
        """The generated password, shown on this one answer (never flashed into the
        session cookie, never cached) for the operator to hand over."""
        page = self._page(account, forms.PasswordForm(formdata=None), title, button, None,
                          back, note=_l("The new password is %(password)s. Give it to the "
                                        "subscriber: it is not shown again.",
                                        password=password))
        response = make_response(page)
        response.headers["Cache-Control"] = "no-store"
        return response

    @expose("/subaccount/<int:subaccount_id>/password", methods=["GET", "POST"])
    @has_access
    @permission_name("set_password")
    def network_password(self, subaccount_id: int):
        sub = self._db().execute(_SUBACCOUNT, {"id": subaccount_id}).mappings().first()
        if sub is None:
            abort(404)
        account = self._account(sub["account_id"])
        form = forms.PasswordForm()
        refused = None
        back = url_for("SubaccountView.show", pk=subaccount_id)
        title = _l("Network password of %(login)s", login=sub["username"] or "")
        if form.validate_on_submit():
            settings = current_app.config["EBS_SETTINGS"]
            key = credentials.optional_key(settings.CREDENTIALS_KEY,
                                           settings.CREDENTIALS_KEY_FILE)
            password, generated = _typed_or_new(form)
            done, refused = self._run(
                form, lambda conn: credentials.set_network_password(
                    conn, subaccount_id, password, key=key),
                str(_l("The network password of %(login)s is changed.",
                       login=sub["username"] or "") if key is not None else
                    _l("The network password of %(login)s is changed; CHAP will not work "
                       "for it: this server has no credentials key.",
                       login=sub["username"] or "")), back,
                ("password", "subaccounts", subaccount_id,
                 {"nt_password_hash": "changed"}))
            if done and generated:
                return self._generated(account, title, _l("Change password"), generated, back)
            if done:
                return done
        return self._page(account, form, title, _l("Change password"), refused, back)

    @expose("/<int:account_id>/promise", methods=["GET", "POST"])
    @has_access
    @permission_name("promise")
    def promised_payment(self, account_id: int):
        account = self._account(account_id)
        form = forms.PromiseForm()
        refused = None
        if form.validate_on_submit():
            done, refused = self._run(
                form, lambda conn: promise.take_promise(
                    conn, account_id, form.amount.data, staff_user_id=g.user.id),
                str(_l("The promised payment is given.")), self._back(account_id),
                ("promise", "accounts", account_id, {"amount": form.amount.data}))
            if done:
                return done
        return self._page(account, form, _l("Promised payment"), _l("Give"), refused,
                          self._back(account_id),
                          note=_l("By the promised-payment settings of the account's "
                                  "tariff (or the global ones)."))
