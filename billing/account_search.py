"""Finding a subscriber the way an operator types: one rule for the admin's account list
and the cashier's desk.

What the text looks like decides what is searched, and every branch has its index
(migration 202612070300), so a search stays one LIMITed statement at 500,000 accounts:

* phone-like text (digits with ``+ - ( )`` and spaces, at least ``MIN_PHONE_DIGITS``
  digits): the phone by its digits, ``ebs_phone_digits`` (``89161234501``,
  ``9161234501`` and ``+7 916 123-45-01`` are one subscriber), and also the contract or
  login starting with the text, since contracts are often numbers too;
* any text: the contract or login equal to it or starting with it (case as typed);
* text of ``MIN_SUBSTRING`` characters or more, not phone-like: also any part of the
  full name or of the address (street and house), case-insensitive (pg_trgm). A shorter
  text has no trigram to look up, so it searches contract and login only.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from psycopg.rows import dict_row

MIN_SUBSTRING = 3
MIN_PHONE_DIGITS = 5
_PHONE_LIKE = re.compile(r"^\+?[0-9()\- ]+$")

# The parts of the rule, each an indexed predicate; ``{p}`` is where a parameter goes.
PHONE_CLAUSE = "ebs_phone_digits(phone) = ebs_phone_digits({phone})"
PREFIX_CLAUSE = "contract LIKE {prefix} ESCAPE '\\' OR login LIKE {prefix} ESCAPE '\\'"
NAME_CLAUSE = "full_name ILIKE {contains} ESCAPE '\\'"
ADDRESS_CLAUSE = "(street || ' ' || house) ILIKE {contains} ESCAPE '\\'"

_COLUMNS = "id, contract, login, full_name, phone, street, house, flat, status, balance"


def phone_digits(text: str) -> str:
    """The phone's search key, as ``ebs_phone_digits`` computes it in the database."""
    digits = re.sub(r"[^0-9]", "", text or "")
    if len(digits) == 11 and digits[0] in "78":
        return digits[1:]
    return digits


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True)
class AccountSearch:
    """What one search text asks for."""

    text: str
    by_phone: bool
    by_substring: bool

    @property
    def prefix(self) -> str:
        """LIKE pattern: the contract or login starts with the text."""
        return _escape_like(self.text) + "%"

    @property
    def contains(self) -> str:
        """ILIKE pattern: the name or address holds the text somewhere."""
        return "%" + _escape_like(self.text) + "%"

    def where(self, param: Callable[[str], str] = lambda name: f"%({name})s",
              ) -> tuple[str, dict[str, str]]:
        """The WHERE condition over ``accounts`` and its parameters. ``param`` spells a
        placeholder for the caller's driver: psycopg's ``%(name)s`` by default,
        ``lambda n: ":" + n`` for SQLAlchemy's ``text()``."""
        clauses = [PREFIX_CLAUSE.format(prefix=param("prefix"))]
        values = {"prefix": self.prefix}
        if self.by_phone:
            clauses.append(PHONE_CLAUSE.format(phone=param("phone")))
            values["phone"] = self.text
        if self.by_substring:
            clauses.append(NAME_CLAUSE.format(contains=param("contains")))
            clauses.append(ADDRESS_CLAUSE.format(contains=param("contains")))
            values["contains"] = self.contains
        return "(" + " OR ".join(clauses) + ")", values


def parse(text: str | None) -> AccountSearch | None:
    """The search a typed text asks for, or None for an empty one."""
    text = " ".join((text or "").split())
    if not text:
        return None
    by_phone = bool(_PHONE_LIKE.match(text)) and len(phone_digits(text)) >= MIN_PHONE_DIGITS
    return AccountSearch(text=text, by_phone=by_phone,
                         by_substring=not by_phone and len(text) >= MIN_SUBSTRING)


def search_statement(search: AccountSearch, limit_param: str = "%(limit)s",
                     param: Callable[[str], str] = lambda name: f"%({name})s",
                     ) -> tuple[str, dict[str, str]]:
    """The one statement that lists matches, ordered by contract, at most ``limit``."""
    where, values = search.where(param)
    return (f"SELECT {_COLUMNS} FROM accounts WHERE {where} "
            f"ORDER BY contract LIMIT {limit_param}"), values


def find_accounts(conn: psycopg.Connection, text: str | None, limit: int = 50) -> list[dict]:
    """Accounts matching ``text`` by the rule above, first ``limit`` by contract."""
    search = parse(text)
    if search is None:
        return []
    statement, values = search_statement(search)
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(statement, {**values, "limit": limit}).fetchall()
