"""Queueing one template to many subscribers: the one path every event and mailing takes.

:func:`queue_template` is the admin's mailing (a list of accounts or a selection query);
:func:`queue_rows` is the events' (each row its own key and event fields). Both:

* render in the operator's language (``LANGUAGE_CODE``; the template in the other
  language when that one is missing) — in PostgreSQL when the template is plain text with
  fields (``template_sql``), else row by row by ``templates.render``;
* send SMS to ``accounts.phone`` read to E.164 (``phone_book``, a refused number skipped
  and counted under its reason: ``empty``, ``unreadable``, ``invalid``, ``not_mobile``),
  e-mail to ``accounts.email`` (``no_email`` when there is none);
* skip subscribers who opted out (``opted_out``) unless the message is essential;
* move a due time inside the quiet hours (``SENDSMS_QUIET_HOURS``) to their end;
* insert with one ``INSERT … SELECT … ON CONFLICT (idempotency_key) DO NOTHING`` per
  call: a key queued before is not queued again (``already_queued``, not a skip).

:func:`queue_recipients` is the lazy form for a batch of thousands (the daily balance
alerts): the same numbers, opt-outs and counts, but only the accounts' ids are written,
into the batch's row; ``batches.materialize`` makes their messages by :func:`queue_rows`
when the batch is sent.

Set-based throughout: the rows are a temporary table, numbers are read once per distinct
text, and nothing makes a round trip per subscriber (but ``days_left``, from the one
forecast function, when a template uses it).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import psycopg
from psycopg import sql

from billing import settings as settings_mod
from billing.forecast import forecast
from billing.notifications import backends, fields, phone_book, quiet_hours, template_sql
from billing.notifications.templates import TemplateRefused, render

# The mailing's rows: who, under which key, with which event fields, then the account's
# own columns, read in the same scan that chose the row (ACCOUNT_SELECT over
# ``accounts a``): nothing reads ``accounts`` a second time.
ROW_COLUMNS = ("account_id, key, amount, reason, until, days_left,"
               " full_name, contract, login, balance, credit, phone, email")
ACCOUNT_SELECT = sql.SQL("a.full_name, a.contract, a.login, a.balance, a.credit, a.phone,"
                         " a.email")
# Each template field over the rows ``r`` (and ``tr``, the tariff in force, joined only
# when a template uses it).
FIELD_SQL: dict[str, sql.Composable] = {
    **{name: sql.SQL("r.{}").format(sql.Identifier(name))
       for name in ("full_name", "contract", "login", "balance", "credit", "amount",
                    "reason", "until", "days_left")},
    "tariff": sql.SQL("coalesce(tr.name, '')"),
}
TARIFF_JOIN = fields.tariff_join("r.account_id")


class MailingRefused(ValueError):
    """Nothing can be queued: no such template, or no backend for the channel."""


@dataclass(frozen=True)
class Template:
    code: str
    language: str
    channel: str
    subject: str
    body: str
    essential: bool


class Queued(tuple):
    """``(queued, skipped)``, unpacked as a pair; ``reasons`` counts each outcome that is
    not a new message by its reason (``already_queued`` among them, not in ``skipped``)."""

    reasons: Counter

    def __new__(cls, queued: int, reasons: Counter) -> Queued:
        skipped = sum(n for reason, n in reasons.items() if reason != "already_queued")
        self = super().__new__(cls, (queued, skipped))
        self.reasons = reasons
        return self

    @property
    def queued(self) -> int:
        return self[0]

    @property
    def skipped(self) -> int:
        return self[1]


def load_template(conn: psycopg.Connection, code: str, channel: str,
                  language: str) -> Template:
    """The template in ``language``, else in the other one; MailingRefused when none."""
    row = conn.execute(
        "SELECT code, language, channel, subject, body, essential FROM message_templates"
        " WHERE code = %s AND channel = %s ORDER BY language <> %s, language LIMIT 1",
        (code, channel, language)).fetchone()
    if row is None:
        raise MailingRefused(f"no {channel} template {code!r}")
    return Template(*row)


def queue_template(
    conn: psycopg.Connection,
    code: str,
    accounts: Sequence[int] | tuple[str, dict],
    due_at: datetime,
    key_prefix: str,
    *,
    channel: str = "sms",
    backend: str | None = None,
    essential: bool | None = None,
    batch_id: int | None = None,
    settings: SimpleNamespace | None = None,
    at: datetime | None = None,
) -> Queued:
    """Queue template ``code`` to ``accounts`` — account ids, or ``(query, params)``
    whose query selects account ids — due at ``due_at``, each under the key
    ``key_prefix + str(account id)``. ``backend``: the SMS backend's name (default
    ``SENDSMS_DEFAULT_BACKEND``); e-mail always leaves by ``email``. ``essential``: the
    template's own flag when None. Returns (queued, skipped), with ``.reasons``."""
    if isinstance(accounts, tuple) and len(accounts) == 2 and isinstance(accounts[0], str):
        query, params = accounts
        where = sql.SQL("a.id IN ({})").format(sql.SQL(query))
    else:
        params = {"ids": list(accounts)}
        where = sql.SQL("a.id = ANY(%(ids)s)")
    rows = sql.SQL(
        "SELECT a.id, %(key_prefix)s || a.id, 0.00::numeric, ''::text, ''::text, NULL::integer,"
        " {} FROM accounts a WHERE {}").format(ACCOUNT_SELECT, where)
    return queue_rows(conn, code, rows, {**params, "key_prefix": key_prefix}, due_at,
                      channel=channel, backend=backend, essential=essential,
                      batch_id=batch_id, settings=settings, at=at)


def queue_rows(
    conn: psycopg.Connection,
    code: str,
    rows: sql.Composable,
    params: dict,
    due_at: datetime,
    *,
    channel: str = "sms",
    backend: str | None = None,
    essential: bool | None = None,
    batch_id: int | None = None,
    settings: SimpleNamespace | None = None,
    at: datetime | None = None,
) -> Queued:
    """Queue template ``code`` for ``rows``: a query of (account id, idempotency key,
    amount, reason, until, days_left or NULL) followed by :data:`ACCOUNT_SELECT` of the
    row's ``accounts a`` — the columns of :data:`ROW_COLUMNS`, in that order. ``at`` is
    the moment the fields are read for (the tariff in force, the forecast); now when
    None."""
    settings = settings or settings_mod.load()
    tz = ZoneInfo(settings.TIME_ZONE)
    at = at or datetime.now(tz)
    template = load_template(conn, code, channel, settings.LANGUAGE_CODE)
    backend = _backend(channel, backend, settings)
    quiet = quiet_hours.parse(settings.SENDSMS_QUIET_HOURS)
    due = quiet.next_allowed(due_at, tz) if quiet else due_at
    wanted = fields.used(template.body, template.language) | fields.used(
        template.subject, template.language)
    with conn.transaction():
        conn.execute("DROP TABLE IF EXISTS mailing_rows")
        conn.execute(sql.SQL("CREATE TEMP TABLE mailing_rows ON COMMIT DROP AS"
                             " SELECT * FROM ({}) r ({})").format(rows, sql.SQL(ROW_COLUMNS)),
                     params)
        if channel == "sms":
            phone_book.learn(conn, sql.SQL("SELECT phone FROM mailing_rows"), {},
                             settings.SENDSMS_PHONE_REGION)
        if "days_left" in wanted:
            _days_left(conn, at, tz)
        body = template_sql.compile_body(template.body, template.language, FIELD_SQL)
        subject = template_sql.compile_body(template.subject, template.language, FIELD_SQL)
        if body is None or subject is None:
            _render_rows(conn, template, "tariff" in wanted, at)
            body, subject = sql.SQL("r.body"), sql.SQL("r.subject")
        return _insert(conn, template, body, subject, {
            "channel": channel, "backend": backend, "due": due, "at": at,
            "essential": template.essential if essential is None else essential,
            "batch": batch_id, "region": settings.SENDSMS_PHONE_REGION,
            "version": phone_book.VERSION}, tariff="tariff" in wanted)


def _backend(channel: str, backend: str | None, settings: SimpleNamespace) -> str:
    if channel == "email":
        return backends.EMAIL
    if channel != "sms":
        raise MailingRefused(f"no channel {channel!r}")
    name = backend or backends.default_sms(settings)
    if not name:
        raise MailingRefused("no SMS backend: set SENDSMS_DEFAULT_BACKEND (or "
                             "SENDSMS_BACKENDS)")
    return name


def _days_left(conn: psycopg.Connection, at: datetime, tz: ZoneInfo) -> None:
    """The forecast's days for the rows that do not carry them."""
    ids = [r[0] for r in conn.execute(
        "SELECT DISTINCT account_id FROM mailing_rows WHERE days_left IS NULL")]
    days = [forecast(conn, account_id, at, tz).days_left for account_id in ids]
    conn.execute("UPDATE mailing_rows r SET days_left = v.days FROM unnest(%s::bigint[],"
                 " %s::integer[]) v (id, days) WHERE r.account_id = v.id", (ids, days))


def _render_rows(conn: psycopg.Connection, template: Template, tariff: bool,
                 at: datetime) -> None:
    """Python's rendering, for a template SQL cannot render: each row's text into the
    rows' ``body`` and ``subject`` (NULL when it fails: skipped as ``render_failed``)."""
    conn.execute("ALTER TABLE mailing_rows ADD COLUMN body text, ADD COLUMN subject text")
    names = list(FIELD_SQL)
    query = sql.SQL("SELECT r.key, {} FROM mailing_rows r {}").format(
        sql.SQL(", ").join(FIELD_SQL[name] if tariff or name != "tariff" else sql.Literal("")
                           for name in names),
        TARIFF_JOIN if tariff else sql.SQL(""))
    keys, bodies, subjects = [], [], []
    for key, *values in conn.execute(query, {"at": at}).fetchall():
        row = dict(zip(names, values, strict=True))
        try:
            bodies.append(render(template.body, row, template.language))
            subjects.append(render(template.subject, row, template.language))
        except TemplateRefused:
            bodies.append(None)
            subjects.append(None)
        keys.append(key)
    conn.execute("UPDATE mailing_rows r SET body = v.body, subject = v.subject"
                 " FROM unnest(%s::text[], %s::text[], %s::text[]) v (key, body, subject)"
                 " WHERE r.key = v.key", (keys, bodies, subjects))


# Each row's outcome (a contact, not opted out, a text: 'ok'; else the reason), then
# ``{write}``: CTEs that write the 'ok' rows of ``r`` and end in ``queued (n)``, the
# number written; the counts of both come out. ``{rows}`` holds ``account_id``,
# ``phone`` and ``email`` at least.
_OUTCOMES = """
    WITH r AS MATERIALIZED (
        SELECT x.*,
               CASE WHEN contact IS NULL THEN no_contact
                    WHEN NOT %(essential)s AND opted THEN 'opted_out'
                    {text_checks}
                    ELSE 'ok' END AS outcome
          FROM (SELECT r.account_id, {columns} {contact} AS contact,
                       {no_contact} AS no_contact, o.account_id IS NOT NULL AS opted
                  FROM {rows} r
                  {tariff}
                  LEFT JOIN phone_numbers p ON p.region = %(region)s AND p.raw = r.phone
                                           AND p.checked_with = %(version)s
                  LEFT JOIN notification_optouts o ON o.account_id = r.account_id
                OFFSET 0) x
    ),
    {write}
    SELECT outcome, count(*) FROM r GROUP BY outcome
    UNION ALL
    SELECT 'queued', n FROM queued
"""
_TEXT_CHECKS = ("WHEN body IS NULL THEN 'render_failed'"
                " WHEN body = '' THEN 'empty_text'")
_MESSAGES = """
    written AS (
        INSERT INTO messages (idempotency_key, channel, backend, recipient, subject, body,
                              essential, due_at, account_id, template_code, batch_id)
        SELECT key, %(channel)s, %(backend)s, contact, subject, body, %(essential)s,
               %(due)s, account_id, %(code)s, %(batch)s
          FROM r WHERE outcome = 'ok'
        ON CONFLICT (idempotency_key) DO NOTHING
        RETURNING 1
    ),
    queued AS (SELECT count(*) AS n FROM written)
"""
# The batch's row takes the accounts as one array: a row per account (and its index
# entry) would cost the pass more than finding them.
_WAITING = """
    queued AS (SELECT count(*) AS n, array_agg(account_id ORDER BY account_id) AS ids
                 FROM r WHERE outcome = 'ok'),
    saved AS (UPDATE message_batches b SET waiting = b.waiting || q.ids
                FROM queued q WHERE b.id = %(batch)s AND q.n > 0)
"""


def _contact(channel: str) -> tuple[sql.Composable, sql.Composable]:
    """(the address, the reason when there is none) of row ``r``."""
    if channel == "sms":
        return sql.SQL("p.e164"), sql.SQL("coalesce(p.reason, 'empty')")
    return (sql.SQL("CASE WHEN r.email LIKE '%%_@_%%' THEN btrim(r.email) END"),
            sql.Literal("no_email"))


def _counted(conn: psycopg.Connection, query: sql.Composable, params: dict) -> Queued:
    counts = dict(conn.execute(query, params).fetchall())
    queued = counts.pop("queued", 0)
    ok = counts.pop("ok", 0)
    reasons = Counter({k: v for k, v in counts.items() if v})
    if ok > queued:
        reasons["already_queued"] = ok - queued
    return Queued(queued, reasons)


def _insert(conn: psycopg.Connection, template: Template, body: sql.Composable,
            subject: sql.Composable, params: dict, *, tariff: bool) -> Queued:
    contact, no_contact = _contact(params["channel"])
    query = sql.SQL(_OUTCOMES).format(
        columns=sql.SQL("r.key, {} AS body, {} AS subject,").format(body, subject),
        contact=contact, no_contact=no_contact, rows=sql.SQL("mailing_rows"),
        tariff=TARIFF_JOIN if tariff else sql.SQL(""), text_checks=sql.SQL(_TEXT_CHECKS),
        write=sql.SQL(_MESSAGES))
    return _counted(conn, query, {**params, "code": template.code})


def queue_recipients(conn: psycopg.Connection, batch_id: int, code: str,
                     rows: sql.Composable, params: dict, *, channel: str = "sms",
                     essential: bool | None = None,
                     settings: SimpleNamespace | None = None) -> Queued:
    """Add the accounts of ``rows`` (a query of ``account_id, phone, email``) to the
    ``waiting`` of batch ``batch_id`` of template ``code``, with the outcomes
    :func:`queue_rows` would give them (no number, opted out…) counted the same. The
    text is not rendered here: the template's refusals come when the batch is made into
    messages, where an account added twice is one message (its key)."""
    settings = settings or settings_mod.load()
    template = load_template(conn, code, channel, settings.LANGUAGE_CODE)
    _backend(channel, None, settings)  # refused now, not at the first send
    if channel == "sms":
        phone_book.learn(conn, sql.SQL("SELECT q.phone FROM ({}) q").format(rows), params,
                         settings.SENDSMS_PHONE_REGION)
    contact, no_contact = _contact(channel)
    query = sql.SQL(_OUTCOMES).format(
        columns=sql.SQL(""), contact=contact, no_contact=no_contact,
        rows=sql.SQL("({})").format(rows), tariff=sql.SQL(""), text_checks=sql.SQL(""),
        write=sql.SQL(_WAITING))
    return _counted(conn, query, {
        **params, "batch": batch_id, "region": settings.SENDSMS_PHONE_REGION,
        "version": phone_book.VERSION,
        "essential": template.essential if essential is None else essential})
