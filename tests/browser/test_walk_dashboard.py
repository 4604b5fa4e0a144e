"""The dashboard's charts in real Chromium: Chart.js served by the app draws both series
(payments and charges per day, sessions online per hour) under the page's content
security policy, with no request leaving the machine and no script error."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from billing.staff import ensure_staff
from tests.browser.test_walk import login

pytestmark = pytest.mark.slow

ADMIN = ("chief", "Chief-Secret-2026")
MSK = ZoneInfo("Europe/Moscow")

# What Chart.js holds for each canvas: the chart's type, its labels and each dataset's
# numbers, read back from the library itself (a blank canvas has no chart).
_CHARTS = """
() => ['ebs-chart-money', 'ebs-chart-online'].map((id) => {
  const chart = Chart.getChart(document.getElementById(id));
  return chart && {type: chart.config.type, labels: chart.data.labels,
                   data: chart.data.datasets.map((d) => d.data),
                   width: chart.width, height: chart.height};
})
"""


def test_the_dashboard_draws_its_charts_from_the_app_alone(page, shots, stack, conn):
    ensure_staff(conn, *ADMIN, "Admin")
    account = conn.execute("INSERT INTO accounts (contract, login) VALUES ('D-1', 'd1') "
                           "RETURNING id").fetchone()[0]
    midnight = datetime.now(MSK).replace(hour=0, minute=0, second=0, microsecond=0)
    conn.execute(
        "INSERT INTO ledger_entries (account_id, kind, amount, idempotency_key, effective_at) "
        "VALUES (%s, 'payment', 123.45, 'chart-p', %s), "
        "(%s, 'charge_periodic', -20.00, 'chart-c', %s)",
        (account, midnight + timedelta(seconds=1), account, midnight - timedelta(days=1)))
    conn.execute("INSERT INTO online_samples VALUES (date_trunc('hour', now()), 42)")

    login(page, *ADMIN)
    page.goto("/")
    expect(page.locator("canvas#ebs-chart-money")).to_be_visible()
    expect(page.locator("canvas#ebs-chart-online")).to_be_visible()
    money, online = page.evaluate(_CHARTS)
    shots.take(page, "dashboard-charts")
    assert money["type"] == "bar" and len(money["labels"]) == 30
    assert money["labels"][-1] == midnight.strftime("%d.%m")
    assert money["data"][0][-1] == 123.45 and money["data"][1][-2] == 20
    assert online["type"] == "line" and len(online["labels"]) == 24
    assert online["data"][0][-1] == 42 and online["data"][0][0] is None
    assert money["width"] > 100 and money["height"] > 100
    assert not page.outside.urls, page.outside.urls
    assert not page.script_errors, page.script_errors
