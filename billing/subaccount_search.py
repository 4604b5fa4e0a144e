"""Finding a subaccount as an operator types, for the admin's pickers: by the start of
its login, or by its account found with the account rule (``billing.account_search``:
contract or login prefix, phone digits, any part of the name or address).

Both branches are LIMITed on an index (``subaccounts_username_prefix_idx``, the account
search's own indexes, then ``subaccounts_account_idx``), so a keystroke costs the same at
500,000 accounts.
"""

from __future__ import annotations

import psycopg
from psycopg.rows import dict_row

from billing.account_search import parse


def find_subaccounts(conn: psycopg.Connection, text: str | None, limit: int = 20,
                     ) -> list[dict]:
    """Subaccounts matching ``text`` (id, username, account's contract and name), first
    ``limit`` by login."""
    search = parse(text)
    if search is None:
        return []
    where, values = search.where()
    statement = f"""
        SELECT s.id, s.username, a.id AS account_id, a.contract, a.full_name
          FROM (
                (SELECT id, username, account_id FROM subaccounts
                  WHERE username LIKE %(prefix)s ESCAPE '\\' LIMIT %(limit)s)
                UNION
                (SELECT s.id, s.username, s.account_id
                   FROM (SELECT id FROM accounts WHERE {where}
                          ORDER BY contract LIMIT %(limit)s) found
                   JOIN subaccounts s ON s.account_id = found.id)
               ) s
          JOIN accounts a ON a.id = s.account_id
         ORDER BY a.contract, s.username
         LIMIT %(limit)s
    """
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(statement, {**values, "limit": limit}).fetchall()
