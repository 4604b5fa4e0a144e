"""A tariff's traffic limits, time prices, time service and counter-traffic group in the
admin: each form accepts what its table accepts and refuses, under the field, what the
table's CHECK or unique key would refuse; the tariff's page lists them; the account
card's Traffic tab shows the limits in force and this period's time online, read by the
account's indexes without a statement more."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tests.web.conftest import submit
from tests.web.test_account_actions import _account, _assign, _tariff
from tests.web.test_traffic_pages import MB, _group

LIMIT = {"megabytes": "1024", "window_seconds": "", "action": "block", "speed_mode": "",
         "speed": "", "percent": ""}
LIMIT_COLUMNS = ("megabytes, window_seconds, action, speed_mode, speed, percent")


def _limits(conn) -> list[tuple]:
    return conn.execute(f"SELECT {LIMIT_COLUMNS} FROM tariff_traffic_limits ORDER BY id"
                        ).fetchall()


def test_limit_forms_accept_what_the_table_accepts(as_admin, conn):
    tariff, group = _tariff(conn, "Лимиты"), _group(conn, "Интернет")
    base = {**LIMIT, "tariff": str(tariff), "group": str(group)}
    submit(as_admin, "/tarifftrafficlimitview/add", base)
    submit(as_admin, "/tarifftrafficlimitview/add", {
        **base, "megabytes": "0.5", "window_seconds": "1d 0:00", "action": "speed",
        "speed_mode": "absolute", "speed": "1M/2M"})
    submit(as_admin, "/tarifftrafficlimitview/add", {
        **base, "window_seconds": "1:30", "action": "speed", "speed_mode": "add",
        "speed": "512k/512k"})
    submit(as_admin, "/tarifftrafficlimitview/add", {
        **base, "action": "speed", "speed_mode": "percent", "percent": "12.5"})
    assert _limits(conn) == [
        (Decimal("1024.000"), None, "block", None, None, None),
        (Decimal("0.500"), 86400, "speed", "absolute", "1M/2M", None),
        (Decimal("1024.000"), 5400, "speed", "add", "512k/512k", None),
        (Decimal("1024.000"), None, "speed", "percent", None, Decimal("12.50")),
    ]
    window = conn.execute("SELECT id FROM tariff_traffic_limits WHERE window_seconds = 86400"
                          ).fetchone()[0]
    edit = as_admin.get(f"/tarifftrafficlimitview/edit/{window}").text
    assert 'value="1d 0:00"' in edit and 'value="1M/2M"' in edit
    submit(as_admin, f"/tarifftrafficlimitview/edit/{window}", {
        **base, "window_seconds": "", "action": "block"})
    assert conn.execute("SELECT window_seconds, action, speed_mode, speed FROM"
                        " tariff_traffic_limits WHERE id = %s", (window,)).fetchone() == (
        None, "block", None, None)
    listed = as_admin.get("/tarifftrafficlimitview/list/").text
    assert "Settlement period" in listed and "Last 1:30" in listed
    assert "A percentage of the tariff&#39;s speed" in listed and "12.5" in listed


def test_limit_forms_refuse_under_the_field_what_the_table_refuses(as_admin, conn):
    tariff, group = _tariff(conn, "Лимиты"), _group(conn, "Интернет")
    base = {**LIMIT, "tariff": str(tariff), "group": str(group)}
    refusals = [
        ({"megabytes": "0"}, "Must be more than zero."),
        ({"megabytes": ""}, "Enter the megabytes."),
        ({"window_seconds": "0:00"}, "From a second to 24855 days."),
        ({"window_seconds": "24856d 0:00"}, "From a second to 24855 days."),
        ({"window_seconds": "an hour"}, "Give the length as HH:MM or as N d HH:MM."),
        ({"speed_mode": "absolute", "speed": "1M/2M"},
         "A block changes no speed: leave this empty."),
        ({"action": "speed"}, "Choose how the speed changes."),
        ({"action": "speed", "speed_mode": "absolute"}, "Enter the speed."),
        ({"action": "speed", "speed_mode": "add", "speed": "fast"}, "Not a valid speed"),
        ({"action": "speed", "speed_mode": "absolute", "speed": "1M/2M", "percent": "50"},
         "speed takes a percentage: leave this empty."),
        ({"action": "speed", "speed_mode": "percent"}, "Enter the percentage."),
        ({"action": "speed", "speed_mode": "percent", "percent": "0"},
         "Must be more than zero."),
        ({"action": "speed", "speed_mode": "percent", "percent": "10000"},
         "The number is too large."),
        ({"action": "speed", "speed_mode": "percent", "percent": "50", "speed": "1M/1M"},
         "Only this speed or an added speed takes a speed"),
        ({"group": ""}, "This field is required."),
    ]
    for change, message in refusals:
        page = submit(as_admin, "/tarifftrafficlimitview/add", {**base, **change})
        assert message in page.text, (change, message)
        assert "IntegrityError" not in page.text and "CheckViolation" not in page.text
    assert _limits(conn) == []


def test_time_prices_service_and_counter_traffic(as_admin, conn):
    tariff, group = _tariff(conn, "Повременный"), _group(conn, "RADIUS")
    night = conn.execute("INSERT INTO time_periods (name) VALUES ('Ночь') RETURNING id"
                         ).fetchone()[0]
    as_admin.get("/lang/ru")
    price = {"tariff": str(tariff), "time_period": "", "price_per_minute": "0,05"}
    submit(as_admin, "/tarifftimepriceview/add", price)
    submit(as_admin, "/tarifftimepriceview/add",
           {**price, "time_period": str(night), "price_per_minute": "0"})
    again = submit(as_admin, "/tarifftimepriceview/add", price)
    assert "У тарифа уже есть цена минуты в это время." in again.text
    fine = submit(as_admin, "/tarifftimepriceview/add",
                  {**price, "price_per_minute": "0,0000001"})
    assert "Не больше 6 знаков после запятой." in fine.text
    assert conn.execute("SELECT time_period_id, price_per_minute FROM tariff_time_prices"
                        " ORDER BY id").fetchall() == [(None, Decimal("0.050000")),
                                                      (night, Decimal("0"))]

    service = {"tariff": str(tariff), "step_seconds": "60", "prepaid_minutes": ""}
    for step, message in (("0", "Значение должно быть между 1 и 86400."),
                          ("86401", "Значение должно быть между 1 и 86400."),
                          ("", "Укажите шаг.")):
        page = submit(as_admin, "/tarifftimeserviceview/add",
                      {**service, "step_seconds": step})
        assert message in page.text, step
    assert conn.execute("SELECT count(*) FROM tariff_time_service").fetchone()[0] == 0
    submit(as_admin, "/tarifftimeserviceview/add", {**service, "rollover": "y"})
    again = submit(as_admin, "/tarifftimeserviceview/add", service)
    assert "У тарифа уже есть повременная услуга." in again.text
    submit(as_admin, f"/tarifftimeserviceview/edit/{tariff}",
           {"step_seconds": "1", "prepaid_minutes": "90,5", "prorate_first_period": "y"})
    assert conn.execute("SELECT step_seconds, prepaid_minutes, rollover, prorate_first_period"
                        " FROM tariff_time_service").fetchall() == [
        (1, Decimal("90.500"), False, True)]

    other = _group(conn, "Город")
    submit(as_admin, "/tariffaccountingtrafficview/add",
           {"tariff": str(tariff), "group": str(group)})
    again = submit(as_admin, "/tariffaccountingtrafficview/add",
                   {"tariff": str(tariff), "group": str(other)})
    assert "Трафик тарифа по счётчикам уже учитывается в группе." in again.text
    submit(as_admin, f"/tariffaccountingtrafficview/edit/{tariff}", {"group": str(other)})
    assert conn.execute("SELECT tariff_id, group_id FROM tariff_accounting_traffic"
                        ).fetchall() == [(tariff, other)]

    submit(as_admin, "/tarifftrafficlimitview/add", {
        **LIMIT, "tariff": str(tariff), "group": str(other), "action": "speed",
        "speed_mode": "percent", "percent": "50"})
    shown = as_admin.get(f"/tariffview/show/{tariff}").text
    for title in ("Лимиты трафика", "Трафик по счётчикам RADIUS", "Цены времени",
                  "Повременная услуга"):
        assert title in shown, title
    assert "0,05" in shown and "Любое время" in shown and "90,5" in shown
    assert "Процент от скорости тарифа" in shown


def _time_usage(conn, account: int, start: datetime, end: datetime, used: int,
                prepaid: int, charged: str) -> None:
    assignment = conn.execute("SELECT id FROM account_tariffs WHERE account_id = %s",
                              (account,)).fetchone()[0]
    conn.execute(
        "INSERT INTO time_usage (account_id, assignment_id, period_start, period_end,"
        " prepaid_seconds, used_seconds, billed_seconds, price_seconds, charged)"
        " VALUES (%s, %s, %s, %s, %s, %s, greatest(%s - %s, 0), 0, %s)",
        (account, assignment, start, end, prepaid, used, used, prepaid, charged))


def _limit_in_force(conn, account: int, limit: int, since: datetime, used: int) -> None:
    conn.execute("INSERT INTO account_traffic_limits (account_id, limit_id, since, used_bytes)"
                 " VALUES (%s, %s, %s, %s)", (account, limit, since, used))


def test_the_traffic_tab_shows_limits_in_force_and_time_online(as_admin, conn):
    account, other = _account(conn, "L-100"), _account(conn, "L-200")
    tariff = _tariff(conn, "Лимиты")
    now = datetime.now(UTC)
    for who in (account, other):
        _assign(conn, who, tariff, now - timedelta(days=40))
    internet, city = _group(conn, "Интернет"), _group(conn, "Город")
    block = conn.execute(
        "INSERT INTO tariff_traffic_limits (tariff_id, group_id, megabytes, action)"
        " VALUES (%s, %s, 100, 'block') RETURNING id", (tariff, internet)).fetchone()[0]
    slow = conn.execute(
        "INSERT INTO tariff_traffic_limits (tariff_id, group_id, megabytes, window_seconds,"
        " action, speed_mode, speed) VALUES (%s, %s, 10, 3600, 'speed', 'absolute', '1M/1M')"
        " RETURNING id", (tariff, city)).fetchone()[0]
    since = now - timedelta(hours=2)
    _limit_in_force(conn, account, block, since, 150 * MB)
    _limit_in_force(conn, account, slow, since, 12 * MB)
    _limit_in_force(conn, other, block, since, 999 * MB)
    _time_usage(conn, account, now - timedelta(days=3), now + timedelta(days=27),
                used=5430, prepaid=3600, charged="9.05")
    _time_usage(conn, account, now - timedelta(days=40), now - timedelta(days=3),
                used=60, prepaid=0, charged="1.00")  # an earlier period: not shown

    page = as_admin.get(f"/accountview/show/{account}").text
    limits = page.split('id="ebs-traffic-limits"', 1)[1].split("</table>", 1)[0]
    assert limits.count("<tr data-group") == 2
    assert 'data-group="Интернет"' in limits and 'data-action="block"' in limits
    assert f'data-used="{150 * MB}"' in limits and "999" not in limits
    assert "This speed: 1M/1M" in limits and "Last 1:00" in limits
    assert "Settlement period" in limits and ">Block<" in limits
    assert since.isoformat()[:16] in limits
    time_rows = page.split('id="ebs-time-usage"', 1)[1].split("</table>", 1)[0]
    assert time_rows.count("<tr data-used") == 1
    # 5430 s = 90.5 minutes, none of the 3600 prepaid left, 9.05 charged.
    assert 'data-used="5430"' in time_rows and 'data-prepaid-left="0"' in time_rows
    assert '"ebs-money">90.5</td>' in time_rows and "9.05\xa0RUB" in time_rows

    quiet = as_admin.get(f"/accountview/show/{other}").text
    assert 'id="ebs-time-usage"' not in quiet
    assert quiet.count("<tr data-group") == 1


def test_the_tab_reads_limits_and_time_by_the_accounts_keys(as_admin, conn, count_queries):
    """One statement for the period's usage, time and limits however many rows; each
    part walks the account's key (sequential scans priced out, as an empty table would
    otherwise be read whole)."""
    account = _account(conn, "L-300")
    tariff = _tariff(conn, "Лимиты")
    now = datetime.now(UTC)
    _assign(conn, account, tariff, now - timedelta(days=3))
    as_admin.get(f"/accountview/show/{account}")
    with count_queries() as empty:
        as_admin.get(f"/accountview/show/{account}")
    group = _group(conn, "Интернет")
    for n in range(5):
        limit = conn.execute(
            "INSERT INTO tariff_traffic_limits (tariff_id, group_id, megabytes, action)"
            " VALUES (%s, %s, %s, 'block') RETURNING id", (tariff, group, n + 1)).fetchone()[0]
        _limit_in_force(conn, account, limit, now, MB)
    _time_usage(conn, account, now - timedelta(days=1), now + timedelta(days=1),
                used=60, prepaid=0, charged="1.00")
    with count_queries() as full:
        page = as_admin.get(f"/accountview/show/{account}").text
    assert page.count('data-action="block"') == 5
    assert full.count == empty.count

    for setting in ("enable_seqscan", "enable_bitmapscan"):
        conn.execute(f"SET {setting} = off")
    plans = {
        "time": "SELECT * FROM time_usage WHERE account_id = %s"
                " AND period_start <= %s AND period_end > %s",
        "limits": "SELECT * FROM account_traffic_limits WHERE account_id = %s"
                  " AND %s::timestamptz IS NOT NULL AND %s::timestamptz IS NOT NULL",
    }
    for name, query in plans.items():
        plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + query,
                                                    (account, now, now)).fetchall())
        assert "Seq Scan" not in plan and "Index" in plan, (name, plan)
