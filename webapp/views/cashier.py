"""The cashier's desk: find a subscriber, post a payment, print the receipt, change the
subscriber's tariff by the matrix, and see one's own shift report.

The search is ``billing.account_search``, the admin list's rule too: one LIMITed
statement whose every branch an index serves (a phone by its digits, contract or login by
prefix, name and address by any part of three characters or more), so it stays fast at
500,000 accounts. Payments and corrections go through ``billing.payments`` with
the form's nonce as the source's unique id and the operator recorded, a sum above
``PAYMENT_CONFIRM_ABOVE`` only once the operator confirms it (``payment_confirmation``);
a tariff change
goes through ``billing.tariff_change.change_tariff`` (the cabinet's entry point too); an
express card is activated by ``webapp.views.cashier_cards`` from the form on this page.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import abort, current_app, flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from flask_babel import lazy_gettext as _l
from sqlalchemy import text

from billing import payments, receipts
from billing.account_search import MIN_SUBSTRING, find_accounts
from billing.tariff_change import TariffChangeError, change_tariff
from webapp import localtime
from webapp.forms import CorrectionForm, PaymentForm, SearchForm
from webapp.numbers import format_amount
from webapp.views import cashier_tariff
from webapp.views import payment_confirmation as confirmation
from webapp.views.cashier_cards import CardActivationForm
from webapp.views.cashier_shift import shift_day, shift_report
from webapp.views.ledger import kind_label, raw_connection
from webapp.views.tariff_in_force import account_with_tariff

SEARCH_LIMIT = 50

_ACCOUNT = text(
    """
    SELECT a.id, a.contract, a.login, a.full_name, a.phone, a.city, a.street, a.house, a.flat,
           a.status, a.balance, a.credit
      FROM accounts a
     WHERE a.id = :id
    """
)
_RECENT = text(
    """
    SELECT e.id, e.effective_at, e.kind, e.amount, e.description, u.username
      FROM ledger_entries e LEFT JOIN ab_user u ON u.id = e.staff_user_id
     WHERE e.account_id = :id
     ORDER BY e.effective_at DESC, e.id DESC
     LIMIT 20
    """
)
_STAFF = text("SELECT id, username, first_name, last_name FROM ab_user WHERE id = :id")


class CashierView(BaseView):
    route_base = "/cashier"
    default_view = "search"
    role_grants = {
        "Cashier": ("can_search", "can_pay", "can_receipt", "can_change_tariff", "can_shift"),
        "ReadOnly": ("can_search", "can_receipt"),
    }

    def _db(self):
        return self.appbuilder.session

    @staticmethod
    def _tz() -> ZoneInfo:
        return ZoneInfo(current_app.config["EBS_SETTINGS"].TIME_ZONE)

    @expose("/")
    @has_access
    @permission_name("search")
    def search(self):
        form = SearchForm(request.args)
        q = (form.q.data or "").strip()
        rows = []
        if q:
            rows = find_accounts(raw_connection(self._db()), q, SEARCH_LIMIT)
            if len(rows) == 1:
                return redirect(url_for(".account", account_id=rows[0]["id"]))
        return self.render_template("cashier/search.html", form=form, q=q, rows=rows,
                                    limit=SEARCH_LIMIT, min_substring=MIN_SUBSTRING)

    def _account_page(self, account_id: int, form=None, correction=None):
        account = account_with_tariff(self._db(), _ACCOUNT, account_id)
        if account is None:
            abort(404)
        entries = self._db().execute(_RECENT, {"id": account_id}).mappings().all()
        can_correct = self.appbuilder.sm.has_access("can_correct", self.class_permission_name)
        can_change = self.appbuilder.sm.has_access("can_change_tariff",
                                                   self.class_permission_name)
        can_card = self.appbuilder.sm.has_access("can_activate", "CashierCardView")
        return self.render_template(
            "cashier/account.html", account=account, entries=entries, kind_label=kind_label,
            can_change_tariff=can_change, currency=current_app.config["EBS_SETTINGS"].CURRENCY,
            form=form or PaymentForm().fresh(),
            correction=(correction or CorrectionForm().fresh()) if can_correct else None,
            card_form=CardActivationForm(formdata=None) if can_card else None,
        )

    @expose("/account/<int:account_id>")
    @has_access
    @permission_name("search")
    def account(self, account_id: int):
        return self._account_page(account_id)

    def _post(self, account_id: int, form, post, kind: str, default_text: str):
        posted = confirmation.post_from_form(self._db(), account_id, form, post, kind,
                                             default_text)
        return posted and redirect(url_for(".receipt", entry_id=posted.id))

    @expose("/account/<int:account_id>/pay", methods=["POST"])
    @has_access
    @permission_name("pay")
    def pay(self, account_id: int):
        form = PaymentForm()
        done = self._post(account_id, form, payments.post_payment, "payment",
                          str(_l("Payment at the cashier's desk")))
        return done or self._account_page(account_id, form=form)

    @expose("/account/<int:account_id>/correct", methods=["POST"])
    @has_access
    @permission_name("correct")
    def correct(self, account_id: int):
        form = CorrectionForm()
        done = self._post(account_id, form, payments.post_correction, "correction", "")
        return done or self._account_page(account_id, correction=form)

    @expose("/receipt/<int:entry_id>")
    @has_access
    @permission_name("receipt")
    def receipt(self, entry_id: int):
        """The receipt as first printed: its balance is the one right after the entry
        (billing.receipts), so a reprint after later postings shows the same figures."""
        row = receipts.receipt(raw_connection(self._db()), entry_id)
        if row is None:
            abort(404)
        settings = current_app.config["EBS_SETTINGS"]
        return self.render_template(
            "cashier/receipt.html", r=row, kind_label=kind_label, moment=self._moment,
            currency=settings.CURRENCY, isp_name=settings.ISP_NAME,
            isp_details=str(settings.ISP_DETAILS).splitlines())

    def _moment(self, at) -> str:
        """A moment on the ISP's wall clock (TIME_ZONE), to the second."""
        return localtime.format_stamp(at, self._tz())

    @expose("/account/<int:account_id>/tariff", methods=["GET", "POST"])
    @has_access
    @permission_name("change_tariff")
    def tariff(self, account_id: int):
        """The matrix's choices for the account; a POST changes (or schedules) by it."""
        db = self._db()
        account = account_with_tariff(db, cashier_tariff.ACCOUNT_WITH_CHANGE, account_id)
        if account is None:
            abort(404)
        options = db.execute(cashier_tariff.OPTIONS, {"current": account["tariff_id"]}
                             ).mappings().all()
        form = cashier_tariff.TariffChangeForm()
        form.to_tariff.choices = [(o["id"], cashier_tariff.option_label(o)) for o in options]
        refused = None
        if account["tariff_id"] is None:
            refused = cashier_tariff.refusal(
                TariffChangeError("no_tariff", ""), account, None)
        elif form.validate_on_submit():
            rule = next((o for o in options if o["id"] == form.to_tariff.data), None)
            try:
                done = change_tariff(raw_connection(db), account_id, form.to_tariff.data,
                                     tz=self._tz(), staff_user_id=g.user.id)
            except TariffChangeError as exc:
                db.rollback()
                refused = cashier_tariff.refusal(exc, account, rule)
            else:
                return self._changed(account_id, done, rule["name"] if rule else "")
        return self.render_template("cashier/tariff.html", account=account, form=form,
                                    options=options, refused=refused)

    def _changed(self, account_id: int, done, tariff_name: str):
        db = self._db()
        # Live sessions get the new tariff's speed from the next ebs.enforce_access run,
        # which compares what each was given with what is due (billing.enforcement).
        db.commit()
        if done.applied:
            flash(str(_l("The tariff is now %(tariff)s; charged %(cost)s.",
                         tariff=tariff_name, cost=format_amount(done.cost))), "success")
        else:
            flash(str(_l("The change to %(tariff)s is scheduled for %(when)s.",
                         tariff=tariff_name,
                         when=localtime.format_minute(done.effective_at))), "success")
        return redirect(url_for(".account", account_id=account_id))

    def _shift_page(self, staff):
        day = shift_day(request.args.get("day"), self._tz())
        report = shift_report(self._db(), staff["id"], day, self._tz())
        return self.render_template("cashier/shift.html", report=report, staff=staff)

    @expose("/shift")
    @has_access
    @permission_name("shift")
    def shift(self):
        """The signed-in operator's own shift: there is no way to name another here."""
        user = g.user
        return self._shift_page({"id": user.id, "username": user.username,
                                 "first_name": user.first_name, "last_name": user.last_name})

    @expose("/shift/<int:staff_id>")
    @has_access
    @permission_name("shift_all")
    def shift_of(self, staff_id: int):
        """Any operator's shift; granted to no role but Admin."""
        staff = self._db().execute(_STAFF, {"id": staff_id}).mappings().first()
        if staff is None:
            abort(404)
        return self._shift_page(staff)
