"""Queries per page: a list page runs a fixed number of statements whatever the table's
size (no N+1, no full COUNT), counted with a SQLAlchemy event listener on the app's
engine."""

from datetime import UTC, datetime

import pytest

# Measured per page (the user and permissions lookups of FAB included); a change that
# adds queries must update these on purpose.
BUDGET = {
    "/accountview/list/": 6,
    "/ledgerview/list/": 8,
    "/tariffview/list/": 6,
    "/cashier/?q=40001": 5,
    "/cashier/account/{account}": 6,
    # The card: the account, its summary and tariff, then a list and a count per tab,
    # and the Traffic tab's usage and series (two).
    "/accountview/show/{account}": 27,
    "/subaccountview/list/": 6,
}


def _seed(conn, accounts: int, start: int = 0) -> int:
    conn.execute(
        """
        INSERT INTO accounts (contract, login, full_name, street)
        SELECT (40000 + g)::text, 'l' || g, 'Абонент ' || g, 'ул. ' || g
          FROM generate_series(%s::int, %s::int) g
        """,
        (start + 1, start + accounts),
    )
    conn.execute(
        """
        INSERT INTO ledger_entries (account_id, kind, amount, idempotency_key, effective_at)
        SELECT id, 'payment', 100, 'seed:' || id, %s FROM accounts WHERE id > %s
        """,
        (datetime.now(UTC), start),
    )
    conn.execute(
        "INSERT INTO settlement_periods (name, unit, autostart) "
        "SELECT 'P' || g, 'DAY', true FROM generate_series(%s::int, %s::int) g",
        (start + 1, start + accounts))
    conn.execute(
        "INSERT INTO tariffs (name, settlement_period_id) "
        "SELECT 'T' || id, id FROM settlement_periods WHERE id > %s", (start,))
    conn.execute(
        "INSERT INTO subaccounts (account_id, username) "
        "SELECT id, 's' || id FROM accounts WHERE id > %s", (start,))
    return conn.execute("SELECT min(id) FROM accounts").fetchone()[0]


def _count(client, counter, url):
    with counter() as seen:
        response = client.get(url)
    assert response.status_code in (200, 302), url
    return seen.count


@pytest.mark.parametrize("page", sorted(BUDGET))
def test_queries_per_page_are_bounded_and_do_not_grow(as_admin, conn, count_queries, page):
    account = _seed(conn, 2)
    url = page.format(account=account)
    small = _count(as_admin, count_queries, url)
    _seed(conn, 300, start=2)
    conn.execute("ANALYZE accounts")
    large = _count(as_admin, count_queries, url)
    assert large == small, f"{url}: {small} queries with 2 rows, {large} with 302"
    assert large <= BUDGET[page], f"{url}: {large} queries, budget {BUDGET[page]}"
