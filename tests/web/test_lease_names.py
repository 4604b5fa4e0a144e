"""The IP lease list names the pool and the subscriber's login, not their ids, and reads
them with the page's own query: the same number of statements for 2 leases as for 300."""

from __future__ import annotations

import re


def _seed(conn, count: int, start: int) -> None:
    conn.execute("INSERT INTO accounts (contract, login) SELECT 'c' || g, 'a' || g "
                 "FROM generate_series(%s::int, %s::int) g", (start + 1, start + count))
    conn.execute("INSERT INTO subaccounts (account_id, username) "
                 "SELECT id, 'ppp-' || login FROM accounts WHERE contract ~ '^c' "
                 "AND NOT EXISTS (SELECT 1 FROM subaccounts s WHERE s.account_id = accounts.id)")
    conn.execute("INSERT INTO ip_pools (name, kind, range_start, range_end) "
                 "VALUES ('Пул ' || %s, 'ipv4_vpn', %s::inet, %s::inet + 250)",
                 (start, f"10.{start}.0.0", f"10.{start}.0.0"))
    conn.execute(
        "INSERT INTO ip_leases (pool_id, address, state, subaccount_id, expires_at) "
        "SELECT (SELECT max(id) FROM ip_pools), '10.200.0.0'::inet + s.id, 'active', s.id,"
        " now() + interval '1 hour' FROM subaccounts s "
        "WHERE NOT EXISTS (SELECT 1 FROM ip_leases l WHERE l.subaccount_id = s.id)")


def _cells(html: str) -> list[str]:
    found = re.findall(r"<td[^>]*>(.*?)</td>", html, re.S)
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in found]


def test_leases_show_pool_name_and_login_without_a_query_per_row(as_admin, conn, count_queries):
    _seed(conn, 2, 0)
    with count_queries() as small:
        page = as_admin.get("/ipleaseview/list/")
    assert page.status_code == 200
    cells = _cells(page.text)
    assert "Пул 0" in cells and "ppp-a1" in cells and "ppp-a2" in cells
    pool_id, sub_id = conn.execute(
        "SELECT pool_id, subaccount_id FROM ip_leases ORDER BY id LIMIT 1").fetchone()
    # Neither id stands alone in a cell where the name belongs.
    assert str(sub_id) not in cells and str(pool_id) not in cells
    _seed(conn, 300, 2)
    with count_queries() as large:
        page = as_admin.get("/ipleaseview/list/")
    rows = [cells[i:i + 7] for i in range(0, len(cells), 7) for cells in [_cells(page.text)]]
    assert rows and all(row[2] == "Пул 2" and row[3].startswith("ppp-a") for row in rows)
    assert large.count == small.count, (small.count, large.count)
