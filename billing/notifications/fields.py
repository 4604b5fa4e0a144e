"""The template fields of many accounts at once (``templates.FIELDS``), for the mailing.

The account's own fields are columns of ``accounts``; ``tariff`` is the name of the
tariff in force (``billing.assignments.in_force``), joined only when the template uses
it; ``days_left`` comes from ``billing.forecast.forecast`` — the cabinet's one answer —
and only when the template uses it, since it costs a few queries per account. The event
fields (``amount``, ``reason``, ``until``) are the event's: the mailing's rows carry them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import psycopg
from jinja2 import TemplateSyntaxError, meta
from psycopg import sql

from billing.assignments import in_force
from billing.forecast import forecast
from billing.notifications.templates import FIELDS, _environment

# Each account field as an SQL expression over ``accounts a`` (and ``tr``, the tariff in
# force, joined by tariff_join).
ACCOUNT_COLUMNS: dict[str, sql.Composable] = {
    "full_name": sql.SQL("a.full_name"),
    "contract": sql.SQL("a.contract"),
    "login": sql.SQL("a.login"),
    "balance": sql.SQL("a.balance"),
    "credit": sql.SQL("a.credit"),
    "tariff": sql.SQL("coalesce(tr.name, '')"),
}
# The event's fields (``amount``, ``reason``, ``until``) and ``days_left`` complete them.
EVENT_FIELDS = ("amount", "reason", "until", "days_left")
assert set(ACCOUNT_COLUMNS) | set(EVENT_FIELDS) == set(FIELDS), "every field has its source"


def tariff_join(account: str) -> sql.Composable:
    """``tr``, the tariff in force at ``%(at)s`` of the account ``account`` (an SQL
    expression), as LEFT JOINs."""
    return sql.SQL(
        "LEFT JOIN LATERAL ({}) x ON true LEFT JOIN tariffs tr ON tr.id = x.tariff_id"
    ).format(sql.SQL(in_force(account, "%(at)s", columns="t.tariff_id")))


def used(body: str, language: str = "ru") -> set[str]:
    """The fields a template asks for (all of them when it cannot be read: the render
    will say why)."""
    try:
        return set(meta.find_undeclared_variables(_environment(language).parse(body)))
    except TemplateSyntaxError:
        return set(FIELDS)


def account_fields(conn: psycopg.Connection, account_ids: Iterable[int], at: datetime,
                   tz: ZoneInfo, *, fields: set[str] | None = None) -> dict[int, dict]:
    """Every template field of each account (one query; ``days_left`` by the forecast
    when asked for), the event fields at their neutral values: account id → fields."""
    ids = list(dict.fromkeys(account_ids))
    wanted = set(FIELDS) if fields is None else fields
    select = sql.SQL(", ").join(
        sql.SQL("{} AS {}").format(expr, sql.Identifier(name))
        for name, expr in ACCOUNT_COLUMNS.items())
    query = sql.SQL("SELECT a.id, {} FROM accounts a {} WHERE a.id = ANY(%(ids)s)").format(
        select, tariff_join("a.id"))
    out: dict[int, dict] = {}
    with conn.cursor() as cur:
        cur.execute(query, {"ids": ids, "at": at})
        names = [d.name for d in cur.description][1:]
        for row in cur:
            out[row[0]] = {**dict(zip(names, row[1:], strict=True)), **neutral()}
    if "days_left" in wanted:
        for account_id, values in out.items():
            values["days_left"] = forecast(conn, account_id, at, tz).days_left
    return out


def neutral() -> dict:
    """The event fields of a message no event fills (a mailing)."""
    return {"amount": Decimal("0.00"), "reason": "", "until": "", "days_left": None}
