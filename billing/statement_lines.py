"""One statement line read by its section's pattern: what it says, or why it cannot be
believed. Pure: no database, no files; the import (``billing/statement_import.py``) looks
the contract up and posts.

A line's identity is its ``PID`` (the bank's payment number). A line without one (a
source whose format has no PID column, or left empty) is identified by the SHA-256 of its
bytes and of how many identical lines came before it in the same file: the same line
delivered again, in the same file or another one (a statement re-sent, a day's file
overlapping the next), credits nothing, while two identical lines in one file are two
payments, as the bank listed them. The line's number is left out on purpose: a bank that
re-sends a statement with a line added at the top must not credit the rest again.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from billing.money import MoneyError, to_money
from billing.statement_pattern import Section

# A statement lists payments made; one dated further ahead than this is a misread date.
FUTURE_SLACK = timedelta(days=1)
UTF8_BOM = b"\xef\xbb\xbf"
_SPACES = dict.fromkeys(map(ord, " \t\u00a0\u202f\u2009"))


@dataclass(frozen=True, slots=True)
class StatementLine:
    """A line that parsed: ``amount`` is a Decimal with at most two decimals (its sign
    checked later, by the payment it becomes), ``moment`` None when the format has no
    date."""

    number: int
    text: str
    unique_id: str
    contract: str
    amount: Decimal | None
    moment: datetime | None
    pid: str
    payer: str
    comment: str


@dataclass(frozen=True, slots=True)
class BadLine:
    """A line refused, with the reason's code (``bad_encoding``, ``field_count``,
    ``bad_date``, ``bad_sum``, ``no_contract``, ``no_pid``, or one of the import's) and
    words for the operator."""

    number: int
    text: str
    code: str
    reason: str


def read_lines(section: Section, data: bytes, zone: ZoneInfo,
               now: datetime) -> Iterator[StatementLine | BadLine]:
    """Every non-blank line of a file's ``data`` (after the header, when the section
    skips one), parsed or refused, in file order; ``now`` bounds dates from above."""
    seen: Counter[bytes] = Counter()
    raw_lines = data.split(b"\n")
    if section.encoding == "utf-8" and raw_lines[0].startswith(UTF8_BOM):
        raw_lines[0] = raw_lines[0][len(UTF8_BOM):]  # Windows editors write one
    for index, raw in enumerate(raw_lines, start=1):
        raw = raw.rstrip(b"\r")
        if index == 1 and section.skip_firstline:
            continue
        if not raw.strip():
            continue
        seen[raw] += 1
        yield parse_line(section, index, raw, seen[raw], zone, now)


def line_identity(raw: bytes, occurrence: int) -> str:
    """The unique id of a line without a PID (the module's docstring says why)."""
    return "line-" + hashlib.sha256(raw + b"\x00" + str(occurrence).encode()).hexdigest()


def parse_line(section: Section, number: int, raw: bytes, occurrence: int, zone: ZoneInfo,
               now: datetime) -> StatementLine | BadLine:
    try:
        text = raw.decode(section.encoding)
    except UnicodeDecodeError as exc:
        return BadLine(number, raw.decode(section.encoding, "replace"), "bad_encoding",
                       f"not {section.encoding} text ({exc.reason} at byte {exc.start})")
    fields = text.split(section.separator)
    names = section.fieldnames
    extra = fields[len(names):]
    if len(fields) < len(names) or any(f.strip() for f in extra):
        return BadLine(number, text, "field_count",
                       f"{len(fields)} fields, the pattern has {len(names)}")
    values: dict[str, str] = {}
    for position, name in enumerate(names):
        value = fields[position].strip()
        if not value and position < len(section.fielddefault):
            value = section.fielddefault[position].strip()
        if name != "EMPTY":
            values[name] = value
    moment = None
    if "DATETIME" in values:
        moment, problem = _moment(section, values, zone, now)
        if problem:
            return BadLine(number, text, "bad_date", problem)
    amount = None
    if "SUM" in values and (values["SUM"] or not section.reversal_payments):
        try:
            amount = _amount(values["SUM"])
        except MoneyError as exc:
            return BadLine(number, text, "bad_sum", f"sum {values['SUM']!r}: {exc}")
        if amount <= 0 and not section.reversal_payments:
            return BadLine(number, text, "bad_sum",
                           f"sum {values['SUM']!r}: a payment must be greater than zero")
    contract, pid = values.get("ACC", ""), values.get("PID", "")
    if not contract and not section.reversal_payments:
        return BadLine(number, text, "no_contract", "the contract (ACC) is empty")
    if not pid and section.reversal_payments:
        return BadLine(number, text, "no_pid",
                       "a reversal names the payment it cancels by its PID, and it is empty")
    return StatementLine(number, text, pid or line_identity(raw, occurrence), contract,
                         amount, moment, pid, values.get("FIO", ""), values.get("COMMENT", ""))


def _moment(section: Section, values: dict[str, str], zone: ZoneInfo,
            now: datetime) -> tuple[datetime | None, str]:
    text, fmt = values["DATETIME"], section.datetime_fmt
    if "TIME" in values:
        text, fmt = f"{text} {values['TIME']}", f"{fmt} {section.time_fmt}"
    try:
        moment = datetime.strptime(text, fmt)
    except ValueError:
        return None, f"date {text!r} does not match {fmt!r}"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    if moment > now + FUTURE_SLACK:
        return None, f"date {text!r} is in the future"
    return moment, ""


def _amount(text: str) -> Decimal:
    """Banks write ``1 234,50`` as often as ``1234.50``: spaces go, a lone comma is the
    decimal point; a sum with both a comma and a point is ambiguous and refused."""
    compact = text.translate(_SPACES)
    if "," in compact:
        if "." in compact or compact.count(",") > 1:
            raise MoneyError("not_an_amount", "both a comma and a point, or several commas")
        compact = compact.replace(",", ".")
    if not compact:
        raise MoneyError("not_an_amount", "the sum is empty")
    return to_money(compact)
