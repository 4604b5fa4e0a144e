"""The cabinet's Pay page: paying online through the "frontend" gateways.

Wallet One and LiqPay take the payer on their own pages, so the cabinet opens the order
through the backend's ``form()`` (a pending ``gateway_payments`` row) and shows the
signed form the subscriber's browser posts to the provider; the provider's notification
to ``webapp/gateway_callbacks.py`` credits the order, once. The provider then sends the
subscriber back to the order's page, which reads the order's state from our database
only: a return URL proves nothing about money. A QIWI invoice is issued to the
subscriber's QIWI Wallet by ``billing.gateways.qiwi_invoices.issue()`` and credited by
its poll.

Only backends of TYPE ``frontend`` in GETPAID_BACKENDS are offered, each with its own
MIN_SUM/MAX_SUM. A form is posted once: its nonce, remembered in the session with the
order it opened, turns a repeated POST into the first order's page instead of a second
order.
"""

from __future__ import annotations

import logging
import uuid
from decimal import Decimal
from urllib.parse import urlsplit

from flask import (
    abort,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import text
from wtforms import HiddenField, RadioField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError

from billing import settings as settings_mod
from billing.db import connect
from billing.errors import Refused
from billing.gateways import liqpay, qiwi_invoices, w1ru
from billing.gateways.base import (
    BackendConfig,
    GatewayConfigError,
    PaymentForm,
    amount_limits,
    backend_config,
)
from webapp.cabinet.blueprint import bp, menu_entry
from webapp.cabinet.sessions import login_required
from webapp.extensions import db
from webapp.headers import page_policy
from webapp.money_field import MoneyField
from webapp.numbers import format_money
from webapp.validators import NonNegativeMoney
from webapp.views.ledger import raw_connection

log = logging.getLogger(__name__)

# The backends whose payer leaves for the provider's page with a signed form.
CHECKOUTS = {w1ru.NAME: ("Wallet One", w1ru), liqpay.NAME: ("LiqPay", liqpay)}
QIWI = qiwi_invoices.NAME
NAMES = {**{name: label for name, (label, _) in CHECKOUTS.items()}, QIWI: "QIWI"}
STATES = {"pending": _l("Waiting for the provider's confirmation"), "paid": _l("Paid"),
          "cancelled": _l("Not paid")}
DONE_KEY = "cabinet_pay_done"  # form nonce → the order it opened, the last few
DONE_KEPT = 5
RECENT = 10

_ORDER = text(
    """
    SELECT p.id, p.backend, p.provider_txn_id, p.amount, p.currency, p.state,
           p.created_at, p.details->>'phone' AS phone,
           (SELECT max(c.at) FROM gateway_payment_changes c
             WHERE c.payment_id = p.id AND c.to_state = 'paid') AS paid_at
      FROM gateway_payments p
     WHERE p.id = :id AND p.account_id = :account
    """
)
_RECENT = text(
    """
    SELECT id, backend, amount, currency, state, created_at
      FROM gateway_payments
     WHERE account_id = :account AND backend = ANY(:backends)
     ORDER BY created_at DESC, id DESC
     LIMIT :limit
    """
)
_PHONE = text("SELECT phone FROM accounts WHERE id = :id")

menu_entry(50, "pay", "Pay")
STALE = _l("The form is out of date: check it and send it again.")


def _above_zero(form, field) -> None:
    if field.data is not None and field.data == 0:
        raise ValidationError(_l("The amount must be above zero."))


def _amount_field(element_id: str) -> MoneyField:
    return MoneyField(_l("Amount"), id=element_id, validators=[
        InputRequired(message=_l("Enter the amount.")), NonNegativeMoney(), _above_zero])


class CheckoutForm(FlaskForm):
    backend = RadioField(_l("Pay through"),
                         validators=[DataRequired(message=_l("Choose how to pay."))])
    amount = _amount_field("cabinet-pay-amount")
    nonce = HiddenField(validators=[DataRequired(message=STALE)])


class QiwiInvoiceForm(FlaskForm):
    phone = StringField(_l("QIWI Wallet phone"), id="cabinet-qiwi-phone", validators=[
        DataRequired(message=_l("Enter the phone of your QIWI Wallet.")), Length(max=40)])
    amount = _amount_field("cabinet-qiwi-amount")
    nonce = HiddenField(validators=[DataRequired(message=STALE)])


def frontend_backends() -> dict[str, BackendConfig]:
    """The enabled backends of TYPE frontend the cabinet can offer, by name. One the
    operator set up wrongly is left out (and logged), not shown broken."""
    settings = current_app.config["EBS_SETTINGS"]
    found = {}
    for name in NAMES:
        if name not in settings.GETPAID_BACKENDS:
            continue
        try:
            config = backend_config(name, settings)
        except GatewayConfigError as exc:
            log.error("cabinet pay page: %s left out: %s", name, exc)
            continue
        if config.type == "frontend":
            found[name] = config
    return found


def _limits(config: BackendConfig) -> tuple[str | None, str | None]:
    low, high = amount_limits(config)
    return (format_money(low) if low is not None else None,
            format_money(high) if high is not None else None)


# A refusal of the amount, under the amount field; any other under the form.
_AMOUNT_REFUSALS = {
    "amount_too_small": _l("At least %(low)s."),
    "amount_too_large": _l("At most %(high)s."),
    "bad_amount": _l("The amount must be above zero."),
}
UNAVAILABLE = _l("This way of paying is not available now.")
BAD_PHONE = _l("A QIWI Wallet is a Russian mobile number: +7 and ten digits.")


def _show_refusal(form, exc: Refused, config: BackendConfig) -> str | None:
    """Put ``exc`` under its field; the words for the whole form when it has none."""
    low, high = _limits(config)
    if exc.code in _AMOUNT_REFUSALS:
        form.amount.errors = [str(_AMOUNT_REFUSALS[exc.code] % {"low": low, "high": high})]
        return None
    if exc.code == "bad_phone" and isinstance(form, QiwiInvoiceForm):
        form.phone.errors = [str(BAD_PHONE)]
        return None
    log.warning("cabinet pay refused: %s", exc)
    if exc.code in ("bad_currency", "no_account"):
        return str(UNAVAILABLE)
    return str(_l("The payment cannot be made: %(why)s", why=exc))


def _done(nonce: str) -> int | None:
    return dict(session.get(DONE_KEY) or []).get(nonce)


def _remember(nonce: str, order_id: int) -> None:
    kept = [pair for pair in session.get(DONE_KEY) or [] if pair[0] != nonce]
    session[DONE_KEY] = [*kept, (nonce, order_id)][-DONE_KEPT:]


def _fresh(form):
    form.nonce.data = uuid.uuid4().hex
    return form


def _keep_nonce(form):
    """A refused form keeps its nonce (nothing was done with it); one without is new."""
    return form if form.nonce.data else _fresh(form)


def _order_url(payment) -> str:
    return url_for("cabinet.pay_order", order_id=payment.id, _external=True)


def _checkout(name: str, account_id: int, amount: Decimal,
              config: BackendConfig) -> PaymentForm:
    """The provider's signed form for a new order; the provider returns the payer to the
    order's page, whatever the outcome."""
    module = CHECKOUTS[name][1]
    return module.form(raw_connection(db.session), account_id, amount, config,
                       success_url=_order_url, fail_url=_order_url,
                       server_url=url_for("gateways." + name.replace(".", "_"),
                                          _external=True))


def _origin(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise GatewayConfigError(f"GATEWAY_URL must be an http(s) URL, got {url!r}")
    return f"{parts.scheme}://{parts.netloc}"


def _provider_page(signed: PaymentForm, name: str, origin: str):
    """The signed form, whose page may post to the provider's origin and no other."""
    response = make_response(render_template(
        "cabinet/pay_checkout.html", signed=signed, provider=NAMES[name],
        order_id=signed.payment_id))
    response.headers["Content-Security-Policy"] = page_policy(origin)
    return response


def _forms(subscriber, backends, posted: str | None = None):
    """The page's forms: the one ``posted`` reads the request; the others are fresh."""
    checkout = qiwi = None
    if set(backends) & set(CHECKOUTS):
        checkout = CheckoutForm(**({} if posted == "checkout" else {"formdata": None}))
        checkout.backend.choices = [(name, NAMES[name]) for name in backends
                                    if name in CHECKOUTS]
        if posted != "checkout":
            _fresh(checkout).backend.data = checkout.backend.choices[0][0]
    if QIWI in backends:
        qiwi = QiwiInvoiceForm(**({} if posted == "qiwi" else {"formdata": None}))
        if posted != "qiwi":
            _fresh(qiwi).phone.data = db.session.execute(
                _PHONE, {"id": subscriber.id}).scalar()
    return checkout, qiwi


def _page(subscriber, backends, checkout, qiwi, refused=None, qiwi_refused=None):
    recent = db.session.execute(_RECENT, {"account": subscriber.id, "backends": list(NAMES),
                                          "limit": RECENT}).mappings().all()
    return render_template(
        "cabinet/pay.html", checkout=checkout, qiwi=qiwi, refused=refused,
        qiwi_refused=qiwi_refused, names=NAMES, states=STATES, recent=recent,
        qiwi_backend=QIWI,
        limits={name: _limits(config) for name, config in backends.items()})


@bp.route("/pay", methods=["GET", "POST"])
@login_required
def pay(subscriber):
    backends = frontend_backends()
    if request.method == "GET":
        return _page(subscriber, backends, *_forms(subscriber, backends))
    checkout, qiwi = _forms(subscriber, backends, posted="checkout")
    if checkout is None:
        abort(404)
    if not checkout.validate_on_submit():
        return _page(subscriber, backends, _keep_nonce(checkout), qiwi)
    done = _done(checkout.nonce.data)
    if done is not None:
        return redirect(url_for("cabinet.pay_order", order_id=done), code=303)
    name, config = checkout.backend.data, backends[checkout.backend.data]
    try:
        signed = _checkout(name, subscriber.id, checkout.amount.data, config)
        origin = _origin(signed.action_url)
    except Refused as exc:
        db.session.rollback()
        return _page(subscriber, backends, checkout, qiwi,
                     refused=_show_refusal(checkout, exc, config))
    except GatewayConfigError as exc:
        db.session.rollback()
        log.error("cabinet pay page: %s cannot sign a form: %s", name, exc)
        return _page(subscriber, backends, checkout, qiwi, refused=str(UNAVAILABLE))
    db.session.commit()
    _remember(checkout.nonce.data, signed.payment_id)
    log.info("cabinet pay: account %s opened %s order %s for %s", subscriber.id, name,
             signed.payment_id, checkout.amount.data)
    return _provider_page(signed, name, origin)


@bp.route("/pay/qiwi", methods=["POST"])
@login_required
def pay_qiwi(subscriber):
    backends = frontend_backends()
    checkout, qiwi = _forms(subscriber, backends, posted="qiwi")
    if qiwi is None:
        abort(404)
    if not qiwi.validate_on_submit():
        return _page(subscriber, backends, checkout, _keep_nonce(qiwi))
    done = _done(qiwi.nonce.data)
    if done is not None:
        return redirect(url_for("cabinet.pay_order", order_id=done), code=303)
    config = backends[QIWI]
    db.session.commit()  # only reads so far: none held open while QIWI is asked
    try:
        issued = _issue(subscriber.id, qiwi.phone.data, qiwi.amount.data, config)
    except Refused as exc:
        return _page(subscriber, backends, checkout, qiwi,
                     qiwi_refused=_show_refusal(qiwi, exc, config))
    except GatewayConfigError as exc:
        log.error("cabinet pay page: QIWI invoices cannot be issued: %s", exc)
        return _page(subscriber, backends, checkout, qiwi, qiwi_refused=str(UNAVAILABLE))
    _remember(qiwi.nonce.data, issued.payment.id)
    if issued.outcome == "refused":
        return _page(subscriber, backends, checkout, _fresh(qiwi), qiwi_refused=str(
            _l("QIWI refused the invoice: %(why)s", why=issued.message)))
    return redirect(url_for("cabinet.pay_order", order_id=issued.payment.id), code=303)


def _issue(account_id: int, phone: str, amount: Decimal, config: BackendConfig):
    """QIWI's invoice, on a connection of its own: ``issue`` commits the invoice before
    it asks QIWI, outside any transaction of the page's session."""
    settings = current_app.config["EBS_SETTINGS"]
    with connect(settings_mod.database_conninfo(settings, component="web"),
                 autocommit=True) as conn:
        return qiwi_invoices.issue(conn, account_id, phone, amount, config)


@bp.route("/pay/orders/<int:order_id>", methods=["GET", "POST"])
@login_required
def pay_order(subscriber, order_id: int):
    """Where a provider returns the payer (LiqPay may POST its result here: nothing of
    it is read, the page only shows the order as our database has it)."""
    order = db.session.execute(_ORDER, {"id": order_id, "account": subscriber.id}
                               ).mappings().first()
    if order is None:
        abort(404)
    return render_template("cabinet/pay_order.html", order=order, names=NAMES,
                           states=STATES, qiwi=QIWI)


# LiqPay's POST to the order's page has no token of ours; each app has its own CSRFProtect.
bp.record_once(lambda state: state.app.extensions["csrf"].exempt(pay_order))
