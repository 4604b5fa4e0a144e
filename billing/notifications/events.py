"""What the system tells subscribers by itself: low balance, a payment, a block, the
forecast. Each pass is set-based and may run any number of times: every message has a
key of its event, so a second run queues nothing new.

* :func:`balance_alerts` — ExpertBilling's ``ballance_sms_messages``: accounts whose
  balance (plus the credit with ``SENDSMS_BALANCE_WITH_CREDIT``; ExpertBilling compares
  the balance alone) is below the threshold (the tariff's own in
  ``tariff_notification_settings``, else ``SENDSMS_IF_BALLANCE_AMOUNT``) get
  ``low_balance`` at most every ``SENDSMS_BALANCE_EVERY_DAYS`` local days and at most
  ``SENDSMS_BALANCE_MAX_TIMES`` times until the balance is at the threshold again, which
  deletes their ``balance_alerts`` row (the count starts over at the next fall). The
  day's alerts are one batch (``low_balance:<local day>``) whose messages are made when
  the sender takes them (``batches.materialize``, keyed per batch and account): 50,000
  subscribers below are one pass of a few statements, not 50,000 rendered rows.
* :func:`payment_notices` — ``payment_received`` per payment credited (key
  ``payment:<ledger id>``), read from the ledger since a mark (``notification_marks``).
* :func:`block_notices` — ``blocked`` when ``blocked_by_balance`` or
  ``blocked_by_limit`` turns on (the accounts' state history), with the reason in the
  words the NAS shows (``billing.reject_messages``) and the fix the cabinet shows
  (``billing.access_state.limitation``: the sum to pay, the limit's end); nothing when
  the block is lifted before the pass.
* :func:`forecast_notices` — ``forecast`` when the days the money lasts
  (``billing.forecast``, the cabinet's figure) fall to ``NOTIFY_FORECAST_DAYS`` or below,
  once per crossing.

The marks move only past entries older than :data:`SETTLE`: a posting's transaction
still open when a pass reads would otherwise be passed over for good; entries newer than
that are read again by the next pass, and their keys keep them one message each.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import psycopg
from psycopg import sql

from billing import reject_messages
from billing import settings as settings_mod
from billing.access import Reason
from billing.access_state import limitation
from billing.assignments import in_force
from billing.forecast import CHARGED_STATUSES, USAGE_DAYS, forecast
from billing.money import to_money
from billing.notifications import batches, quiet_hours
from billing.notifications.mailing import ACCOUNT_SELECT, Queued, queue_recipients, queue_rows

SETTLE = timedelta(hours=1)


def _flag(value) -> bool:
    """A yes/no setting, from the settings file (a bool) or EBS_* (text)."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


@dataclass(frozen=True)
class Rules:
    """The events' settings, checked."""

    threshold: Decimal | None
    with_credit: bool
    every_days: int
    max_times: int
    payments: bool
    blocks: bool
    forecast_days: int

    @classmethod
    def from_settings(cls, settings: SimpleNamespace) -> Rules:
        raw = settings.SENDSMS_IF_BALLANCE_AMOUNT
        rules = cls(threshold=None if raw is None else to_money(raw),
                    with_credit=_flag(settings.SENDSMS_BALANCE_WITH_CREDIT),
                    every_days=int(settings.SENDSMS_BALANCE_EVERY_DAYS),
                    max_times=int(settings.SENDSMS_BALANCE_MAX_TIMES),
                    payments=_flag(settings.NOTIFY_PAYMENTS),
                    blocks=_flag(settings.NOTIFY_BLOCKS),
                    forecast_days=int(settings.NOTIFY_FORECAST_DAYS))
        if rules.every_days < 1 or rules.max_times < 1 or rules.forecast_days < 0:
            raise settings_mod.SettingsError(
                "SENDSMS_BALANCE_EVERY_DAYS and SENDSMS_BALANCE_MAX_TIMES must be at least 1,"
                " NOTIFY_FORECAST_DAYS at least 0")
        return rules


@dataclass
class PassResult:
    """What a pass found and queued: ``selected`` subscribers or events, ``queued``
    messages, ``skipped`` by reason (no number, opted out, …), ``reset`` states."""

    selected: int = 0
    queued: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    reset: int = 0

    def add(self, result: Queued) -> None:
        self.queued += result.queued
        for reason, n in result.reasons.items():
            self.skipped[reason] = self.skipped.get(reason, 0) + n

    def as_dict(self) -> dict:
        return {"selected": self.selected, "queued": self.queued, "skipped": self.skipped,
                "reset": self.reset}


# --- balance alerts --------------------------------------------------------------------

def _threshold(rules: Rules, overrides: bool) -> tuple[sql.Composable, sql.Composable]:
    """(the joins, the threshold expression) for ``accounts a``: the tariff's own
    threshold by the assignment in force when any tariff has one, else the global."""
    if not overrides:
        return sql.SQL(""), sql.SQL("%(threshold)s::numeric")
    joins = sql.SQL(
        "LEFT JOIN LATERAL ({}) x ON true"
        " LEFT JOIN tariff_notification_settings ts ON ts.tariff_id = x.tariff_id"
    ).format(sql.SQL(in_force("a.id", "%(at)s", columns="t.tariff_id")))
    return joins, sql.SQL("coalesce(ts.balance_threshold, %(threshold)s::numeric)")


# The accounts below their threshold, once: whether they have been alerted in this fall
# and whether an alert is due now. The pass works from this table alone.
_BELOW = """
    CREATE TEMP TABLE balance_below ON COMMIT DROP AS
    SELECT a.id AS account_id, a.phone, a.email, b.account_id IS NOT NULL AS alerted,
           (b.account_id IS NULL
            OR (b.times < %(max_times)s
                AND %(day)s::date - (b.last_at AT TIME ZONE %(tz)s)::date >= %(every)s)) AS due
      FROM accounts a
      {joins}
      LEFT JOIN balance_alerts b ON b.account_id = a.id
     WHERE {measure} < %(highest)s AND {measure} < {threshold}
"""

# Recovered: alerted before, not below now.
_RESET = """
    DELETE FROM balance_alerts b
     WHERE NOT EXISTS (SELECT 1 FROM balance_below w WHERE w.account_id = b.account_id)
"""

# The alerts of the pass counted (the skipped too: a subscriber without a number is not
# tried again every day): one more for those alerted before, a first for the rest.
_COUNT = """
    WITH counted AS (
        UPDATE balance_alerts b SET times = b.times + 1, last_at = %(at)s
          FROM balance_below w WHERE w.due AND w.alerted AND b.account_id = w.account_id
    )
    INSERT INTO balance_alerts (account_id, times, last_at)
    SELECT account_id, 1, %(at)s FROM balance_below WHERE due AND NOT alerted
"""


def balance_alerts(conn: psycopg.Connection, at: datetime,
                   settings: SimpleNamespace | None = None) -> PassResult:
    """The low-balance pass at ``at`` (module docstring): reset the recovered, add the
    due to the day's ``low_balance`` batch (its messages are made when it is sent:
    ``batches.materialize``), count the alerts, in one transaction."""
    settings = settings or settings_mod.load()
    rules = Rules.from_settings(settings)
    tz = ZoneInfo(settings.TIME_ZONE)
    result = PassResult()
    highest = conn.execute("SELECT max(balance_threshold) FROM tariff_notification_settings"
                           ).fetchone()[0]
    overrides = highest is not None
    thresholds = [t for t in (rules.threshold, highest) if t is not None]
    measure = sql.SQL("(a.balance + a.credit)" if rules.with_credit else "a.balance")
    joins, threshold = _threshold(rules, overrides)
    day = at.astimezone(tz).date()
    params = {"threshold": rules.threshold, "at": at, "tz": settings.TIME_ZONE,
              "day": day, "max_times": rules.max_times, "every": rules.every_days,
              "highest": max(thresholds) if thresholds else None}
    with conn.transaction():
        # Two passes at once (the beat's and a hand-run one) take turns: each would
        # otherwise count the same alert.
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('ebs.sms_balance_alerts')::bigint)")
        conn.execute("DROP TABLE IF EXISTS balance_below")
        conn.execute(sql.SQL(_BELOW).format(joins=joins, measure=measure,
                                            threshold=threshold), params)
        result.reset = conn.execute(_RESET).rowcount
        due = conn.execute("SELECT count(*) FROM balance_below WHERE due").fetchone()[0]
        if not due:
            return result
        quiet = quiet_hours.parse(settings.SENDSMS_QUIET_HOURS)
        batch_id = batches.for_event(
            conn, template_code="low_balance", channel="sms",
            due_at=quiet.next_allowed(at, tz) if quiet else at,
            request_key=f"low_balance:{day.isoformat()}")
        result.add(queue_recipients(
            conn, batch_id, "low_balance",
            sql.SQL("SELECT account_id, phone, email FROM balance_below WHERE due"), {},
            settings=settings))
        conn.execute(_COUNT, {"at": at})
        result.selected = due
        batches.counted(conn, batch_id, selected=due, queued=result.queued,
                        skipped=sum(result.skipped.values()))
    return result


# --- payments and blocks: read since a mark --------------------------------------------

def _mark(conn: psycopg.Connection, event: str, table: str) -> int | None:
    """The event's mark, locked for this pass; a first pass sets it at the table's end
    and answers None (nothing of the past is told)."""
    started = conn.execute(sql.SQL(
        "INSERT INTO notification_marks (event, last_id)"
        " SELECT %s, coalesce(max(id), 0) FROM {} ON CONFLICT (event) DO NOTHING RETURNING 1"
    ).format(sql.Identifier(table)), (event,)).fetchone()
    if started:
        return None
    return conn.execute("SELECT last_id FROM notification_marks WHERE event = %s FOR UPDATE",
                        (event,)).fetchone()[0]


def _move_mark(conn: psycopg.Connection, event: str, last_id: int, newest: int | None) -> None:
    if newest is not None and newest > last_id:
        conn.execute("UPDATE notification_marks SET last_id = %s, updated_at = now()"
                     " WHERE event = %s", (newest, event))


_PAYMENTS = """
    SELECT e.account_id, 'payment:' || e.id, e.amount, ''::text, ''::text, NULL::integer,
           {account}
      FROM ledger_entries e JOIN accounts a ON a.id = e.account_id
     WHERE e.id > %(mark)s AND e.kind = 'payment'
       AND NOT EXISTS (SELECT 1 FROM ledger_entries r WHERE r.reverses_id = e.id)
"""


def payment_notices(conn: psycopg.Connection, at: datetime,
                    settings: SimpleNamespace | None = None) -> PassResult:
    """``payment_received`` for each payment credited since the mark (not reversed)."""
    settings = settings or settings_mod.load()
    result = PassResult()
    if not Rules.from_settings(settings).payments:
        return result
    with conn.transaction():
        mark = _mark(conn, "payment_received", "ledger_entries")
        if mark is None:
            return result
        params = {"mark": mark}
        rows = sql.SQL(_PAYMENTS).format(account=ACCOUNT_SELECT)
        result.selected = conn.execute(
            sql.SQL("SELECT count(*) FROM ({}) p").format(rows), params).fetchone()[0]
        if result.selected:
            result.add(queue_rows(conn, "payment_received", rows, params, at,
                                  settings=settings, at=at))
        newest = conn.execute(
            "SELECT max(id) FROM ledger_entries WHERE id > %s AND created_at <= %s",
            (mark, at - SETTLE)).fetchone()[0]
        _move_mark(conn, "payment_received", mark, newest)
    return result


_BLOCKS = """
    SELECT h.id, h.account_id, h.what
      FROM account_status_history h JOIN accounts a ON a.id = h.account_id
     WHERE h.id > %(mark)s AND h.what IN ('blocked_by_balance', 'blocked_by_limit')
       AND h.new_value = 'true'
       AND CASE h.what WHEN 'blocked_by_balance' THEN a.blocked_by_balance
                       ELSE a.blocked_by_limit END
     ORDER BY h.id
"""


def block_notices(conn: psycopg.Connection, at: datetime,
                  settings: SimpleNamespace | None = None) -> PassResult:
    """``blocked`` for each block turned on since the mark and still on, with its reason
    and fix; key ``blocked:<account>:<state change>``."""
    settings = settings or settings_mod.load()
    result = PassResult()
    if not Rules.from_settings(settings).blocks:
        return result
    tz = ZoneInfo(settings.TIME_ZONE)
    words = reject_messages.texts(settings.LANGUAGE_CODE, settings.RADIUS_REJECT_MESSAGES)
    with conn.transaction():
        mark = _mark(conn, "blocked", "account_status_history")
        if mark is None:
            return result
        blocks = conn.execute(_BLOCKS, {"mark": mark}).fetchall()
        result.selected = len(blocks)
        ids, accounts, amounts, reasons, untils = [], [], [], [], []
        for change_id, account_id, what in blocks:
            reason = Reason(what)
            found = limitation(conn, account_id, at, tz)
            fix = found if found is not None and found.reason is reason else None
            ids.append(change_id)
            accounts.append(account_id)
            amounts.append(fix.pay if fix and fix.pay else Decimal("0.00"))
            reasons.append(words.get(str(reason), ""))
            untils.append(fix.until.astimezone(tz).strftime("%d.%m.%Y %H:%M")
                          if fix and fix.until else "")
        if ids:
            rows = sql.SQL(
                "SELECT v.account_id, 'blocked:' || v.account_id || ':' || v.change_id,"
                " v.amount, v.reason, v.until, NULL::integer, {} FROM unnest(%(ids)s::bigint[],"
                " %(accounts)s::bigint[], %(amounts)s::numeric[], %(reasons)s::text[],"
                " %(untils)s::text[]) v (change_id, account_id, amount, reason, until)"
                " JOIN accounts a ON a.id = v.account_id").format(ACCOUNT_SELECT)
            result.add(queue_rows(conn, "blocked", rows, {
                "ids": ids, "accounts": accounts, "amounts": amounts, "reasons": reasons,
                "untils": untils}, at, settings=settings, at=at))
        newest = conn.execute(
            "SELECT max(id) FROM account_status_history WHERE id > %s AND recorded_at <= %s",
            (mark, at - SETTLE)).fetchone()[0]
        _move_mark(conn, "blocked", mark, newest)
    return result


# --- the forecast -----------------------------------------------------------------------

# Accounts whose money may last NOTIFY_FORECAST_DAYS days or less: a superset, by an
# upper bound of the forecast's daily rate — each periodic service of the tariff in force
# (charged statuses only, as the forecast) at its cost over the shortest period of its
# unit, whatever its condition and dates, plus the forecast's own usage average, plus a
# kopeck per rounded part. forecast() then decides each candidate exactly.
_CANDIDATES = f"""
    WITH tariff_rate AS (
        SELECT s.tariff_id,
               sum(s.cost / CASE p.unit WHEN 'DAY' THEN 1 WHEN 'WEEK' THEN 7
                                         WHEN 'MONTH' THEN 28 WHEN 'YEAR' THEN 365
                                         ELSE greatest(p.length_seconds, 1) / 86400.0 END)
                   AS per_day
          FROM periodic_services s JOIN settlement_periods p ON p.id = s.settlement_period_id
         WHERE s.cost > 0
         GROUP BY s.tariff_id
    ),
    usage AS (
        SELECT e.account_id, -sum(e.amount) AS spent
          FROM ledger_entries e
          LEFT JOIN ledger_entries r ON r.id = e.reverses_id AND e.kind = 'reversal'
         WHERE e.effective_at > %(since)s AND e.effective_at <= %(at)s
           AND e.kind IN ('charge_traffic', 'charge_time', 'reversal')
           AND coalesce(r.kind, e.kind) IN ('charge_traffic', 'charge_time')
         GROUP BY e.account_id
    ),
    rated AS (
        SELECT a.id, a.balance + a.credit AS total,
               coalesce(CASE WHEN a.status = ANY(%(charged)s) THEN tr.per_day END, 0)
               + coalesce(u.spent / greatest(1, extract(epoch FROM %(at)s - greatest(
                     %(since)s, (SELECT min(f.assigned_at) FROM account_tariffs f
                                  WHERE f.account_id = a.id))) / 86400), 0)
               + 0.03 AS rate
          FROM accounts a
          LEFT JOIN LATERAL ({in_force("a.id", "%(at)s", columns="t.tariff_id")}) x ON true
          LEFT JOIN tariff_rate tr ON tr.tariff_id = x.tariff_id
          LEFT JOIN usage u ON u.account_id = a.id
         WHERE (tr.per_day IS NOT NULL AND a.status = ANY(%(charged)s))
            OR u.spent IS NOT NULL
    )
    SELECT id FROM rated WHERE rate > 0 AND total < (%(days)s + 1) * rate ORDER BY id
"""


def forecast_candidates(conn: psycopg.Connection, at: datetime, days: int) -> list[int]:
    """The accounts whose forecast may say ``days`` days or less (a superset)."""
    return [r[0] for r in conn.execute(_CANDIDATES, {
        "at": at, "since": at - timedelta(days=USAGE_DAYS), "days": days,
        "charged": list(CHARGED_STATUSES)})]


def forecast_notices(conn: psycopg.Connection, at: datetime,
                     settings: SimpleNamespace | None = None) -> PassResult:
    """``forecast`` to each account whose money lasts between 1 and NOTIFY_FORECAST_DAYS
    days and was not told since its forecast last rose above them."""
    settings = settings or settings_mod.load()
    days = Rules.from_settings(settings).forecast_days
    result = PassResult()
    if not days:
        return result
    tz = ZoneInfo(settings.TIME_ZONE)
    with conn.transaction():
        within: dict[int, int] = {}
        for account_id in forecast_candidates(conn, at, days):
            left = forecast(conn, account_id, at, tz).days_left
            if left is not None and left <= days:
                within[account_id] = left
        result.reset = conn.execute(
            "DELETE FROM forecast_notices WHERE NOT (account_id = ANY(%s))",
            (list(within),)).rowcount
        told = {r[0] for r in conn.execute(
            "SELECT account_id FROM forecast_notices WHERE account_id = ANY(%s)",
            (list(within),))}
        new = {a: d for a, d in within.items() if a not in told and d > 0}
        result.selected = len(new)
        if new:
            rows = sql.SQL(
                "SELECT v.id, 'forecast:' || v.id || ':' || %(day)s, 0.00::numeric, ''::text,"
                " ''::text, v.days, {} FROM unnest(%(ids)s::bigint[], %(days)s::integer[])"
                " v (id, days) JOIN accounts a ON a.id = v.id").format(ACCOUNT_SELECT)
            result.add(queue_rows(conn, "forecast", rows, {
                "ids": list(new), "days": list(new.values()),
                "day": at.astimezone(tz).date()}, at, settings=settings, at=at))
        conn.execute(
            "INSERT INTO forecast_notices (account_id, days_left, sent_at)"
            " SELECT id, days, %s FROM unnest(%s::bigint[], %s::integer[]) v (id, days)"
            " ON CONFLICT (account_id) DO NOTHING",
            (at, list(within), list(within.values())))
    return result


PASSES = {"balance": balance_alerts, "payments": payment_notices, "blocks": block_notices,
          "forecast": forecast_notices}


def run_events(conn: psycopg.Connection, at: datetime,
               settings: SimpleNamespace | None = None,
               which: tuple[str, ...] = ("payments", "blocks", "forecast")) -> dict:
    """The passes named (of :data:`PASSES`), each its own transaction: name → figures."""
    settings = settings or settings_mod.load()
    return {name: PASSES[name](conn, at, settings).as_dict() for name in which}
