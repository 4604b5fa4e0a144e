"""The "Traffic reconciliation" page: what flow/reconcile.py found, mismatches and silent
exporters first, filtered by state, kind, NAS and period, on the ISP's clock; readable
by those who read the traffic reports (ReadOnly), not by a cashier."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from tests.web.conftest import CASHIER, READONLY, login
from tests.web.test_account_actions import _account

MB = 1024 * 1024
URL = "/trafficreconciliationview/list/"
NOON = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)  # 12:00 in Moscow


def _seed(conn) -> dict:
    account = _account(conn, "REC-1")
    north, south = (conn.execute(
        "INSERT INTO nas (name, ip_address, secret) VALUES (%s, %s, 'a-secret-of-16-chars')"
        " RETURNING id", (name, address)).fetchone()[0]
        for name, address in (("Север", "10.30.0.1"), ("Юг", "10.30.0.2")))
    rows = {
        # difference = accounting - flows, as the reconciliation writes it
        "mismatch": ("session", "s-mismatch", account, north, NOON - timedelta(days=2),
                     NOON - timedelta(days=2, hours=-3), 200 * MB, 150 * MB, "mismatch"),
        "silent": ("exporter", None, None, south, NOON - timedelta(days=1),
                   NOON - timedelta(days=1, hours=-1), 40 * MB, 0, "silent"),
        "ok": ("session", "s-ok", account, north, NOON, NOON + timedelta(hours=1),
               10 * MB, 10 * MB, "ok"),
        "open": ("exporter", None, None, north, NOON + timedelta(hours=1), None,
                 5 * MB, 4 * MB, "open"),
    }
    for kind, acct, owner, nas, start, end, accounting, flows, state in rows.values():
        conn.execute(
            "INSERT INTO traffic_reconciliation (kind, acct_unique_id, account_id, nas_id,"
            " period_start, period_end, accounting_bytes, flow_bytes, difference, state,"
            " checked_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (kind, acct, owner, nas, start, end, accounting, flows, accounting - flows,
             state, NOON + timedelta(hours=2)))
    return {"account": account, "north": north, "south": south}


def _rows(page: str) -> list[list[str]]:
    table = page.split('class="table table-bordered table-hover"', 1)[1].split("</table>", 1)[0]
    body = re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)[1:]
    return [[re.sub(r"<[^>]+>", "", cell).strip()
             for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)] for row in body]


def _states(page: str) -> list[str]:
    known = ("Figures differ", "Exporter silent", "Figures agree", "Hour not over yet")
    return [next(cell for cell in row if cell in known) for row in _rows(page)]


def test_mismatches_and_silent_exporters_come_first_with_their_figures(client, conn):
    seeded = _seed(conn)
    login(client, *READONLY)
    page = client.get(URL).text
    # The newest rows agree; what needs attention still leads, newest first.
    assert _states(page) == ["Exporter silent", "Figures differ", "Hour not over yet",
                             "Figures agree"]
    mismatch = next(row for row in _rows(page) if "Figures differ" in row)
    assert "Session" in mismatch and "REC-1 Действий Иван" in mismatch
    assert "Север" in mismatch
    # 200 MB by accounting, 150 MB of flows: 50 MB, 25 % of the larger figure.
    assert mismatch[-5:-1] == ["200", "150", "50", "25"]
    # Moments on the ISP's clock (Moscow, UTC+3).
    assert any("2026-11-14 12:00" in cell for cell in mismatch)
    assert f'href="/accountview/show/{seeded["account"]}"' in page
    silent = next(row for row in _rows(page) if "Exporter silent" in row)
    assert "Exporter (NAS) hour" in silent and "Юг" in silent and "—" in silent
    assert silent[-5:-1] == ["40", "0", "40", "100"]
    # The menu names it next to the other traffic reports.
    menu = page.split("Traffic not attributed", 1)[1]
    assert 'href="/trafficreconciliationview/list/"' in menu.split("</ul>", 1)[0]


def test_the_filters_narrow_by_state_kind_nas_and_period(client, conn):
    seeded = _seed(conn)
    login(client, *READONLY)
    assert _states(client.get(f"{URL}?_flt_0_state=ok").text) == ["Figures agree"]
    assert _states(client.get(f"{URL}?_flt_0_kind=exporter").text) == [
        "Exporter silent", "Hour not over yet"]
    assert _states(client.get(f"{URL}?_flt_0_nas={seeded['south']}").text) == [
        "Exporter silent"]
    # Typed on the ISP's clock, as the page shows it: 10:00 in Moscow is 07:00 UTC, so
    # the row of 09:00 UTC (12:00 there) is after it.
    assert _states(client.get(f"{URL}?_flt_0_period_start=2026-11-16+10:00").text) == [
        "Hour not over yet", "Figures agree"]
    assert _states(client.get(f"{URL}?_flt_0_period_start=2026-11-16+10:00"
                              f"&_flt_1_period_start=16.11.2026+12:30").text) == [
        "Figures agree"]
    both = client.get(f"{URL}?_flt_0_state=mismatch&_flt_0_nas={seeded['north']}").text
    assert _states(both) == ["Figures differ"]


def test_the_attention_order_is_one_index_walk(conn):
    conn.execute("SET enable_seqscan = off")
    plan = "\n".join(r[0] for r in conn.execute(
        "EXPLAIN SELECT * FROM traffic_reconciliation"
        " ORDER BY (traffic_reconciliation.state IN ('mismatch', 'silent')) DESC,"
        " period_start DESC, id DESC LIMIT 25"))
    assert "traffic_reconciliation_attention_idx" in plan and "Sort" not in plan, plan


def test_a_cashier_who_cannot_read_traffic_reports_cannot_read_it(client, conn):
    _seed(conn)
    login(client, *CASHIER)
    assert client.get("/reports/traffic_top/").status_code in (302, 401, 403)
    assert client.get(URL).status_code in (302, 401, 403)
    assert "Figures differ" not in client.get(URL, follow_redirects=True).text
    assert "/trafficreconciliationview/" not in client.get("/").text
