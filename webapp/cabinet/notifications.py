"""The subscriber's own switch: all messages, or only the essential ones (a block, a
payment). The same ``billing.notifications.optouts`` call as the admin's switch on the
account card; the mailing and the balance reminders read the same row."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField

from billing.notifications import optouts
from webapp.cabinet.blueprint import bp, menu_entry
from webapp.cabinet.sessions import login_required
from webapp.extensions import db
from webapp.views.ledger import raw_connection

menu_entry(65, "notifications", "Notifications")

CHOICES = [("all", _l("All messages: reminders, news and the essential ones")),
           ("essential", _l("Only essential messages: a block, a payment credited"))]


class NotificationsForm(FlaskForm):
    receives = RadioField(_l("Messages I receive"), choices=CHOICES)


@bp.route("/notifications", methods=["GET", "POST"])
@login_required
def notifications(subscriber):
    session = db.session
    form = NotificationsForm()
    if form.validate_on_submit():
        out = form.receives.data == "essential"
        if optouts.set_opted_out(raw_connection(session), subscriber.id, out):
            session.commit()
            flash(str(_l("Saved: only essential messages.") if out
                      else _l("Saved: all messages.")), "success")
        else:
            session.rollback()
            flash(str(_l("Nothing changed.")), "info")
        return redirect(url_for("cabinet.notifications"), code=303)
    out = optouts.opted_out(raw_connection(session), subscriber.id)
    session.rollback()
    if not form.is_submitted():
        form.receives.data = "essential" if out else "all"
    return render_template("cabinet/notifications.html", form=form, opted_out=out)
