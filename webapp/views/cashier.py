"""The cashier's desk: find a subscriber, post a payment, print the receipt.

The search is one statement whose every branch an index serves (contract, login and phone
by equality; name and street by a ``lower(...) text_pattern_ops`` prefix), so it stays
fast at 500,000 accounts. Payments and corrections go through ``billing.ledger.post``
with the form's nonce as the idempotency key and the operator recorded.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from flask import abort, flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from flask_babel import lazy_gettext as _l
from sqlalchemy import text

from billing import ledger
from webapp.forms import CorrectionForm, PaymentForm, SearchForm
from webapp.views.base import like_prefix
from webapp.views.ledger import kind_label, raw_connection

SEARCH_LIMIT = 50

_SEARCH = text(
    """
    SELECT id, contract, login, full_name, phone, street, house, flat, status, balance
      FROM accounts
     WHERE contract = :q OR login = :q OR (phone <> '' AND phone = :q)
        OR lower(full_name) LIKE :prefix ESCAPE '\\'
        OR lower(street) LIKE :prefix ESCAPE '\\'
     ORDER BY contract
     LIMIT :limit
    """
)
_ACCOUNT = text(
    "SELECT id, contract, login, full_name, phone, city, street, house, flat, status, "
    "balance, credit FROM accounts WHERE id = :id"
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
_RECEIPT = text(
    """
    SELECT e.id, e.effective_at, e.kind, e.amount, e.description, e.reverses_id,
           a.contract, a.full_name, a.street, a.house, a.flat, a.balance,
           u.username, u.first_name, u.last_name
      FROM ledger_entries e
      JOIN accounts a ON a.id = e.account_id
      LEFT JOIN ab_user u ON u.id = e.staff_user_id
     WHERE e.id = :id
    """
)


class CashierView(BaseView):
    route_base = "/cashier"
    default_view = "search"
    role_grants = {
        "Cashier": ("can_search", "can_pay", "can_receipt"),
        "ReadOnly": ("can_search", "can_receipt"),
    }

    def _db(self):
        return self.appbuilder.session

    @expose("/")
    @has_access
    @permission_name("search")
    def search(self):
        form = SearchForm(request.args)
        q = (form.q.data or "").strip()
        rows = []
        if q:
            rows = self._db().execute(
                _SEARCH, {"q": q, "prefix": like_prefix(q), "limit": SEARCH_LIMIT}
            ).mappings().all()
            if len(rows) == 1:
                return redirect(url_for(".account", account_id=rows[0]["id"]))
        return self.render_template("cashier/search.html", form=form, q=q, rows=rows,
                                    limit=SEARCH_LIMIT)

    def _account_page(self, account_id: int, form=None, correction=None):
        account = self._db().execute(_ACCOUNT, {"id": account_id}).mappings().first()
        if account is None:
            abort(404)
        entries = self._db().execute(_RECENT, {"id": account_id}).mappings().all()
        can_correct = self.appbuilder.sm.has_access("can_correct", self.class_permission_name)
        return self.render_template(
            "cashier/account.html", account=account, entries=entries, kind_label=kind_label,
            form=form or PaymentForm().fresh(),
            correction=(correction or CorrectionForm().fresh()) if can_correct else None,
        )

    @expose("/account/<int:account_id>")
    @has_access
    @permission_name("search")
    def account(self, account_id: int):
        return self._account_page(account_id)

    def _post(self, account_id: int, form, kind: str, default_text: str):
        if not form.validate_on_submit():
            return None
        entry = ledger.Entry(
            account_id=account_id,
            kind=kind,
            amount=Decimal(form.amount.data),
            idempotency_key=f"web:{kind}:{form.nonce.data}",
            effective_at=datetime.now(UTC),
            staff_user_id=g.user.id,
            description=form.description.data or default_text,
            details={"source": "cashier"},
        )
        try:
            posted = ledger.post(raw_connection(self._db()), entry)
        except ledger.LedgerError as exc:
            self._db().rollback()
            form.amount.errors = [*form.amount.errors, str(exc)]
            return None
        self._db().commit()
        if posted.created:
            flash(str(_l("Posted %(amount)s to the balance.", amount=posted.amount)),
                  "success")
        return redirect(url_for(".receipt", entry_id=posted.id))

    @expose("/account/<int:account_id>/pay", methods=["POST"])
    @has_access
    @permission_name("pay")
    def pay(self, account_id: int):
        form = PaymentForm()
        done = self._post(account_id, form, "payment", str(_l("Payment at the cashier's desk")))
        return done or self._account_page(account_id, form=form)

    @expose("/account/<int:account_id>/correct", methods=["POST"])
    @has_access
    @permission_name("correct")
    def correct(self, account_id: int):
        form = CorrectionForm()
        done = self._post(account_id, form, "correction", "")
        return done or self._account_page(account_id, correction=form)

    @expose("/receipt/<int:entry_id>")
    @has_access
    @permission_name("receipt")
    def receipt(self, entry_id: int):
        row = self._db().execute(_RECEIPT, {"id": entry_id}).mappings().first()
        if row is None:
            abort(404)
        return self.render_template("cashier/receipt.html", r=row, kind_label=kind_label)
