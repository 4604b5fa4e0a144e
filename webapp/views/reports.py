"""Reports: payments by period, gateway and cashier; charges by type; debtors; tariff
distribution; top traffic consumers and traffic not attributed. Each has a date range
(the ISP's local dates, both ends included), a table,
a bar chart where one reads better than figures, and a CSV export streamed from a
server-side cursor with headers in the UI's language.

The page writes figures as the UI's language does (``webapp.numbers``: ``1 000,50 ₽``).
The CSV comes in two flavours (:data:`CSV_FLAVOURS`): ``?format=excel``, the export
button's, opens in the spreadsheet program of the operator's language (Russian Excel
splits on ``;`` and reads ``1000,50`` as a number; English Excel on ``,`` with ``1000.50``);
``?format=csv`` is plain RFC 4180, the same in every language (``,`` and ``1000.50``),
for programs. Both start with a UTF-8 BOM, which Excel needs to read Cyrillic as UTF-8.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask import Response, abort, current_app, request, stream_with_context
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from flask_babel import lazy_gettext as _l

from webapp import labels, localtime
from webapp.numbers import current_locale, format_amount, format_number, megabytes
from webapp.report_db import report_session
from webapp.reports import (
    COUNT,
    DAILY_UP_TO_DAYS,
    DATE,
    KIND,
    LEDGER_TEXT,
    MEGABYTES,
    MONEY,
    REPORTS,
    TEXT,
    TOP_DEFAULT,
    TOP_MAX,
    TRAFFIC_REJECT,
    Report,
)
from webapp.views.ledger import kind_label

PAGE_SIZE = 100
MAX_DAYS = 366  # a report never reads more than a year of the ledger at once
CSV_BATCH = 1000


class RangeError(ValueError):
    """A date range the report cannot take; the message is shown above the form."""


def parse_range(args, today: date) -> tuple[date, date]:
    """``start``/``end`` as YYYY-MM-DD (both included); the current month by default."""
    try:
        start = date.fromisoformat(args.get("start") or today.replace(day=1).isoformat())
        end = date.fromisoformat(args.get("end") or today.isoformat())
    except ValueError:
        raise RangeError(_l("Give dates as YYYY-MM-DD.")) from None
    if end < start:
        raise RangeError(_l("The end of the range is before its start."))
    if (end - start).days >= MAX_DAYS:
        raise RangeError(_l("A report covers at most %(days)d days.", days=MAX_DAYS))
    return start, end


def cell(kind: str, value) -> str:
    """A value as the page shows it: money with two decimals and the currency, figures
    as the UI's language writes them."""
    if value is None:
        return ""
    if kind == MONEY:
        return format_amount(value)
    if kind == COUNT:
        return format_number(value)
    if kind == DATE:
        return localtime.format_day(value)
    if kind == KIND:
        return kind_label(value)
    if kind == MEGABYTES:
        return format_number(megabytes(value))
    if kind == TRAFFIC_REJECT:
        return labels.label(labels.TRAFFIC_REJECT_REASONS, value)
    if kind == LEDGER_TEXT:
        return labels.ledger_description(value)
    return str(value)


def bars(report: Report, rows: list) -> list[dict]:
    """The chart's bars: label, value, and width as a share of the largest."""
    if report.chart is None or not rows:
        return []
    label_key, value_key = report.chart
    kinds = {c.key: c.kind for c in report.columns}
    top = max((abs(row[value_key] or 0) for row in rows), default=0) or 1
    return [{"label": cell(kinds[label_key], row[label_key]),
             "value": cell(kinds[value_key], row[value_key]),
             "width": round(100 * abs(row[value_key] or 0) / top, 1)} for row in rows]


# What a spreadsheet program reads as the start of a formula (OWASP's CSV injection list).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")


def spreadsheet_safe(text: str) -> str:
    """A text cell a spreadsheet shows as text: one that would start a formula (a
    subscriber named ``=HYPERLINK(...)``) gets a leading single quote. A plain number
    such as a phone ``+79001234567`` or ``-12.50`` stays as it is: it computes nothing."""
    if len(text) > 1 and text.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


@dataclass(frozen=True)
class CsvFlavour:
    """How a CSV separates cells and writes a decimal fraction."""

    delimiter: str = ","
    decimal: str = "."


PLAIN_CSV = CsvFlavour()
CSV_FLAVOURS = ("csv", "excel")


def csv_flavour(name: str, locale=None) -> CsvFlavour:
    """``csv``: RFC 4180 as programs read it. ``excel``: what the spreadsheet program of
    the UI's language reads as figures: a language with a decimal comma (Russian) puts
    ``;`` between cells, as its Excel's list separator is; others are plain."""
    if name == "excel" and current_locale(locale).number_symbols["latn"]["decimal"] == ",":
        return CsvFlavour(delimiter=";", decimal=",")
    return PLAIN_CSV


def csv_cell(kind: str, value, flavour: CsvFlavour = PLAIN_CSV) -> str:
    """A value as the CSV carries it: figures with no grouping and the flavour's decimal
    mark (a spreadsheet reads them as numbers), text cells made spreadsheet-safe (the
    figures we format ourselves cannot hold a formula)."""
    if value is None:
        return ""
    if kind == MONEY:
        return f"{Decimal(value):.2f}".replace(".", flavour.decimal)
    if kind == COUNT:
        return str(value)
    if kind == MEGABYTES:
        return str(megabytes(value)).replace(".", flavour.decimal)
    if kind == DATE:
        return localtime.local_day(value).isoformat()
    shown = cell(kind, value)
    return spreadsheet_safe(shown) if kind in (TEXT, LEDGER_TEXT) else shown


def csv_lines(report: Report, rows: Iterable,
              flavour: CsvFlavour = PLAIN_CSV) -> Iterator[str]:
    """The CSV, a batch of lines at a time; a BOM first so spreadsheet programs read the
    Cyrillic headers as UTF-8."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=flavour.delimiter)
    buffer.write("\ufeff")
    writer.writerow([str(c.label) for c in report.columns])
    for n, row in enumerate(rows, 1):
        writer.writerow([csv_cell(c.kind, row[c.key], flavour) for c in report.columns])
        if n % CSV_BATCH == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def csv_response(engine, report: Report, params: dict, filename: str,
                 flavour: CsvFlavour) -> Response:
    """``report``'s rows for ``params`` as a CSV download, streamed from a server-side
    cursor."""

    def lines() -> Iterator[str]:
        # A connection of its own, its transaction open while the cursor streams
        # (the request's session may end before the last batch is sent).
        with engine.connect() as connection:
            result = connection.execution_options(
                stream_results=True, yield_per=CSV_BATCH).execute(
                    report.statement_for(params), params)
            yield from csv_lines(report, (row._mapping for row in result), flavour)

    return Response(stream_with_context(lines()), content_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f"attachment; filename={filename}"})


def parse_top(args) -> int:
    """How many rows per group a ``top`` report lists: ``?top=``, within 1..TOP_MAX."""
    wanted = args.get("top", TOP_DEFAULT, type=int) or TOP_DEFAULT
    return min(max(wanted, 1), TOP_MAX)


def range_params(start: date, end: date, zone: ZoneInfo, page: int = -1,
                 top: int = TOP_DEFAULT) -> dict:
    """A report's parameters for the local dates ``start``..``end`` (both included):
    the range as half-open moments at local midnights; ``page`` < 0 for the whole list
    (the CSV)."""
    paged = page >= 0
    return {
        "top": top,
        "start": datetime.combine(start, time(), zone),
        "end": datetime.combine(end + timedelta(days=1), time(), zone),
        "tz": zone.key,
        "bucket": "day" if (end - start).days < DAILY_UP_TO_DAYS else "month",
        "limit": PAGE_SIZE + 1 if paged else None,
        "offset": max(page, 0) * PAGE_SIZE,
        "month_from": start.replace(day=1),
        "month_to": _next_month(end),
        "months": 0,  # whole months the monthly totals serve: set by whole_months()
    }


def _next_month(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


def whole_months(start: date, end: date, today: date) -> int:
    """How many whole local months ``start``..``end`` (both included) covers, 0 when it
    is not whole months. A range from a month's first day to today or later covers the
    month so far, which is all a month's total holds yet."""
    if start.day != 1:
        return 0
    if end < today and _next_month(end) - timedelta(days=1) != end:
        return 0
    return (end.year - start.year) * 12 + end.month - start.month + 1


class ReportsView(BaseView):
    route_base = "/reports"
    default_view = "report"
    role_grants = {"ReadOnly": ("can_report",)}

    def _params(self, report: Report, start: date, end: date, page: int) -> dict:
        zone = ZoneInfo(current_app.config["EBS_SETTINGS"].TIME_ZONE)
        params = range_params(start, end, zone, page, parse_top(request.args))
        params["months"] = whole_months(start, end, datetime.now(zone).date())
        return params

    def _csv(self, report: Report, params: dict, start: date, end: date,
             flavour: CsvFlavour) -> Response:
        return csv_response(report_session().get_bind(), report, params,
                            f"{report.name}_{start.isoformat()}_{end.isoformat()}.csv",
                            flavour)

    @expose("/")
    @expose("/<name>/")
    @has_access
    @permission_name("report")
    def report(self, name: str = "payments"):
        report = REPORTS.get(name)
        if report is None:
            abort(404)
        zone = ZoneInfo(current_app.config["EBS_SETTINGS"].TIME_ZONE)
        today = datetime.now(zone).date()
        try:
            start, end = parse_range(request.args, today)
            error = None
        except RangeError as exc:
            start, end, error = today.replace(day=1), today, str(exc)
        page = request.args.get("page", 0, type=int) or 0
        wanted = request.args.get("format")
        if wanted in CSV_FLAVOURS and error is None:
            return self._csv(report, self._params(report, start, end, -1), start, end,
                             csv_flavour(wanted))
        rows = []
        if error is None:
            params = self._params(report, start, end, max(page, 0))
            rows = report_session().execute(
                report.statement_for(params), params).mappings().all()
        more = report.paged and len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE] if report.paged else rows
        totals = {c.key: sum((r[c.key] or 0) for r in rows)
                  for c in report.columns if c.kind in (MONEY, COUNT) and not report.paged}
        return self.render_template(
            "reports/report.html", report=report, reports=REPORTS, rows=rows,
            cell=cell, bars=bars(report, rows), start=start, end=end, error=error,
            page=max(page, 0), more=more, totals=totals, money=MONEY,
            figures=(MONEY, COUNT, MEGABYTES), top=parse_top(request.args),
        )


def register_reports(appbuilder) -> None:
    """One view, a menu entry per report."""
    view = appbuilder.add_view_no_menu(ReportsView)
    for report in REPORTS.values():
        appbuilder.add_link(
            f"Report {report.name}", href=f"/reports/{report.name}/", icon="fa-bar-chart",
            label=report.title, category="Reports", category_label=_l("Reports"),
            category_icon="fa-line-chart", baseview=view)
