"""The cabinet's history pages: the ledger (the account's own entries, the local days of
the filter, exact totals, 50 a page, its CSV), the sessions (open ones first, marked
online) and the traffic (per day and per hour from the statistics, per group as CSV);
a wrong date is a field message."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from billing import ledger
from tests.web.cabinet_helpers import cabinet_login, subscriber

MB = 1024 * 1024
ZONE = ZoneInfo("Europe/Moscow")  # the test settings' TIME_ZONE
_key = iter(range(1, 10**6))


def _entry(conn, account: int, kind: str, amount: str, at: datetime,
           description: str = "") -> None:
    ledger.post(conn, ledger.Entry(account, kind, Decimal(amount), f"hist:{next(_key)}", at,
                                   description=description))


def _local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZONE)


def _rows(page: str, table: str, attr: str) -> list[str]:
    body = page.split(f'id="{table}"', 1)[1].split("</table>", 1)[0]
    return re.findall(rf'<tr[^>]*\b{attr}="([^"]*)"', body)


def _csv(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    return list(csv.reader(io.StringIO(response.text.lstrip("\ufeff"))))


def _logged_in(client, conn):
    account, name, password = subscriber(conn)
    assert cabinet_login(client, name, password).status_code == 200
    return account


def test_ledger_of_the_account_only_by_local_days_with_exact_totals_and_csv(
        client, conn, web_settings):
    assert ZoneInfo(web_settings.TIME_ZONE) == ZONE
    account = _logged_in(client, conn)
    other, _, _ = subscriber(conn)
    day = date(2026, 11, 10)
    _entry(conn, account, "payment", "500.00", _local(day, 0, 0))  # the first local minute
    _entry(conn, account, "charge_periodic", "-123.45", _local(day + timedelta(days=1), 12))
    _entry(conn, account, "charge_traffic", "-0.10", _local(day + timedelta(days=1), 23, 59))
    _entry(conn, account, "transfer", "-20.00", _local(day + timedelta(days=1), 9),
           description="Transfer to account 77")
    _entry(conn, account, "payment", "100.00", _local(day + timedelta(days=2), 0, 0))  # after
    _entry(conn, account, "payment", "7.00", _local(day, 0) - timedelta(minutes=1))  # before
    _entry(conn, other, "payment", "999.00", _local(day, 12))

    everything = client.get("/cabinet/history").text
    assert _rows(everything, "cabinet-history-entries", "data-amount") == [
        "100.00", "-0.10", "-123.45", "-20.00", "500.00", "7.00"]  # newest first
    assert "999.00" not in everything
    assert 'data-change="463.45"' in everything
    assert "Transfer to account 77" in everything

    page = client.get(f"/cabinet/history?start={day.isoformat()}"
                      f"&end={(day + timedelta(days=1)).strftime('%d.%m.%Y')}").text
    assert _rows(page, "cabinet-history-entries", "data-amount") == [
        "-0.10", "-123.45", "-20.00", "500.00"]
    assert 'data-credited="500.00" data-debited="143.55" data-change="356.45"' in page
    by_kind = dict(zip(_rows(page, "cabinet-history-totals", "data-kind"),
                       _rows(page, "cabinet-history-totals", "data-debited"), strict=True))
    assert by_kind == {"charge_periodic": "123.45", "charge_traffic": "0.10",
                       "payment": "0", "transfer": "20.00"}
    assert 'id="cabinet-history-csv"' in page

    rows = _csv(client.get(f"/cabinet/history.csv?start={day.isoformat()}"
                           f"&end={(day + timedelta(days=1)).isoformat()}"))
    assert rows == [
        ["When", "What", "Amount", "Comment"],
        ["2026-11-11 23:59:00", "Traffic", "-0.10", ""],
        ["2026-11-11 12:00:00", "Periodic service", "-123.45", ""],
        ["2026-11-11 09:00:00", "Balance transfer", "-20.00", "Transfer to account 77"],
        ["2026-11-10 00:00:00", "Payment", "500.00", ""],
    ]
    excel = client.get(f"/cabinet/history.csv?start={day.isoformat()}&format=excel")
    assert excel.status_code == 200 and "999" not in excel.text


def test_ledger_pages_fifty_at_a_time(client, conn):
    account = _logged_in(client, conn)
    conn.execute(
        "INSERT INTO ledger_entries (account_id, kind, amount, idempotency_key, effective_at)"
        " SELECT %s, 'payment', n, 'page:' || n, %s::timestamptz + n * interval '1 minute'"
        " FROM generate_series(1, 120) n",
        (account, datetime(2026, 11, 1, tzinfo=UTC)))
    first = client.get("/cabinet/history").text
    amounts = _rows(first, "cabinet-history-entries", "data-amount")
    assert amounts == [f"{n}.00" for n in range(120, 70, -1)]
    assert 'id="cabinet-history-older"' in first and 'id="cabinet-history-newer"' not in first
    last = client.get("/cabinet/history?page=2").text
    assert _rows(last, "cabinet-history-entries", "data-amount") == [
        f"{n}.00" for n in range(20, 0, -1)]
    assert 'id="cabinet-history-older"' not in last and 'id="cabinet-history-newer"' in last
    assert 'data-change="7260.00"' in last  # the totals are the range's, not the page's
    assert len(_csv(client.get("/cabinet/history.csv"))) == 121


def test_a_wrong_date_is_a_field_message(client, conn):
    account = _logged_in(client, conn)
    _entry(conn, account, "payment", "5.00", datetime(2026, 11, 1, tzinfo=UTC))
    for query in ("start=2026-13-45", "end=yesterday", "start=31.02.2026"):
        answer = client.get(f"/cabinet/history?{query}")
        assert answer.status_code == 200, query
        assert "Give the date as YYYY-MM-DD or DD.MM.YYYY." in answer.text
        assert 'id="cabinet-history-entries"' not in answer.text
        assert client.get(f"/cabinet/sessions?{query}").status_code == 200
        csv_answer = client.get(f"/cabinet/history.csv?{query}")
        assert csv_answer.status_code == 400 and "text/html" in csv_answer.content_type
    backwards = client.get("/cabinet/history?start=2026-11-05&end=2026-11-01").text
    assert 'id="cabinet-history-end-error"' in backwards
    assert "The end of the range is before its start." in backwards
    client.get("/cabinet/language/ru")
    russian = client.get("/cabinet/sessions?start=05.11.2026&end=1.11.2026").text
    assert "Конец диапазона раньше его начала." in russian
    assert all(f">{label}</a>" in russian for label in ("История", "Сеансы", "Трафик"))


def test_sessions_open_first_then_past_by_the_days_they_overlap(client, conn):
    account = _logged_in(client, conn)
    other, _, _ = subscriber(conn)
    now = datetime.now(UTC).replace(microsecond=0)
    conn.execute(
        "INSERT INTO sessions_open (acct_unique_id, acct_session_id, account_id, nas_ip,"
        " framed_ip, started_at, updated_at, input_octets, output_octets, session_time)"
        " VALUES ('open-a', 's1', %s, '10.0.0.1', '10.1.0.5', %s, %s, %s, %s, 0),"
        "        ('open-b', 's2', %s, '10.0.0.1', '10.1.0.6', %s, %s, 1, 1, 0)",
        (account, now - timedelta(hours=2), now, 2 * MB, 30 * MB,
         other, now - timedelta(hours=1), now))
    past = [("old-a", now - timedelta(days=3, hours=5), now - timedelta(days=3), 3725),
            ("older-a", now - timedelta(days=9, hours=1), now - timedelta(days=9), 0)]
    for key, started, stopped, seconds in past:
        conn.execute(
            "INSERT INTO sessions_history (acct_unique_id, acct_session_id, account_id,"
            " nas_ip, framed_ip, started_at, stopped_at, input_octets, output_octets,"
            " session_time) VALUES (%s, %s, %s, '10.0.0.1', '10.1.0.7', %s, %s, %s, %s, %s)",
            (key, key, account, started, stopped, MB, 5 * MB, seconds))

    page = client.get("/cabinet/sessions").text
    assert _rows(page, "cabinet-sessions-list", "data-address") == [
        "10.1.0.5", "10.1.0.7", "10.1.0.7"]
    assert "10.1.0.6" not in page
    online = page.split('id="cabinet-sessions-list"', 1)[1].split("</tr>", 2)[1]
    assert "cabinet-session-online" in online and ">online<" in online
    # In: what the subscriber received (the NAS's output octets).
    assert _rows(page, "cabinet-sessions-list", "data-in") == [
        str(30 * MB), str(5 * MB), str(5 * MB)]
    # The NAS's seconds, or the span when it sent none; an open one runs until now.
    seconds = [int(s) for s in _rows(page, "cabinet-sessions-list", "data-seconds")]
    assert 7200 <= seconds[0] < 7300 and seconds[1:] == [3725, 3600]
    assert ">1:02:05<" in page

    since = (now - timedelta(days=4)).astimezone(ZONE).date().isoformat()
    until = (now - timedelta(days=2)).astimezone(ZONE).date().isoformat()
    old = client.get(f"/cabinet/sessions?start={since}&end={until}").text
    assert _rows(old, "cabinet-sessions-list", "data-seconds") == ["3725"]
    rows = _csv(client.get(f"/cabinet/sessions.csv?start={since}"))
    assert rows[0] == ["Started", "Ended", "State", "IP address", "Bytes in", "Bytes out",
                       "Seconds online"]
    assert len(rows) == 3  # the open one and the one 3 days ago
    assert rows[1][1:6] == ["", "online", "10.1.0.5", str(30 * MB), str(2 * MB)]
    assert rows[2][2:] == ["", "10.1.0.7", str(5 * MB), str(MB), "3725"]
    assert rows[2][1] == (now - timedelta(days=3)).astimezone(ZONE).strftime(
        "%Y-%m-%d %H:%M:%S")


def _chart(page: str) -> dict:
    found = re.search(r'<script type="application/json" id="ebs-series-data">(.*?)</script>',
                      page, re.S)
    assert found, "no chart data on the page"
    return json.loads(found.group(1))


def test_traffic_by_day_and_hour_from_the_statistics(client, conn):
    account = _logged_in(client, conn)
    other, _, _ = subscriber(conn)
    internet, city = (conn.execute("INSERT INTO traffic_groups (name) VALUES (%s) RETURNING id",
                                   (name,)).fetchone()[0] for name in ("Internet", "City"))
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    stats = [(account, internet, hour, 3 * MB, MB), (account, city, hour, MB, 0),
             (account, internet, hour - timedelta(hours=1), 2 * MB, 2 * MB),
             (account, internet, hour - timedelta(days=5), 7 * MB, 0),
             (other, internet, hour, 100 * MB, 100 * MB)]
    conn.cursor().executemany("INSERT INTO traffic_stats_hourly (account_id, group_id, hour,"
                              " bytes_in, bytes_out) VALUES (%s, %s, %s, %s, %s)", stats)

    page = client.get("/cabinet/traffic").text
    assert 'id="ebs-chart-traffic-day"' in page and 'id="ebs-chart-traffic-hour"' in page
    assert "/vendor/chart.js" in page and "ebs_charts.js" in page
    days = dict(zip(_rows(page, "ebs-traffic-days", "data-day"),
                    zip(_rows(page, "ebs-traffic-days", "data-in"),
                        _rows(page, "ebs-traffic-days", "data-out"), strict=True), strict=True))
    today = hour.astimezone(ZONE).date()
    five_ago = (hour - timedelta(days=5)).astimezone(ZONE).date()
    yesterday_hour = hour - timedelta(hours=1)
    expected_today = {str(6 * MB if yesterday_hour.astimezone(ZONE).date() == today
                          else 4 * MB)}
    assert days[today.isoformat()][0] in expected_today
    assert days[five_ago.isoformat()] == (str(7 * MB), "0")
    assert sum(int(i) for i, _ in days.values()) == 13 * MB
    assert sum(int(o) for _, o in days.values()) == 3 * MB
    hours = dict(zip(_rows(page, "ebs-traffic-hours", "data-hour"),
                     _rows(page, "ebs-traffic-hours", "data-in"), strict=True))
    local_hour = hour.astimezone(ZONE).replace(tzinfo=None).isoformat()
    assert hours[local_hour] == str(4 * MB)
    assert hours[yesterday_hour.astimezone(ZONE).replace(tzinfo=None).isoformat()] == str(
        2 * MB)
    assert sum(int(v) for v in hours.values()) == 6 * MB
    chart = _chart(page)
    assert chart["traffic_day_in"][-1] == ("6.00" if expected_today == {str(6 * MB)}
                                           else "4.00")
    assert chart["traffic_hour_in"][-2:] == ["2.00", "4.00"]
    groups = dict(zip(_rows(page, "cabinet-traffic-groups", "data-group"),
                      _rows(page, "cabinet-traffic-groups", "data-in"), strict=True))
    assert groups == {"City": str(MB), "Internet": str(12 * MB)}
    assert "104857600" not in page  # the other account's 100 MB

    by_hour = _csv(client.get("/cabinet/traffic.csv?series=hour"))
    assert by_hour[0] == ["Hour", "Traffic group", "Bytes in", "Bytes out"]
    assert sorted(r[1:] for r in by_hour[1:]) == sorted([
        ["City", str(MB), "0"], ["Internet", str(2 * MB), str(2 * MB)],
        ["Internet", str(3 * MB), str(MB)]])
    by_day = _csv(client.get("/cabinet/traffic.csv?series=day&format=excel"))
    assert sum(int(r[2]) for r in by_day[1:]) == 13 * MB
    assert client.get("/cabinet/traffic.csv?series=week").status_code == 404


def test_history_pages_need_the_cabinet_login(client):
    for path in ("/cabinet/history", "/cabinet/history.csv", "/cabinet/sessions",
                 "/cabinet/sessions.csv", "/cabinet/traffic", "/cabinet/traffic.csv"):
        answer = client.get(path)
        assert answer.status_code == 302 and "/cabinet/login" in answer.headers["Location"]
