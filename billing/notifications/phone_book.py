"""Subscribers' numbers read to E.164 once, kept in ``phone_numbers``.

``phones.to_e164`` parses a number in Python (libphonenumber's rules); a balance pass over
50,000 subscribers cannot afford that per row, and need not: the answer depends only on
the text, the region and the numbering-plan data. So each distinct text is read once and
its answer (the E.164 number, or the refusal's reason) is kept; a pass joins the table
and reads only the texts it has not seen. The phonenumbers version is part of the key's
validity: after an upgrade of its data every number is read again.
"""

from __future__ import annotations

import phonenumbers
import psycopg
from psycopg import sql

from billing.notifications.phones import PhoneError, to_e164

VERSION = phonenumbers.__version__
ANALYZE_AFTER = 1000


def learn(conn: psycopg.Connection, raw_numbers: sql.Composable, params: dict,
          region: str) -> int:
    """Read the numbers of ``raw_numbers`` (a query of one text column) not read yet in
    ``region``; returns how many were new."""
    missing = conn.execute(
        sql.SQL("SELECT DISTINCT q.raw FROM ({}) q (raw)"
                " WHERE NOT EXISTS (SELECT 1 FROM phone_numbers p WHERE p.region = %(region)s"
                " AND p.raw = q.raw AND p.checked_with = %(version)s)").format(raw_numbers),
        {**params, "region": region, "version": VERSION}).fetchall()
    if not missing:
        return 0
    raws, e164s, reasons = [], [], []
    for (raw,) in missing:
        try:
            number, reason = to_e164(raw, region), None
        except PhoneError as exc:
            number, reason = None, exc.reason
        raws.append(raw)
        e164s.append(number)
        reasons.append(reason)
    conn.execute(
        "INSERT INTO phone_numbers (region, raw, e164, reason, checked_with)"
        " SELECT %s, raw, e164, reason, %s"
        "   FROM unnest(%s::text[], %s::text[], %s::text[]) v (raw, e164, reason)"
        " ON CONFLICT (region, raw) DO UPDATE SET e164 = EXCLUDED.e164,"
        "     reason = EXCLUDED.reason, checked_with = EXCLUDED.checked_with",
        (region, VERSION, raws, e164s, reasons))
    if len(raws) >= ANALYZE_AFTER:
        # Many new rows at once (a first pass): without fresh statistics the planner
        # takes the table for nearly empty and loops over it for every subscriber.
        conn.execute("ANALYZE phone_numbers")
    return len(raws)


def lookup(conn: psycopg.Connection, raw: str, region: str) -> tuple[str | None, str | None]:
    """(E.164, None) or (None, reason) for one number, read and kept if new."""
    learn(conn, sql.SQL("SELECT %(raw)s::text"), {"raw": raw}, region)
    return conn.execute("SELECT e164, reason FROM phone_numbers WHERE region = %s AND raw = %s",
                        (region, raw)).fetchone()
