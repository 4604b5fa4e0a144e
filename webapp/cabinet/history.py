"""The cabinet's ledger: the account's payments and charges, newest first, by the days
the subscriber picks, with the totals of those days and their CSV.

Everything reads ``ledger_entries`` through its ``(account_id, effective_at)`` index,
bounded by the account and the filter's range: a page of 50 rows, the totals grouped by
kind in SQL. The page and the CSV run one statement (:data:`LEDGER`), the CSV streamed
whole from a server-side cursor (webapp/views/reports.py), so they never disagree.
"""

from __future__ import annotations

from decimal import Decimal

from flask import render_template, request
from flask_babel import lazy_gettext as _l
from sqlalchemy import text

from webapp import labels, localtime
from webapp.cabinet import period_filter
from webapp.cabinet.blueprint import bp, menu_entry
from webapp.cabinet.sessions import login_required
from webapp.extensions import db
from webapp.reports import KIND, LEDGER_TEXT, MONEY, TEXT, Column, Report
from webapp.views.reports import csv_flavour, csv_response

# Open ends of the filter read as infinities, so both bounds are always index bounds.
RANGE = """e.account_id = :id
       AND e.effective_at >= coalesce(CAST(:since AS timestamptz), '-infinity')
       AND e.effective_at < coalesce(CAST(:until AS timestamptz), 'infinity')"""

LEDGER = Report(
    "ledger", _l("History"),
    f"""
    SELECT e.effective_at,
           to_char(e.effective_at AT TIME ZONE :tz, 'YYYY-MM-DD HH24:MI:SS') AS effective,
           e.kind, e.amount, nullif(e.description, '') AS description
      FROM ledger_entries e
     WHERE {RANGE}
     ORDER BY e.effective_at DESC, e.id DESC
     LIMIT :limit OFFSET :offset
    """,
    (Column("effective", _l("When"), TEXT), Column("kind", _l("What"), KIND),
     Column("amount", _l("Amount"), MONEY),
     Column("description", _l("Comment"), LEDGER_TEXT)),
    paged=True,
)
_TOTALS = text(
    f"""
    SELECT e.kind, count(*) AS entries,
           coalesce(sum(e.amount) FILTER (WHERE e.amount > 0), 0) AS credited,
           coalesce(-sum(e.amount) FILTER (WHERE e.amount < 0), 0) AS debited
      FROM ledger_entries e
     WHERE {RANGE}
     GROUP BY e.kind
     ORDER BY e.kind
    """
)

menu_entry(20, "history", "History")


def totals(rows) -> dict:
    """Per kind and in all: what came in, what went out, and the change of the balance."""
    kinds = [{**row, "label": labels.label(labels.LEDGER_KINDS, row["kind"])} for row in rows]
    credited = sum((row["credited"] for row in kinds), Decimal("0.00"))
    debited = sum((row["debited"] for row in kinds), Decimal("0.00"))
    return {"kinds": kinds, "credited": credited, "debited": debited,
            "change": credited - debited}


def ledger_page(subscriber, status: int = 200):
    form, period = period_filter.period_form()
    page = period_filter.page_number()
    shown, summary = None, None
    if period is not None:
        params = {"id": subscriber.id, "tz": localtime.zone().key, **period.params()}
        rows = db.session.execute(
            LEDGER.statement, {**params, **period_filter.paging(page)}).mappings().all()
        shown = period_filter.page_rows(rows, page)
        summary = totals(db.session.execute(_TOTALS, params).mappings())
    return render_template(
        "cabinet/history.html", form=form, listing=shown, totals=summary,
        args=period_filter.filter_args(form), kind_label=lambda code: labels.label(
            labels.LEDGER_KINDS, code), describe=labels.ledger_description), status


@bp.route("/history")
@login_required
def history(subscriber):
    return ledger_page(subscriber)


@bp.route("/history.csv")
@login_required
def history_csv(subscriber):
    """The filter's whole range; ``?format=excel`` for the spreadsheet of the reader's
    language, plain RFC 4180 otherwise. A wrong filter shows the page with its message."""
    _, period = period_filter.period_form()
    if period is None:
        return ledger_page(subscriber, 400)
    params = {"id": subscriber.id, "tz": localtime.zone().key, **period.params(),
              "limit": None, "offset": 0}
    return csv_response(db.session.get_bind(), LEDGER, params,
                        "history.csv",
                        csv_flavour(request.args.get("format", "csv")))
