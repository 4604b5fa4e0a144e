"""The cabinet's sessions: when the subscriber was online, from which address, how much
came in and went out, the sessions still open first ("online").

A session is either open (``sessions_open``, by ``sessions_open_account_idx``) or past
(``sessions_history``, partitioned by the month it stopped, by
``sessions_history_account_idx``: the account and the stop, so the filter's start prunes
the months before it); accounting moves it from one to the other, never keeps both. A
session belongs to the days it overlaps. Directions are the subscriber's, as in the
traffic statistics: "in" is what the subscriber received, the NAS's
Acct-Output-Octets. The page and its CSV run one statement (:data:`SESSIONS`).
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import render_template, request
from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from webapp import localtime
from webapp.cabinet import period_filter
from webapp.cabinet.blueprint import bp, menu_entry
from webapp.cabinet.sessions import login_required
from webapp.extensions import db
from webapp.numbers import megabytes
from webapp.reports import COUNT, TEXT, Column, Report
from webapp.views.reports import csv_flavour, csv_response

_STAMP = "to_char({} AT TIME ZONE :tz, 'YYYY-MM-DD HH24:MI:SS')"
# The NAS's seconds online; when it sent none, the span from the start to the stop (or,
# for an open session, to now).
_SECONDS = """CASE WHEN {r}.session_time > 0 THEN {r}.session_time::bigint
                   ELSE greatest(floor(extract(epoch FROM {until} - {r}.started_at)), 0)::bigint
              END"""

SESSIONS = Report(
    "sessions", _l("Sessions"),
    f"""
    SELECT s.*, {_STAMP.format("s.started_at")} AS started,
           coalesce({_STAMP.format("s.stopped_at")}, '') AS stopped,
           CASE WHEN s.online THEN :online_label ELSE '' END AS state
      FROM (SELECT o.started_at, NULL::timestamptz AS stopped_at,
                   coalesce(host(o.framed_ip), '') AS address,
                   o.output_octets AS bytes_in, o.input_octets AS bytes_out,
                   {_SECONDS.format(r="o", until="CAST(:now AS timestamptz)")} AS seconds,
                   true AS online
              FROM sessions_open o
             WHERE o.account_id = :id
               AND o.started_at < coalesce(CAST(:until AS timestamptz), 'infinity')
               AND CAST(:now AS timestamptz)
                   >= coalesce(CAST(:since AS timestamptz), '-infinity')
            UNION ALL
            SELECT h.started_at, h.stopped_at, coalesce(host(h.framed_ip), ''),
                   h.output_octets, h.input_octets,
                   {_SECONDS.format(r="h", until="h.stopped_at")}, false
              FROM sessions_history h
             WHERE h.account_id = :id
               AND h.stopped_at >= coalesce(CAST(:since AS timestamptz), '-infinity')
               AND h.started_at < coalesce(CAST(:until AS timestamptz), 'infinity')) s
     ORDER BY s.online DESC, s.stopped_at DESC, s.started_at DESC
     LIMIT :limit OFFSET :offset
    """,
    (Column("started", _l("Started"), TEXT), Column("stopped", _l("Ended"), TEXT),
     Column("state", _l("State"), TEXT), Column("address", _l("IP address"), TEXT),
     Column("bytes_in", _l("Bytes in"), COUNT), Column("bytes_out", _l("Bytes out"), COUNT),
     Column("seconds", _l("Seconds online"), COUNT)),
    paged=True,
)

menu_entry(25, "sessions", "Sessions")


def duration(seconds: int) -> str:
    """Time online as a person reads it: ``2:05:09``, days first when there are some."""
    days, rest = divmod(int(seconds), 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours}:{minutes:02d}:{secs:02d}"
    return gettext("%(days)d d %(clock)s", days=days, clock=clock) if days else clock


def _params(subscriber, period) -> dict:
    return {"id": subscriber.id, "tz": localtime.zone().key, "now": datetime.now(UTC),
            "online_label": gettext("online"), **period.params()}


def sessions_page(subscriber, status: int = 200):
    form, period = period_filter.period_form()
    page = period_filter.page_number()
    shown = None
    if period is not None:
        rows = db.session.execute(
            SESSIONS.statement,
            {**_params(subscriber, period), **period_filter.paging(page)}).mappings().all()
        shown = period_filter.page_rows(rows, page)
    return render_template("cabinet/sessions.html", form=form, listing=shown,
                           args=period_filter.filter_args(form), duration=duration,
                           megabytes=megabytes), status


@bp.route("/sessions")
@login_required
def sessions(subscriber):
    return sessions_page(subscriber)


@bp.route("/sessions.csv")
@login_required
def sessions_csv(subscriber):
    """The filter's whole range in bytes and seconds (``?format=excel`` as on the
    ledger's CSV); a wrong filter shows the page with its message."""
    _, period = period_filter.period_form()
    if period is None:
        return sessions_page(subscriber, 400)
    return csv_response(db.session.get_bind(), SESSIONS,
                        {**_params(subscriber, period), "limit": None, "offset": 0},
                        "sessions.csv", csv_flavour(request.args.get("format", "csv")))
