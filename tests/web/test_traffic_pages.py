"""The traffic pages: a tariff's prices per MB and prepaid MB typed in Russian, the
account card's Traffic tab (usage now, bytes per day and hour, CSV) read through indexes
in a fixed number of statements, and the reports of the top consumers and of traffic
nobody was charged for."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from tests.web.conftest import READONLY, login, submit
from tests.web.test_account_actions import _account, _assign, _tariff

MB = 1024 * 1024


def _group(conn, name: str) -> int:
    return conn.execute("INSERT INTO traffic_groups (name) VALUES (%s) RETURNING id",
                        (name,)).fetchone()[0]


def _stats(conn, account: int, group: int, hour: datetime, bytes_in: int,
           bytes_out: int) -> None:
    conn.execute("INSERT INTO traffic_stats_hourly (hour, account_id, group_id, bytes_in,"
                 " bytes_out) VALUES (%s, %s, %s, %s, %s)",
                 (hour, account, group, bytes_in, bytes_out))


def _this_hour() -> datetime:
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


def _chart(page: str) -> dict:
    found = re.search(r'<script type="application/json" id="ebs-series-data">(.*?)</script>',
                      page, re.S)
    assert found, "no chart data on the page"
    return json.loads(found.group(1))


def _csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.text.lstrip("\ufeff"))))


def test_tariff_prices_and_prepaid_typed_in_russian(as_admin, conn):
    tariff = _tariff(conn, "Трафик")
    internet = _group(conn, "Интернет")
    night = conn.execute("INSERT INTO time_periods (name) VALUES ('Ночь') RETURNING id"
                         ).fetchone()[0]
    as_admin.get("/lang/ru")
    submit(as_admin, "/tarifftrafficpriceview/add",
           {"tariff": str(tariff), "group": str(internet), "time_period": "",
            "price_per_mb": "0,5"})
    submit(as_admin, "/tarifftrafficpriceview/add",
           {"tariff": str(tariff), "group": str(internet), "time_period": str(night),
            "price_per_mb": "0,000125"})
    too_fine = submit(as_admin, "/tarifftrafficpriceview/add",
                      {"tariff": str(tariff), "group": str(internet), "time_period": "",
                       "price_per_mb": "0,0000001"})
    assert "Не больше 6 знаков после запятой." in too_fine.text
    negative = submit(as_admin, "/tarifftrafficpriceview/add",
                      {"tariff": str(tariff), "group": str(internet), "time_period": "",
                       "price_per_mb": "-1"})
    assert "Не может быть отрицательным." in negative.text
    assert conn.execute("SELECT time_period_id, price_per_mb FROM tariff_traffic_prices"
                        " ORDER BY id").fetchall() == [(None, Decimal("0.500000")),
                                                      (night, Decimal("0.000125"))]
    submit(as_admin, "/tarifftrafficprepaidview/add",
           {"tariff": str(tariff), "group": str(internet), "megabytes": "1 024,5",
            "rollover": "y", "prorate_first_period": "y"})
    assert conn.execute("SELECT megabytes, rollover, prorate_first_period"
                        " FROM tariff_traffic_prepaid").fetchone() == (
        Decimal("1024.500"), True, True)
    shown = as_admin.get(f"/tariffview/show/{tariff}").text
    # Both lists under the tariff, figures as Russian writes them, "any time" in words.
    assert "Цены трафика" in shown and "Предоплаченный трафик" in shown
    assert "0,5<" in shown and "0,000125" in shown and "Любое время" in shown
    assert "1024,5" in shown
    price = conn.execute("SELECT id FROM tariff_traffic_prices WHERE time_period_id IS NULL"
                         ).fetchone()[0]
    edit = as_admin.get(f"/tarifftrafficpriceview/edit/{price}").text
    assert 'value="0,5"' in edit


def test_the_traffic_tab_shows_usage_days_hours_and_csv(as_admin, conn, web_settings):
    zone = ZoneInfo(web_settings.TIME_ZONE)
    account = _account(conn, "T-100")
    other = _account(conn, "T-200")
    tariff = _tariff(conn, "Трафик")
    now = datetime.now(UTC)
    _assign(conn, account, tariff, now - timedelta(days=40))
    assignment = conn.execute("SELECT id FROM account_tariffs WHERE account_id = %s",
                              (account,)).fetchone()[0]
    internet, city = _group(conn, "Интернет"), _group(conn, "Город")
    conn.execute(
        "INSERT INTO traffic_usage (account_id, group_id, assignment_id, period_start,"
        " period_end, prepaid_bytes, used_bytes, billed_bytes, cost, charged) VALUES"
        " (%s, %s, %s, %s, %s, %s, %s, %s, 12.3456, 12.35),"
        " (%s, %s, %s, %s, %s, 0, 999, 999, 0, 0)",
        (account, internet, assignment, now - timedelta(days=3), now + timedelta(days=27),
         100 * MB, 60 * MB, 0,
         account, internet, assignment, now - timedelta(days=40), now - timedelta(days=3)))
    hour = _this_hour()
    _stats(conn, account, internet, hour, 3 * MB, MB)
    _stats(conn, account, city, hour, MB, 0)
    _stats(conn, account, internet, hour - timedelta(hours=47), 2 * MB, 0)
    _stats(conn, account, internet, hour - timedelta(hours=48), 5 * MB, 0)  # days only
    _stats(conn, account, internet, hour - timedelta(days=40), 7 * MB, 0)  # neither
    _stats(conn, other, internet, hour, 100 * MB, 100 * MB)

    page = as_admin.get(f"/accountview/show/{account}").text
    assert 'id="ebs-traffic-tab"' in page
    usage = page.split('id="ebs-traffic-usage"', 1)[1].split("</table>", 1)[0]
    # Only the period in force: 60 MB used, 40 MB of the prepaid left, 12.35 charged.
    assert usage.count("<tr data-group") == 1
    assert f'data-used="{60 * MB}"' in usage and f'data-prepaid-left="{40 * MB}"' in usage
    assert 'data-charged="12.35"' in usage and "12.35\xa0RUB" in usage
    assert '"ebs-money">60</td>' in usage and '"ebs-money">40</td>' in usage
    chart = _chart(page)
    assert len(chart["traffic_days"]) == 30 and len(chart["traffic_hours"]) == 48
    # This hour: both groups, the other account not at all.
    assert chart["traffic_hour_in"][-1] == "4.00" and chart["traffic_hour_out"][-1] == "1.00"
    assert chart["traffic_hour_in"][0] == "2.00"
    assert chart["traffic_hours"][-1] == hour.astimezone(zone).strftime("%d.%m %H:00")
    today = hour.astimezone(zone).date()
    assert chart["traffic_days"][-1] == today.strftime("%d.%m")
    days_in = {}
    for n, label in enumerate(chart["traffic_days"]):
        days_in[label] = Decimal(chart["traffic_day_in"][n])
    assert sum(days_in.values()) == Decimal("11.00")  # 3 + 1 + 2 + 5, not the 40-day-old 7
    assert 'src="/vendor/chart.js"' in page

    by_hour = _csv_rows(as_admin.get(f"/account-traffic/{account}/hour.csv?format=csv"))
    assert by_hour[0] == ["Hour", "Traffic group", "Bytes in", "Bytes out"]
    assert sorted(by_hour[1:])[-2:] == sorted([
        [hour.astimezone(zone).strftime("%Y-%m-%d %H:00"), "Город", str(MB), "0"],
        [hour.astimezone(zone).strftime("%Y-%m-%d %H:00"), "Интернет", str(3 * MB), str(MB)]])
    assert len(by_hour) == 1 + 3
    by_day = _csv_rows(as_admin.get(f"/account-traffic/{account}/day.csv?format=csv"))
    assert sum(int(row[2]) for row in by_day[1:]) == 11 * MB
    assert as_admin.get(f"/account-traffic/{account}/week.csv").status_code == 404
    assert as_admin.get("/account-traffic/999999/day.csv").status_code == 404


def test_an_account_without_traffic_shows_an_empty_tab(as_admin, conn):
    account = _account(conn, "T-300")
    page = as_admin.get(f"/accountview/show/{account}").text
    assert 'id="ebs-traffic-no-usage"' in page
    chart = _chart(page)
    assert set(chart["traffic_day_in"]) == {"0.00"} and set(chart["traffic_hour_out"]) == {"0.00"}


def test_the_tab_reads_by_index_in_two_statements(as_admin, conn, count_queries):
    """With sequential scans and sorts priced out (an empty table would otherwise be read
    whole) the tab's statements walk the account's index; and it adds two statements to
    the card however much traffic the account has."""
    account = _account(conn, "T-400")
    group = _group(conn, "Интернет")
    as_admin.get(f"/accountview/show/{account}")
    with count_queries() as empty:
        as_admin.get(f"/accountview/show/{account}")
    conn.execute(
        "INSERT INTO traffic_stats_hourly (hour, account_id, group_id, bytes_in, bytes_out)"
        " SELECT date_trunc('hour', now()) - g * interval '1 hour', %s, %s, g, g"
        " FROM generate_series(0, 2000) g", (account, group))
    with count_queries() as full:
        as_admin.get(f"/accountview/show/{account}")
    assert full.count == empty.count

    for setting in ("enable_seqscan", "enable_bitmapscan"):
        conn.execute(f"SET {setting} = off")
    now = datetime.now(UTC)
    plans = {
        "series": ("SELECT hour, sum(bytes_in) FROM traffic_stats_hourly WHERE account_id = %s"
                   " AND hour >= %s AND hour < %s GROUP BY hour",
                   (account, now - timedelta(days=30), now)),
        "usage": ("SELECT * FROM traffic_usage WHERE account_id = %s"
                  " AND period_start <= %s AND period_end > %s", (account, now, now)),
    }
    for name, (query, params) in plans.items():
        plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + query, params).fetchall())
        assert "Seq Scan" not in plan and "account" in plan, (name, plan)


def test_a_readonly_auditor_sees_the_tab_and_its_csv(client, conn):
    account = _account(conn, "T-500")
    login(client, *READONLY)
    assert 'id="ebs-traffic-tab"' in client.get(f"/accountview/show/{account}").text
    assert client.get(f"/account-traffic/{account}/day.csv").status_code == 200


def test_top_consumers_per_group_with_contract_and_name(as_admin, conn, web_settings):
    zone = ZoneInfo(web_settings.TIME_ZONE)
    internet, city = _group(conn, "Интернет"), _group(conn, "Город")
    accounts = [_account(conn, f"C-{n}") for n in range(1, 5)]
    noon = datetime(2026, 10, 15, 12, 0, tzinfo=zone)
    for n, account in enumerate(accounts, 1):
        _stats(conn, account, internet, noon, n * MB, MB)
        _stats(conn, account, internet, noon + timedelta(hours=1), n * MB, 0)
        _stats(conn, account, city, noon, (5 - n) * MB, 0)
    _stats(conn, accounts[0], internet, datetime(2026, 11, 1, 0, 0, tzinfo=zone),
           1000 * MB, 0)  # the next day after the range: not counted

    page = as_admin.get("/reports/traffic_top/?start=2026-10-01&end=2026-10-31&top=2").text
    table = page.split('id="ebs-report-table"', 1)[1]
    rows = re.findall(r"<tr>(.*?)</tr>", table, re.S)
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", row, re.S) for row in rows]
    shown = [(c[0], c[1], c[2], c[6]) for c in cells if c]
    assert shown == [("Город", "1", "C-1", "4"), ("Город", "2", "C-2", "3"),
                     ("Интернет", "1", "C-4", "9"), ("Интернет", "2", "C-3", "7")]
    assert "Действий Иван" in table
    exported = _csv_rows(as_admin.get(
        "/reports/traffic_top/?start=2026-10-01&end=2026-10-31&top=1&format=csv"))
    assert exported[0][:3] == ["Traffic group", "Place", "Contract"]
    assert [row[:3] + row[4:] for row in exported[1:]] == [
        ["Город", "1", "C-1", "4.00", "0.00", "4.00"],
        ["Интернет", "1", "C-4", "8.00", "1.00", "9.00"]]


def test_traffic_not_attributed_by_reason_and_exporter_per_day(as_admin, conn, web_settings):
    zone = ZoneInfo(web_settings.TIME_ZONE)
    day = datetime(2026, 10, 15, 12, 0, tzinfo=zone)
    conn.execute("INSERT INTO traffic_rejects (bin, reason, row_count, bytes) VALUES"
                 " (%s, 'no_holder', 3, %s), (%s, 'no_holder', 2, %s),"
                 " (%s, 'no_direction', 1, 10)",
                 (day, MB, day + timedelta(minutes=1), MB, day))
    conn.execute("INSERT INTO flow_rejects (peer_ip_src, packets, bytes, stamp_inserted)"
                 " VALUES ('192.0.2.9', 10, %s, %s), ('192.0.2.9', 5, %s, %s),"
                 " ('198.51.100.1', 1, 100, %s)",
                 (MB, day, MB, day + timedelta(days=1), day))
    page = as_admin.get("/reports/traffic_rejects/?start=2026-10-01&end=2026-10-31").text
    assert "Address held by nobody" in page and "Unknown exporter" in page
    assert "No direction" in page and "192.0.2.9" in page
    exported = _csv_rows(as_admin.get(
        "/reports/traffic_rejects/?start=2026-10-01&end=2026-10-31&format=csv"))
    assert exported[0] == ["Day", "Reason", "Exporter", "Rows", "Packets", "Traffic, MB"]
    assert exported[1:] == [
        ["2026-10-15", "No direction", "", "1", "", "0.00"],
        ["2026-10-15", "Address held by nobody", "", "5", "", "2.00"],
        ["2026-10-15", "Unknown exporter", "192.0.2.9", "", "10", "1.00"],
        ["2026-10-15", "Unknown exporter", "198.51.100.1", "", "1", "0.00"],
        ["2026-10-16", "Unknown exporter", "192.0.2.9", "", "5", "1.00"]]


def test_a_figure_with_more_decimals_than_money_reads_the_operators_habit():
    """webapp.numbers.parse_decimal, the reader of the price and prepaid fields: the same
    habits and refusals as an amount, with the column's own decimals and range."""
    from billing.money import MoneyError
    from webapp.numbers import format_decimal_text, parse_decimal

    limit = Decimal("99999999.999999")
    assert parse_decimal("0,5", 6, limit, "ru") == Decimal("0.5")
    assert parse_decimal("1 000,000125", 6, limit, "ru") == Decimal("1000.000125")
    assert parse_decimal("1,000.5", 6, limit, "en") == Decimal("1000.5")
    for text, locale, code in (("1,500", "ru", "ambiguous"), ("0,0000001", "ru",
                               "too_many_decimals"), ("100000000", "ru", "out_of_range"),
                               ("1e3", "ru", "not_an_amount"), ("0,5", "en",
                               "not_an_amount")):
        try:
            parse_decimal(text, 6, limit, locale)
        except MoneyError as exc:
            assert exc.code == code, (text, exc.code)
        else:
            raise AssertionError(f"{text!r} was read")
    assert format_decimal_text(Decimal("0.500000"), "ru") == "0,5"
    assert format_decimal_text(Decimal("1024.000"), "ru") == "1024"
    assert format_decimal_text(Decimal("0.000125"), "en") == "0.000125"


def test_the_traffic_reports_run_one_statement_on_their_indexes(as_admin, conn,
                                                                 count_queries):
    """A report page costs what every report costs (FAB's lookups and the report's one
    statement) however many rows the range holds, and with sequential scans priced out
    each statement reads its range by an index (the statistics' primary key by hour, the
    rejects' by bin, the collector's BRIN on its stamp)."""
    from tests.web.test_reports import BUDGET

    account, group = _account(conn, "R-1"), _group(conn, "Интернет")
    url = "/reports/{}/?start=2026-10-01&end=2026-10-31"
    small = {}
    for name in ("traffic_top", "traffic_rejects"):
        as_admin.get(url.format(name))
        with count_queries() as seen:
            assert as_admin.get(url.format(name)).status_code == 200
        small[name] = seen.count
    conn.execute(
        "INSERT INTO traffic_stats_hourly (hour, account_id, group_id, bytes_in, bytes_out)"
        " SELECT timestamptz '2026-10-01 00:00+03' + g * interval '1 hour', %s, %s, g, g"
        " FROM generate_series(0, 800) g", (account, group))
    conn.execute(
        "INSERT INTO traffic_rejects (bin, reason, row_count, bytes)"
        " SELECT timestamptz '2026-10-01 00:00+03' + g * interval '1 minute', 'no_holder', 1, 1"
        " FROM generate_series(0, 5000) g")
    for name in ("traffic_top", "traffic_rejects"):
        with count_queries() as seen:
            assert as_admin.get(url.format(name)).status_code == 200
        assert seen.count == small[name] <= BUDGET, (name, seen.statements)

    conn.execute("SET enable_seqscan = off")
    span = ("timestamptz '2026-10-01 00:00+03'", "timestamptz '2026-11-01 00:00+03'")
    plans = {
        "traffic_stats_hourly": "SELECT account_id, group_id, sum(bytes_in)"
                                " FROM traffic_stats_hourly WHERE hour >= {} AND hour < {}"
                                " GROUP BY 1, 2",
        "traffic_rejects": "SELECT reason, sum(bytes) FROM traffic_rejects"
                           " WHERE bin >= {} AND bin < {} GROUP BY 1",
        "flow_rejects": "SELECT peer_ip_src, sum(bytes) FROM flow_rejects"
                        " WHERE stamp_inserted >= {} AND stamp_inserted < {} GROUP BY 1",
    }
    for table, query in plans.items():
        plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + query.format(*span)))
        assert "Seq Scan" not in plan and "Index" in plan, (table, plan)


def test_a_second_price_or_allowance_of_the_same_key_is_refused_under_the_field(
        as_admin, conn):
    tariff, group = _tariff(conn, "Ключ"), _group(conn, "Интернет")
    night = conn.execute("INSERT INTO time_periods (name) VALUES ('Night') RETURNING id"
                         ).fetchone()[0]
    price = {"tariff": str(tariff), "group": str(group), "time_period": "",
             "price_per_mb": "1"}
    submit(as_admin, "/tarifftrafficpriceview/add", price)
    again = submit(as_admin, "/tarifftrafficpriceview/add", price)
    assert "The tariff already prices this group at this time." in again.text
    assert "UniqueViolation" not in again.text
    submit(as_admin, "/tarifftrafficpriceview/add", {**price, "time_period": str(night)})
    assert conn.execute("SELECT count(*) FROM tariff_traffic_prices").fetchone()[0] == 2
    first = conn.execute("SELECT id FROM tariff_traffic_prices WHERE time_period_id IS NULL"
                         ).fetchone()[0]
    submit(as_admin, f"/tarifftrafficpriceview/edit/{first}", {**price, "price_per_mb": "2"})
    assert conn.execute("SELECT price_per_mb FROM tariff_traffic_prices WHERE id = %s",
                        (first,)).fetchone()[0] == Decimal("2")
    prepaid = {"tariff": str(tariff), "group": str(group), "megabytes": "10"}
    submit(as_admin, "/tarifftrafficprepaidview/add", prepaid)
    again = submit(as_admin, "/tarifftrafficprepaidview/add", prepaid)
    assert "The tariff already has prepaid traffic of this group." in again.text
    assert conn.execute("SELECT count(*) FROM tariff_traffic_prepaid").fetchone()[0] == 1



def _report_totals(client, start, end) -> dict[str, tuple[str, str]]:
    """The top consumers' incoming and outgoing MB per contract (CSV, every row)."""
    rows = _csv_rows(client.get(f"/reports/traffic_top/?start={start.isoformat()}"
                                f"&end={end.isoformat()}&top=1000&format=csv"))
    return {(row[0], row[2]): (row[4], row[5]) for row in rows[1:]}


def _tab_figures(client, account: int) -> dict:
    page = client.get(f"/accountview/show/{account}").text
    chart = _chart(page)
    by_day = _csv_rows(client.get(f"/account-traffic/{account}/day.csv?format=csv"))
    by_hour = _csv_rows(client.get(f"/account-traffic/{account}/hour.csv?format=csv"))
    return {"page": page, "chart": chart,
            "days": list(zip(chart["traffic_days"], chart["traffic_day_in"],
                             chart["traffic_day_out"], strict=True)),
            "day_csv": sorted(tuple(row) for row in by_day[1:]),
            "hour_csv": (sum(int(row[2]) for row in by_hour[1:]),
                         sum(int(row[3]) for row in by_hour[1:]))}


def test_a_rolled_up_range_gives_the_report_and_the_card_the_same_totals(
        as_admin, conn, web_settings):
    """Ten days of hours, then every day but today rolled up (flow/stats_rollup.py): the
    top consumers over the range, the card's day chart and its day CSV read the very same
    figures; the hour chart and its CSV show each rolled-up day as one total, and say so."""
    from flow.stats_rollup import roll_up
    from webapp.numbers import megabytes

    zone = ZoneInfo(web_settings.TIME_ZONE)
    account, other = _account(conn, "R-10"), _account(conn, "R-20")
    internet, city = _group(conn, "Интернет"), _group(conn, "Город")
    today = datetime.now(zone).date()
    this_hour = _this_hour()
    window = this_hour - timedelta(hours=47)  # the hour chart's first hour
    written = []  # (hour, account, group, in, out)
    hour = datetime.combine(today - timedelta(days=9), datetime.min.time(), zone)
    for n in range(10 * 24 + 30):
        at = hour.astimezone(UTC) + timedelta(hours=n)
        if at > this_hour:
            break
        written.append((at, account, internet, (n % 7 + 1) * MB, (n % 3) * MB))
        if n % 5 == 0:
            written += [(at, account, city, MB // 2, MB // 4), (at, other, internet, 3 * MB, 0)]
    for at, *row in written:
        _stats(conn, row[0], row[1], at, row[2], row[3])

    def total(rows) -> tuple[int, int]:
        return sum(r[3] for r in rows), sum(r[4] for r in rows)

    start = today - timedelta(days=9)
    report = _report_totals(as_admin, start, today)
    assert report[("Интернет", "R-10")] == tuple(
        str(megabytes(v)) for v in total([r for r in written
                                          if r[1] == account and r[2] == internet]))
    tab = _tab_figures(as_admin, account)
    mine = [r for r in written if r[1] == account]
    assert tab["hour_csv"] == total([r for r in mine if r[0] >= window])
    assert 'id="ebs-traffic-hours-rolled"' not in tab["page"]

    result = roll_up(conn, today, zone, 1)  # only today stays hourly
    assert result.days == 9
    midnight = datetime.combine(today, datetime.min.time(), zone)
    assert conn.execute("SELECT count(*) FROM traffic_stats_hourly WHERE hour < %s",
                        (midnight,)).fetchone()[0] == 0

    assert _report_totals(as_admin, start, today) == report
    yesterday = today - timedelta(days=1)
    assert _report_totals(as_admin, yesterday, yesterday)[("Интернет", "R-10")] == tuple(
        str(megabytes(v)) for v in total(
            [r for r in mine if r[2] == internet and r[0].astimezone(zone).date() == yesterday]))
    rolled = _tab_figures(as_admin, account)
    assert rolled["days"] == tab["days"] and rolled["day_csv"] == tab["day_csv"]
    assert sum(int(row[2]) for row in rolled["day_csv"]) == total(mine)[0]
    # The hours before today are gone: each day the hour chart reached is one figure, the
    # whole day's.
    assert 'id="ebs-traffic-hours-rolled"' in rolled["page"]
    reached = {window.astimezone(zone).date(), yesterday}
    assert rolled["hour_csv"] == total(
        [r for r in mine if r[0] >= midnight or r[0].astimezone(zone).date() in reached])
    labels = rolled["chart"]["traffic_hours"]
    assert [label for label in labels if "whole day" in label] == [
        f"{day:%d.%m}, whole day" for day in sorted(reached)]
    assert labels[len(reached):] == [
        label for label in tab["chart"]["traffic_hours"]
        if label.startswith(today.strftime("%d.%m"))]
    day_figures = {label: value for label, value, _ in rolled["days"]}
    for label, value in zip(labels, rolled["chart"]["traffic_hour_in"], strict=True):
        if "whole day" in label:
            assert value == day_figures[label.split(",")[0]]
    hours_table = rolled["page"].split('id="ebs-traffic-hours"', 1)[1].split("</table>", 1)[0]
    assert f'data-day="{yesterday.isoformat()}"' in hours_table


def test_the_rolled_up_days_are_read_by_their_indexes(conn):
    """The daily part of the statistics (webapp.reports.traffic_stats_rows) reads a range
    by the primary key's day and one account's range by (account_id, day), however many
    days were rolled up."""
    from webapp.reports import traffic_stats_rows

    group = _group(conn, "Интернет")
    accounts = [_account(conn, f"R-3{n}") for n in range(20)]
    account = accounts[0]
    conn.execute(
        "INSERT INTO traffic_stats_daily (day, account_id, group_id, bytes_in, bytes_out)"
        " SELECT date '2026-01-01' + g, a, %s, g, g"
        " FROM generate_series(0, 364) g, unnest(%s::bigint[]) a", (group, accounts))
    conn.execute("ANALYZE traffic_stats_daily")
    conn.execute("SET enable_seqscan = off")
    params = {"start": "timestamptz '2026-10-01 00:00+03'",
              "end": "timestamptz '2026-11-01 00:00+03'", "tz": "'Europe/Moscow'",
              "id": str(account)}

    def plan(sql: str) -> str:
        for name, value in params.items():
            sql = sql.replace(f":{name}", value)
        return "\n".join(r[0] for r in conn.execute("EXPLAIN " + sql))

    everyone = plan(f"SELECT sum(bytes_in) FROM {traffic_stats_rows()} s")
    assert "traffic_stats_daily_pkey" in everyone and "Seq Scan" not in everyone, everyone
    one = plan(f"SELECT sum(bytes_in) FROM {traffic_stats_rows(account=':id')} s")
    assert "traffic_stats_daily_account_idx" in one and "Seq Scan" not in one, one
    # The range's days exactly: October's 31, from the local midnights' moments.
    total = conn.execute(
        "SELECT sum(bytes_in) FROM traffic_stats_daily WHERE day >= '2026-10-01'"
        " AND day < '2026-11-01'").fetchone()[0]
    assert total == 20 * sum(range(273, 304))
    assert conn.execute(
        f"SELECT sum(bytes_in) FROM {traffic_stats_rows()} s".replace(":start", params["start"])
        .replace(":end", params["end"]).replace(":tz", params["tz"])).fetchone()[0] == total


def test_whole_months_are_read_from_the_monthly_totals_with_the_same_rows(
        as_admin, conn, web_settings):
    """Once the months are cut in TIME_ZONE (flow/stats_monthly.py), a range of whole
    months — this month so far among them — lists the very rows the hours and days give,
    read from ``traffic_stats_monthly``; any other range, or months cut in another zone,
    sums the hours and days."""
    from flow import stats_monthly
    from flow.stats_rollup import roll_up

    zone = ZoneInfo(web_settings.TIME_ZONE)
    internet, city = _group(conn, "Интернет"), _group(conn, "Город")
    accounts = [_account(conn, f"M-{n}") for n in range(1, 8)]
    today = datetime.now(zone).date()
    first = today.replace(day=1)
    last_month = (first - timedelta(days=1)).replace(day=1)
    for n, account in enumerate(accounts, 1):
        for day in range(0, 40, 3):  # every third day of last month and this one so far
            at = datetime.combine(last_month + timedelta(days=day), datetime.min.time(),
                                  zone) + timedelta(hours=n % 5)
            if at.date() > today:
                break
            _stats(conn, account, internet, at.astimezone(UTC), (n * 7 % 5 + day) * MB, n)
            if n % 2:
                _stats(conn, account, city, at.astimezone(UTC), (8 - n) * MB, 0)
    roll_up(conn, today, zone, 5)  # older days rolled up, and the months cut

    def rows(start, end, top=3):
        return _csv_rows(as_admin.get(f"/reports/traffic_top/?start={start.isoformat()}"
                                      f"&end={end.isoformat()}&top={top}&format=csv"))

    ranges = [(first, today), (last_month, first - timedelta(days=1)), (last_month, today)]
    partial = (last_month + timedelta(days=1), today)
    months = {r: rows(*r) for r in [*ranges, partial]}
    assert len(months[(last_month, today)]) == 1 + 3 + 3

    # The hours and days give the same rows: the months cut in another zone are not read.
    conn.execute("UPDATE traffic_stats_monthly_zone SET zone = 'Asia/Tokyo'")
    for r in months:
        assert rows(*r) == months[r], r
    assert stats_monthly.ensure(conn, zone) is not None
    # Whole months are read from the months (a month's figure changed shows), any other
    # range from the hours and days.
    conn.execute("UPDATE traffic_stats_monthly SET bytes_in = bytes_in + %s"
                 " WHERE account_id = %s AND group_id = %s", (10_000 * MB, accounts[0], city))
    for r in ranges:
        city_rows = [row for row in rows(*r) if row[0] == "Город"]
        assert city_rows[0][1:3] == ["1", "M-1"] and city_rows != [
            row for row in months[r] if row[0] == "Город"], r
    assert rows(*partial) == months[partial]


def test_a_months_top_consumers_are_read_off_the_monthly_index(conn):
    """One month's top rows per group come from the index in total order, never a scan
    of the month's rows."""
    from webapp.reports import REPORTS

    group = _group(conn, "Интернет")
    accounts = [_account(conn, f"X-{n}") for n in range(30)]
    conn.execute(
        "INSERT INTO traffic_stats_monthly (month, account_id, group_id, bytes_in, bytes_out)"
        " SELECT date '2026-01-01' + make_interval(months => m), a, %s, a * m, m"
        " FROM generate_series(0, 11) m, unnest(%s::bigint[]) a", (group, accounts))
    conn.execute("ANALYZE traffic_stats_monthly")
    conn.execute("SET enable_seqscan = off")
    conn.execute("SET jit = off")  # as the web app's connections (webapp/app.py)
    conn.execute("INSERT INTO traffic_stats_monthly_zone (zone) VALUES ('Europe/Moscow')")
    sql = REPORTS["traffic_top"].month_sql
    for name, value in {"month_from": "date '2026-10-01'", "top": "5",
                        "tz": "'Europe/Moscow'", "start": "timestamptz '2026-10-01 00:00+03'",
                        "end": "timestamptz '2026-11-01 00:00+03'"}.items():
        sql = sql.replace(f":{name}", value)
    plan = "\n".join(r[0] for r in conn.execute("EXPLAIN ANALYZE " + sql))
    assert "traffic_stats_monthly_top_idx" in plan, plan
    assert not re.search(r"Seq Scan on traffic_stats_monthly\b(?!_zone)", plan), plan
    # The branch summing the hours is planned, never run.
    hours = [line for line in plan.splitlines() if "on traffic_stats_hourly" in line]
    assert hours and all("never executed" in line for line in hours), plan
