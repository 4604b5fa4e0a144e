"""A subscriber's traffic in real Chromium: the admin opens the card, the Traffic tab
shows this period's usage and Chart.js, served by the app, draws megabytes in and out per
day and per hour under the page's content security policy, with no request leaving the
machine and no script error; the tab's CSV downloads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from billing import settings as settings_mod
from billing.staff import ensure_staff
from tests.browser.test_walk import login, tab

pytestmark = pytest.mark.slow

ADMIN = ("netchief", "Netchief-Secret-2026")
MB = 1024 * 1024

# What Chart.js holds for each canvas (see test_walk_dashboard.py).
_CHARTS = """
() => ['ebs-chart-traffic-day', 'ebs-chart-traffic-hour'].map((id) => {
  const chart = Chart.getChart(document.getElementById(id));
  return chart && {type: chart.config.type, labels: chart.data.labels,
                   data: chart.data.datasets.map((d) => d.data),
                   width: chart.width, height: chart.height};
})
"""


def _subscriber_with_traffic(conn) -> int:
    account = conn.execute("INSERT INTO accounts (contract, login, full_name) VALUES"
                           " ('N-1', 'n1', 'Сетевой Семён') RETURNING id").fetchone()[0]
    tariff = conn.execute("INSERT INTO tariffs (name) VALUES ('Потоковый') RETURNING id"
                          ).fetchone()[0]
    now = datetime.now(UTC)
    assignment = conn.execute(
        "INSERT INTO account_tariffs (account_id, tariff_id, assigned_at) VALUES (%s, %s, %s)"
        " RETURNING id", (account, tariff, now - timedelta(days=5))).fetchone()[0]
    group = conn.execute("INSERT INTO traffic_groups (name) VALUES ('Интернет') RETURNING id"
                         ).fetchone()[0]
    conn.execute(
        "INSERT INTO traffic_usage (account_id, group_id, assignment_id, period_start,"
        " period_end, prepaid_bytes, used_bytes, billed_bytes, cost, charged)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 7.5, 7.50)",
        (account, group, assignment, now - timedelta(days=5), now + timedelta(days=25),
         100 * MB, 130 * MB, 30 * MB))
    hour = now.replace(minute=0, second=0, microsecond=0)
    conn.execute(
        "INSERT INTO traffic_stats_hourly (hour, account_id, group_id, bytes_in, bytes_out)"
        " VALUES (%s, %s, %s, %s, %s), (%s, %s, %s, %s, %s)",
        (hour, account, group, 96 * MB, 32 * MB,
         hour - timedelta(days=1), account, group, 2 * MB, MB))
    return account


def test_the_traffic_tab_draws_its_charts_from_the_app_alone(page, shots, stack, conn):
    ensure_staff(conn, *ADMIN, "Admin")
    account = _subscriber_with_traffic(conn)
    login(page, *ADMIN)
    page.goto(f"/accountview/show/{account}")
    tab(page, "Traffic")
    usage = page.locator("#ebs-traffic-usage tr[data-group]")
    expect(usage).to_have_count(1)
    expect(usage).to_contain_text("Интернет")
    expect(page.locator("canvas#ebs-chart-traffic-day")).to_be_visible()
    expect(page.locator("canvas#ebs-chart-traffic-hour")).to_be_visible()
    # Chart.js sizes a chart drawn in a hidden tab when the tab shows.
    page.wait_for_function("Chart.getChart(document.getElementById("
                           "'ebs-chart-traffic-hour')).width > 100")
    days, hours = page.evaluate(_CHARTS)
    shots.take(page, "account-traffic")
    zone = ZoneInfo(settings_mod.load(environ=stack.env).TIME_ZONE)
    assert days["type"] == "bar" and len(days["labels"]) == 30
    assert hours["type"] == "bar" and len(hours["labels"]) == 48
    assert hours["data"][0][-1] == 96 and hours["data"][1][-1] == 32
    assert hours["data"][0][-25] == 2 and hours["data"][1][-25] == 1
    assert sum(days["data"][0]) == 98 and sum(days["data"][1]) == 33
    assert days["labels"][-1] == datetime.now(zone).strftime("%d.%m")
    assert days["width"] > 100 and days["height"] > 100
    with page.expect_download() as download:
        page.click("#ebs-traffic-csv-day")
    assert download.value.suggested_filename == f"traffic_day_{account}.csv"
    assert not page.outside.urls, page.outside.urls
    assert not page.script_errors, page.script_errors
