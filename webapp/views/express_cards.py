"""Express cards in the admin: series (make, enable or disable, export the PINs once as CSV
or a print-ready sheet, sell to a dealer with a printable invoice) and the dealers.

Every rule is ``billing.express_cards``'; these pages translate forms into its calls and
its refusals into the operator's words (``webapp.card_refusals``). The export's answer is
the only place a PIN is ever shown: it is sent with ``Cache-Control: no-store`` and is
not kept anywhere, so a lost sheet means a new series.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, time, timedelta

from flask import abort, current_app, flash, g, make_response, redirect, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.fieldwidgets import BS3TextFieldWidget, Select2Widget
from flask_appbuilder.forms import DynamicForm
from flask_appbuilder.security.decorators import permission_name
from flask_babel import lazy_gettext as _l
from sqlalchemy import text
from wtforms import DateField, IntegerField, RadioField, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange

from billing import express_cards
from billing.express_cards import CardRefused
from webapp import audit, localtime
from webapp.card_refusals import NO_KEY, text_of
from webapp.credential_checks import host_key
from webapp.decimal_field import DecimalTextField
from webapp.models.express_cards import CardDealer, CardSale
from webapp.money_field import MoneyField
from webapp.numbers import format_decimal_text
from webapp.validators import NonNegativeMoney
from webapp.views.base import READ, AdminOnlyModelView, BoundedInterface
from webapp.views.ledger import raw_connection

_SERIES_LIST = text(
    """
    SELECT s.id, s.name, s.nominal, s.card_count, s.valid_until, s.enabled, s.exported_at,
           s.created_at,
           (SELECT count(*) FROM express_cards c
             WHERE c.series_id = s.id AND c.sale_id IS NULL) AS unsold
      FROM card_series s
     ORDER BY s.id DESC
     LIMIT 200
    """
)
_SERIES = text(
    """
    SELECT s.id, s.name, s.nominal, s.card_count, s.pin_length, s.pin_alphabet,
           s.valid_until, s.enabled, s.exported_at, s.created_at, s.comment,
           u.username AS exported_by,
           count(c.sale_id) AS sold, count(c.activated_at) AS activated,
           coalesce(sum(s.nominal) FILTER (WHERE c.activated_at IS NOT NULL), 0)
               AS activated_sum
      FROM card_series s
      JOIN express_cards c ON c.series_id = s.id
      LEFT JOIN ab_user u ON u.id = s.exported_by
     WHERE s.id = :id
     GROUP BY s.id, u.username
    """
)
_SALES = text(
    """
    SELECT sa.id, sa.sold_at, d.name AS dealer, sa.card_count, sa.discount_percent,
           sa.total, sa.first_number, sa.last_number
      FROM card_sales sa JOIN card_dealers d ON d.id = sa.dealer_id
     WHERE sa.series_id = :id
     ORDER BY sa.id
    """
)
_INVOICE = text(
    """
    SELECT sa.id, sa.sold_at, sa.card_count, sa.nominal, sa.discount_percent, sa.total,
           sa.first_number, sa.last_number, d.name AS dealer, d.contact,
           s.id AS series_id, s.name AS series, s.valid_until,
           u.first_name, u.last_name, u.username
      FROM card_sales sa
      JOIN card_dealers d ON d.id = sa.dealer_id
      JOIN card_series s ON s.id = sa.series_id
      LEFT JOIN ab_user u ON u.id = sa.staff_user_id
     WHERE sa.id = :id
    """
)
_DEALERS = text("SELECT id, name, discount_percent FROM card_dealers ORDER BY name")


class SeriesForm(DynamicForm):
    name = StringField(_l("Name"), widget=BS3TextFieldWidget(),
                       validators=[DataRequired(message=_l("Name the series.")),
                                   Length(max=200)])
    count = IntegerField(_l("Cards"), widget=BS3TextFieldWidget(),
                         validators=[InputRequired(message=_l("How many cards?")),
                                     NumberRange(1, express_cards.MAX_CARDS)])
    nominal = MoneyField(_l("Nominal"),
                         validators=[InputRequired(message=_l("Enter the amount.")),
                                     NonNegativeMoney()])
    valid_through = DateField(_l("Valid through"), widget=BS3TextFieldWidget(),
                              render_kw={"type": "date"},
                              validators=[InputRequired(message=_l("Enter the last day."))],
                              description=_l("The last day a card of the series can be "
                                             "activated, on the ISP's clock."))
    pin_length = IntegerField(_l("PIN length"), widget=BS3TextFieldWidget(),
                              default=express_cards.DEFAULT_PIN_LENGTH,
                              validators=[InputRequired(), NumberRange(6, 32)])
    pin_alphabet = StringField(_l("PIN characters"), widget=BS3TextFieldWidget(),
                               default=express_cards.DIGITS,
                               validators=[DataRequired(), Length(min=2, max=100)],
                               description=_l("Each character a PIN may hold, once."))
    comment = StringField(_l("Comment"), widget=BS3TextFieldWidget(),
                          validators=[Length(max=500)])


class SaleForm(DynamicForm):
    dealer = SelectField(_l("Dealer"), coerce=int, widget=Select2Widget(),
                         validators=[InputRequired(message=_l("Choose the dealer."))])
    count = IntegerField(_l("Cards"), widget=BS3TextFieldWidget(),
                         validators=[InputRequired(message=_l("How many cards?")),
                                     NumberRange(1, express_cards.MAX_CARDS)])


class ExportForm(DynamicForm):
    format = RadioField(_l("Format"), default="html",
                        choices=[("html", _l("Sheet to print")), ("csv", _l("CSV file"))])


class EnableForm(DynamicForm):
    """A button: the CSRF token is all it carries."""


def _end_of(day, tz) -> datetime:
    """The instant a card valid through ``day`` (on the ISP's clock) stops being so."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)


class ExpressCardSeriesView(BaseView):
    route_base = "/express-cards"
    default_view = "list"
    role_grants = {"ReadOnly": ("can_list", "can_show", "can_invoice")}

    def _db(self):
        return self.appbuilder.session

    def _conn(self):
        return raw_connection(self._db())

    @expose("/")
    @has_access
    @permission_name("list")
    def list(self):
        rows = self._db().execute(_SERIES_LIST).mappings().all()
        return self.render_template("express_cards/series_list.html", rows=rows)

    @expose("/new", methods=["GET", "POST"])
    @has_access
    @permission_name("add")
    def new(self):
        form = SeriesForm()
        refused = None
        if form.validate_on_submit():
            key = host_key()
            if key is None:
                refused = str(NO_KEY)
            else:
                try:
                    series = express_cards.create_series(
                        self._conn(), name=form.name.data.strip(), count=form.count.data,
                        nominal=form.nominal.data,
                        valid_until=_end_of(form.valid_through.data, localtime.zone()),
                        key=key, pin_length=form.pin_length.data,
                        pin_alphabet=form.pin_alphabet.data.strip(),
                        staff_user_id=g.user.id, comment=form.comment.data or "",
                        maximum=current_app.config["EBS_SETTINGS"].PAYMENT_MAX_AMOUNT)
                except CardRefused as exc:
                    self._db().rollback()
                    refused = text_of(exc)
                else:
                    audit.record_action(self._db(), "add", "card_series", series.id,
                                        {"name": series.name, "nominal": series.nominal,
                                         "card_count": series.card_count})
                    self._db().commit()
                    flash(str(_l("Series %(name)s of %(count)d cards is made.",
                                 name=series.name, count=series.card_count)), "success")
                    return redirect(url_for(".show", series_id=series.id))
        return self.render_template("express_cards/series_new.html", form=form,
                                    refused=refused)

    def _series_page(self, series_id: int, sale_form=None, refused=None):
        row = self._db().execute(_SERIES, {"id": series_id}).mappings().first()
        if row is None:
            abort(404)
        sales = self._db().execute(_SALES, {"id": series_id}).mappings().all()
        sale_form = sale_form or SaleForm(formdata=None)
        sale_form.dealer.choices = self._dealer_choices()
        can = self.appbuilder.sm.has_access
        return self.render_template(
            "express_cards/series.html", s=row, sales=sales, sale_form=sale_form,
            export_form=ExportForm(formdata=None), enable_form=EnableForm(formdata=None),
            refused=refused, can_edit=can("can_edit", self.class_permission_name),
            can_export=can("can_export", self.class_permission_name),
            can_sell=can("can_sell", self.class_permission_name),
            percent=format_decimal_text)

    def _dealer_choices(self):
        return [(d["id"], f"{d['name']} (−{format_decimal_text(d['discount_percent'])}%)")
                for d in self._db().execute(_DEALERS).mappings()]

    @expose("/<int:series_id>")
    @has_access
    @permission_name("show")
    def show(self, series_id: int):
        return self._series_page(series_id)

    @expose("/<int:series_id>/enabled/<int:on>", methods=["POST"])
    @has_access
    @permission_name("edit")
    def set_enabled(self, series_id: int, on: int):
        if not EnableForm().validate_on_submit():
            abort(400)
        try:
            express_cards.set_enabled(self._conn(), series_id, bool(on))
        except CardRefused:
            self._db().rollback()
            abort(404)
        audit.record_action(self._db(), "status", "card_series", series_id,
                            {"enabled": bool(on)})
        self._db().commit()
        flash(str(_l("The series is enabled.") if on else _l("The series is disabled.")),
              "success")
        return redirect(url_for(".show", series_id=series_id))

    @expose("/<int:series_id>/sell", methods=["POST"])
    @has_access
    @permission_name("sell")
    def sell(self, series_id: int):
        form = SaleForm()
        form.dealer.choices = self._dealer_choices()
        if not form.validate_on_submit():
            return self._series_page(series_id, sale_form=form)
        try:
            sale = express_cards.sell_to_dealer(self._conn(), series_id, form.dealer.data,
                                                form.count.data, staff_user_id=g.user.id)
        except CardRefused as exc:
            self._db().rollback()
            return self._series_page(series_id, sale_form=form, refused=text_of(exc))
        audit.record_action(self._db(), "add", "card_sales", sale.id,
                            {"dealer_id": sale.dealer_id, "series_id": series_id,
                             "card_count": sale.card_count, "total": sale.total})
        self._db().commit()
        return redirect(url_for(".invoice", sale_id=sale.id))

    @expose("/invoice/<int:sale_id>")
    @has_access
    @permission_name("invoice")
    def invoice(self, sale_id: int):
        row = self._db().execute(_INVOICE, {"id": sale_id}).mappings().first()
        if row is None:
            abort(404)
        settings = current_app.config["EBS_SETTINGS"]
        return self.render_template(
            "express_cards/invoice.html", r=row, currency=settings.CURRENCY,
            isp_name=settings.ISP_NAME, isp_details=str(settings.ISP_DETAILS).splitlines(),
            percent=format_decimal_text,
            gross=row["nominal"] * row["card_count"])

    @expose("/<int:series_id>/export", methods=["POST"])
    @has_access
    @permission_name("export")
    def export(self, series_id: int):
        """The PINs, once: the first export empties the sealed PINs as it answers."""
        form = ExportForm()
        if not form.validate_on_submit():
            abort(400)
        key = host_key()
        if key is None:
            return self._series_page(series_id, refused=str(NO_KEY))
        try:
            done = express_cards.export_series(self._conn(), series_id, key=key,
                                               staff_user_id=g.user.id)
        except CardRefused as exc:
            self._db().rollback()
            if exc.code == "no_series":
                abort(404)
            return self._series_page(series_id, refused=text_of(exc))
        audit.record_action(self._db(), "edit", "card_series", series_id,
                            {"exported": form.format.data})
        self._db().commit()
        response = (self._csv(done) if form.format.data == "csv"
                    else make_response(self._sheet(done)))
        response.headers["Cache-Control"] = "no-store"
        return response

    def _sheet(self, done):
        settings = current_app.config["EBS_SETTINGS"]
        return self.render_template(
            "express_cards/sheet.html", series=done.series, cards=done.cards,
            isp_name=settings.ISP_NAME, currency=settings.CURRENCY, lang=localtime.language(),
            last_day=localtime.format_day(done.series.valid_until - timedelta(seconds=1)))

    @staticmethod
    def _csv(done):
        out = io.StringIO()
        writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
        writer.writerow(["number", "pin", "nominal", "valid_until"])
        until = done.series.valid_until.isoformat()
        for number, pin in done.cards:
            writer.writerow([number, pin, str(done.series.nominal), until])
        response = make_response(out.getvalue())
        response.headers["Content-Type"] = "text/csv; charset=utf-8"
        response.headers["Content-Disposition"] = (
            f'attachment; filename="express-cards-{done.series.id}.csv"')
        return response


class CardDealerView(AdminOnlyModelView):
    datamodel = BoundedInterface(CardDealer)
    list_title = _l("Card dealers")
    list_columns = ["name", "discount_percent", "contact"]
    add_columns = edit_columns = ["name", "discount_percent", "contact"]
    show_columns = ["name", "discount_percent", "contact", "created_at"]
    search_columns = ["name"]
    add_form_extra_fields = edit_form_extra_fields = {
        "discount_percent": DecimalTextField(
            _l("Discount, per cent"), [InputRequired(message=_l("Enter the discount.")),
                                NumberRange(0, 99.99, message=_l("From 0 to 99.99."))],
            places=2, digits=5),
    }
    formatters_columns = {"discount_percent": format_decimal_text}
    label_columns = {"name": _l("Name"), "discount_percent": _l("Discount, per cent"),
                     "contact": _l("Contact"), "created_at": _l("Created")}


class CardSaleView(AdminOnlyModelView):
    """The dealers' invoices, read-only: a sale is made on its series' page."""

    datamodel = BoundedInterface(CardSale, eager=("dealer", "series", "staff_user"))
    list_title = _l("Card sales")
    base_permissions = list(READ)
    list_columns = ["id", "sold_at", "dealer", "series", "card_count", "nominal",
                    "discount_percent", "total", "first_number", "last_number"]
    show_columns = [*list_columns, "staff_user"]
    search_columns = ["dealer", "series"]
    base_order = ("id", "desc")
    formatters_columns = {"discount_percent": format_decimal_text}
    label_columns = {"id": _l("Invoice No."), "sold_at": _l("Sold"), "dealer": _l("Dealer"),
                     "series": _l("Series"), "card_count": _l("Cards"),
                     "nominal": _l("Nominal"), "discount_percent": _l("Discount, per cent"),
                     "total": _l("Total"), "first_number": _l("First card"),
                     "last_number": _l("Last card"), "staff_user": _l("Operator")}

