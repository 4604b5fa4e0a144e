"""The reports: what each one selects, its columns and its chart.

Every query is one set-based statement bounded by the report's date range. Money by
period, gateway, cashier and kind sums ``ledger_totals`` (15-minute buckets the ledger's
insert trigger keeps), a few thousand rows a month instead of every entry; debtors probe
a debtor's payments through the ``(account_id, effective_at)`` index; the tariff
distribution sums ``assignment_totals`` (assignment spans started and ended, per bucket
and per day, kept by account_tariffs' triggers). None reads the ledger or every
assignment over a range. The traffic reports read the rater's statistics
(:func:`traffic_stats_rows`: ``traffic_stats_hourly`` by its primary key's hour, and the
days rolled up from it, ``traffic_stats_daily`` by its primary key's day) and the rejected
rows of the rater
(``traffic_rejects``) and of the collector (``flow_rejects``, its BRIN on the stamp).
Ranges are half-open ``[start, end)`` moments at the ISP's
local midnights, which are bucket boundaries in every timezone.

A reversal nets its original out in the period of the reversal: the ledger's own time,
when the money moved back. ``ledger_totals`` counts it in its own bucket under the
original's kind, source and operator, as -1 entry with its own (opposite) amount, so a
payment reversed a week later leaves the day it was taken as it was reported, lowers
the reversal's day by its amount, and its gateway, its cashier and, for a charge, its
kind alike; a payment posted and reversed within the range nets to zero. (The cashier's
shift report lists the day's payments themselves and marks those reversed since.)
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import text

MONEY, COUNT, TEXT, DATE, KIND = "money", "count", "text", "date", "kind"
# Bytes shown as megabytes; a traffic reject's reason code shown in words.
MEGABYTES, TRAFFIC_REJECT = "megabytes", "traffic_reject"
# A ledger row's description: what billing wrote in the reader's language, what a person
# typed as typed (webapp.labels.ledger_description).
LEDGER_TEXT = "ledger_text"

# How many accounts per group the top consumers list by default, and at most.
TOP_DEFAULT, TOP_MAX = 20, 1000

# A range longer than this buckets payments by month instead of by day.
DAILY_UP_TO_DAYS = 62


@dataclass(frozen=True)
class Column:
    key: str
    label: object  # a lazy string: translated when the page or the CSV is made
    kind: str = TEXT


@dataclass(frozen=True)
class Report:
    name: str
    title: object
    sql: str
    columns: tuple[Column, ...]
    chart: tuple[str, str] | None = None  # (label column, value column)
    # A long list takes :limit and :offset (a page on screen; NULL and 0: the whole CSV).
    paged: bool = False
    note: object = ""
    top: bool = False  # takes :top, how many rows per group (the form asks)
    # The same rows from the monthly totals, for a range of whole local months
    # (``:month_from``, ``:month_to``): ``month_sql`` for one, ``months_sql`` for more.
    month_sql: str = ""
    months_sql: str = ""

    @property
    def statement(self):
        return text(self.sql)

    def statement_for(self, params: dict):
        """The statement for ``params``: the monthly totals' when ``params["months"]``
        says the range is that many whole months (the view decides); that statement
        itself sums the hours while the months are not cut in the ISP's zone."""
        months = params.get("months") or 0
        if months == 1 and self.month_sql:
            return text(self.month_sql)
        if months >= 1 and self.months_sql:
            return text(self.months_sql)
        return self.statement


_PAYMENTS = "t.kind = 'payment' AND t.bucket >= :start AND t.bucket < :end"


def traffic_stats_rows(since: str = ":start", until: str = ":end",
                       account: str = "") -> str:
    """A subquery of the traffic statistics of ``[since, until)`` (two parameters; ``:tz``
    names the ISP's zone): the hours still kept hourly and the local days rolled up from
    older hours (flow/stats_rollup.py) that overlap the range, each row with its local
    ``day`` and, when it is one, its ``hour`` (NULL on a day's row). A byte is in one
    table or the other, so between local midnights the sum of both is the range's
    traffic whichever days were rolled up. ``account``: a parameter naming one account
    (each table read by its ``(account_id, …)`` index), or every account."""
    hourly = f"h.hour >= {since} AND h.hour < {until}"
    # A date compares with a timestamp as its midnight (one btree family: the day's index
    # serves both bounds).
    daily = (f"d.day > ({since} AT TIME ZONE :tz) - interval '1 day'"
             f" AND d.day < ({until} AT TIME ZONE :tz)")
    if account:
        hourly += f" AND h.account_id = {account}"
        daily += f" AND d.account_id = {account}"
    return f"""(SELECT h.hour, (h.hour AT TIME ZONE :tz)::date AS day, h.account_id,
                       h.group_id, h.bytes_in, h.bytes_out
                  FROM traffic_stats_hourly h
                 WHERE {hourly}
                UNION ALL
                SELECT NULL::timestamptz, d.day, d.account_id, d.group_id, d.bytes_in,
                       d.bytes_out
                  FROM traffic_stats_daily d
                 WHERE {daily})"""


def _top_per_group(totals: str) -> str:
    """The first ``:top`` accounts of each group by bytes in and out, from ``totals``
    (a query of account_id, group_id, bytes_in, bytes_out, a row per account and group)."""
    return f"""
    SELECT g.name AS group_name, r.place, a.contract, a.full_name,
           r.bytes_in, r.bytes_out, r.bytes_in + r.bytes_out AS bytes_total
      FROM (SELECT t.*, row_number() OVER (
                       PARTITION BY t.group_id
                       ORDER BY t.bytes_in + t.bytes_out DESC, t.account_id) AS place
              FROM ({totals}) t) r
      JOIN accounts a ON a.id = r.account_id
      JOIN traffic_groups g ON g.id = r.group_id
     WHERE r.place <= :top
"""


# The top consumers summed from the hours and days of the range.
_TOP_BY_HOURS = _top_per_group(f"""
    SELECT s.account_id, s.group_id, sum(s.bytes_in)::bigint AS bytes_in,
           sum(s.bytes_out)::bigint AS bytes_out
      FROM {traffic_stats_rows()} s
     GROUP BY s.account_id, s.group_id""")
# Several months: their totals summed (a row per account and month, not per hour).
_TOP_OF_MONTHS = _top_per_group("""
    SELECT m.account_id, m.group_id, sum(m.bytes_in)::bigint AS bytes_in,
           sum(m.bytes_out)::bigint AS bytes_out
      FROM traffic_stats_monthly m
     WHERE m.month >= :month_from AND m.month < :month_to
     GROUP BY m.account_id, m.group_id""")
_TOP_ORDER = " ORDER BY group_name, place"
# One month: each group's largest rows read off the monthly index, the top first.
_TOP_OF_MONTH = """
    SELECT g.name AS group_name, r.place, a.contract, a.full_name,
           r.bytes_in, r.bytes_out, r.bytes_total
      FROM traffic_groups g
      CROSS JOIN LATERAL (
            SELECT m.account_id, m.bytes_in, m.bytes_out, m.bytes_total,
                   row_number() OVER (ORDER BY m.bytes_total DESC, m.account_id) AS place
              FROM traffic_stats_monthly m
             WHERE m.month = :month_from AND m.group_id = g.id
             ORDER BY m.bytes_total DESC, m.account_id
             LIMIT :top) r
      JOIN accounts a ON a.id = r.account_id
"""


def _months_or_hours(months: str) -> str:
    """``months`` while the monthly totals are cut in the ISP's zone (``:tz``,
    flow/stats_monthly.py), the hours and days otherwise: one statement, whose branch not
    taken is a one-time filter that reads nothing."""
    built = "(SELECT count(*) FROM traffic_stats_monthly_zone WHERE zone = :tz) = 1"
    return (f"SELECT * FROM ({months}) m WHERE {built}"
            f" UNION ALL SELECT * FROM ({_TOP_BY_HOURS}) h WHERE NOT {built}{_TOP_ORDER}")


REPORTS = {
    r.name: r for r in (
        Report(
            "payments", _l("Payments by period"),
            f"""
            SELECT date_trunc(:bucket, t.bucket AT TIME ZONE :tz)::date AS period,
                   sum(t.entries)::bigint AS payments, sum(t.amount) AS amount
              FROM ledger_totals t
             WHERE {_PAYMENTS}
             GROUP BY 1 ORDER BY 1
            """,
            (Column("period", _l("Period"), DATE), Column("payments", _l("Payments"), COUNT),
             Column("amount", _l("Amount"), MONEY)),
            chart=("period", "amount"),
            note=_l("By day for ranges up to two months, by month beyond."),
        ),
        Report(
            "gateways", _l("Payments by gateway"),
            f"""
            SELECT coalesce(nullif(t.source, ''), '-') AS source,
                   sum(t.entries)::bigint AS payments, sum(t.amount) AS amount
              FROM ledger_totals t
             WHERE {_PAYMENTS}
             GROUP BY 1 ORDER BY amount DESC
            """,
            (Column("source", _l("Gateway")), Column("payments", _l("Payments"), COUNT),
             Column("amount", _l("Amount"), MONEY)),
            chart=("source", "amount"),
            note=_l("The gateway is the payment's source; '-' where none was recorded."),
        ),
        Report(
            "cashiers", _l("Payments by cashier"),
            f"""
            SELECT u.username AS operator, trim(u.first_name || ' ' || u.last_name) AS name,
                   sum(t.entries)::bigint AS payments, sum(t.amount) AS amount
              FROM ledger_totals t
              JOIN ab_user u ON u.id = t.staff_user_id
             WHERE {_PAYMENTS}
             GROUP BY u.id, u.username, u.first_name, u.last_name ORDER BY amount DESC
            """,
            (Column("operator", _l("Operator")), Column("name", _l("Name")),
             Column("payments", _l("Payments"), COUNT), Column("amount", _l("Amount"), MONEY)),
            chart=("operator", "amount"),
        ),
        Report(
            "charges", _l("Charges by type"),
            """
            SELECT t.kind, sum(t.entries)::bigint AS charges, -sum(t.amount) AS amount
              FROM ledger_totals t
             WHERE t.kind IN (SELECT code FROM ledger_entry_kinds WHERE code LIKE 'charge%')
               AND t.bucket >= :start AND t.bucket < :end
             GROUP BY t.kind ORDER BY amount DESC
            """,
            (Column("kind", _l("Kind"), KIND), Column("charges", _l("Charges"), COUNT),
             Column("amount", _l("Amount"), MONEY)),
            chart=("kind", "amount"),
            note=_l("Refunds of a charge kind reduce its amount."),
        ),
        Report(
            "debtors", _l("Debtors"),
            """
            SELECT d.contract, d.full_name, d.phone, d.balance, d.credit,
                   (SELECT max(p.effective_at) FROM ledger_entries p
                     WHERE p.account_id = d.id AND p.kind = 'payment') AS last_payment
              FROM (SELECT a.id, a.contract, a.full_name, a.phone, a.balance, a.credit
                      FROM accounts a
                     WHERE a.balance + a.credit < 0
                       AND NOT EXISTS (
                           SELECT 1 FROM ledger_entries p
                            WHERE p.account_id = a.id AND p.kind = 'payment'
                              AND p.effective_at >= :start AND p.effective_at < :end)
                     ORDER BY a.id
                     LIMIT :limit OFFSET :offset) d
             ORDER BY d.id
            """,
            (Column("contract", _l("Contract")), Column("full_name", _l("Full name")),
             Column("phone", _l("Phone")), Column("balance", _l("Balance"), MONEY),
             Column("credit", _l("Credit"), MONEY),
             Column("last_payment", _l("Last payment"), DATE)),
            paged=True,
            note=_l("Accounts whose balance and credit are below zero today and who paid "
                    "nothing in the range, in account order (sort the CSV by debt)."),
        ),
        Report(
            "tariffs", _l("Tariff distribution"),
            """
            SELECT t.name AS tariff, coalesce(f.starts - f.ends, 0) AS accounts,
                   coalesce(m.starts, 0) AS joined
              FROM tariffs t
              LEFT JOIN ebs_assignment_moves('-infinity', :end) f ON f.tariff_id = t.id
              LEFT JOIN ebs_assignment_moves(:start, :end) m ON m.tariff_id = t.id
             WHERE f.starts - f.ends > 0 OR m.starts > 0
             ORDER BY accounts DESC, t.name
            """,
            (Column("tariff", _l("Tariff")), Column("accounts", _l("Accounts"), COUNT),
             Column("joined", _l("Moved to it in the range"), COUNT)),
            chart=("tariff", "accounts"),
            note=_l("Accounts on each tariff at the end of the range, and every move to it "
                    "in the range (also of those who moved on before its end)."),
        ),
        Report(
            "traffic_top", _l("Top traffic consumers"),
            _TOP_BY_HOURS + _TOP_ORDER,
            (Column("group_name", _l("Traffic group")), Column("place", _l("Place")),
             Column("contract", _l("Contract")), Column("full_name", _l("Full name")),
             Column("bytes_in", _l("Incoming, MB"), MEGABYTES),
             Column("bytes_out", _l("Outgoing, MB"), MEGABYTES),
             Column("bytes_total", _l("Total, MB"), MEGABYTES)),
            top=True,
            month_sql=_months_or_hours(_TOP_OF_MONTH),
            months_sql=_months_or_hours(_TOP_OF_MONTHS),
            note=_l("The accounts with the most traffic of each group in the range, in and "
                    "out together; hours on the ISP's clock."),
        ),
        Report(
            "traffic_rejects", _l("Traffic not attributed"),
            """
            SELECT x.day, x.reason, x.exporter, x.rows, x.packets, x.bytes
              FROM (SELECT (r.bin AT TIME ZONE :tz)::date AS day, r.reason,
                           NULL::text AS exporter, sum(r.row_count)::bigint AS rows,
                           NULL::bigint AS packets, sum(r.bytes)::bigint AS bytes
                      FROM traffic_rejects r
                     WHERE r.bin >= :start AND r.bin < :end
                     GROUP BY 1, r.reason
                    UNION ALL
                    SELECT (f.stamp_inserted AT TIME ZONE :tz)::date, f.reason,
                           host(f.peer_ip_src), NULL, sum(f.packets)::bigint,
                           sum(f.bytes)::bigint
                      FROM flow_rejects f
                     WHERE f.stamp_inserted >= :start AND f.stamp_inserted < :end
                     GROUP BY 1, f.reason, f.peer_ip_src) x
             ORDER BY x.day, x.reason, x.exporter
            """,
            (Column("day", _l("Day"), DATE), Column("reason", _l("Reason"), TRAFFIC_REJECT),
             Column("exporter", _l("Exporter")), Column("rows", _l("Rows"), COUNT),
             Column("packets", _l("Packets"), COUNT),
             Column("bytes", _l("Traffic, MB"), MEGABYTES)),
            note=_l("Per day: the rater's rows of an address nobody held (or of no "
                    "direction), and what the collector received from exporters that are "
                    "not a NAS of ours, by exporter."),
        ),
    )
}
