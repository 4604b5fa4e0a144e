"""The dashboard's time series: money per local day equals what the ledger's entries say
(a reversal nets its original out on the reversal's day), sessions online per hour are the
samples' highest, and Chart.js comes from the app itself."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from billing import ledger, online_samples
from tests.web.test_reports import _accounts

MSK = ZoneInfo("Europe/Moscow")  # the settings' TIME_ZONE
_ROW = re.compile(r'<tr data-day="([\d-]+)">.*?data-payments="([^"]+)".*?data-charges="([^"]+)"',
                  re.S)
_HOUR = re.compile(r'<tr data-hour="([\dT:-]+)">.*?data-online="([^"]*)"', re.S)


def _post(conn, contract: str, kind: str, amount: str, at: datetime) -> int:
    account = conn.execute("SELECT id FROM accounts WHERE contract = %s",
                           (contract,)).fetchone()[0]
    entry = ledger.Entry(account_id=account, kind=kind, amount=Decimal(amount),
                         idempotency_key=f"dash-{kind}-{amount}-{at.isoformat()}",
                         effective_at=at)
    return ledger.post(conn, entry).id


def _ledger_by_day(conn, first, last) -> dict[str, tuple[Decimal, Decimal]]:
    """The same figures recomputed from the entries themselves: a reversal counts under
    its original's kind, on its own local day."""
    rows = conn.execute(
        """
        SELECT (e.effective_at AT TIME ZONE 'Europe/Moscow')::date AS day,
               coalesce(sum(e.amount) FILTER (WHERE coalesce(o.kind, e.kind) = 'payment'), 0),
               coalesce(-sum(e.amount) FILTER (WHERE coalesce(o.kind, e.kind) LIKE 'charge%%'), 0)
          FROM ledger_entries e LEFT JOIN ledger_entries o ON o.id = e.reverses_id
         WHERE (e.effective_at AT TIME ZONE 'Europe/Moscow')::date BETWEEN %s AND %s
         GROUP BY 1
        """, (first, last)).fetchall()
    return {day.isoformat(): (pay, charge) for day, pay, charge in rows}


def test_money_per_day_nets_reversals_and_equals_the_ledger(as_admin, conn):
    _accounts(conn, 2)
    midnight = datetime.now(MSK).replace(hour=0, minute=0, second=0, microsecond=0)
    today = midnight + timedelta(seconds=1)  # today, and never in the future
    _post(conn, "70001", "payment", "100.00", today)
    _post(conn, "70002", "payment", "50.25", today)
    _post(conn, "70001", "charge_periodic", "-30.00", today)
    typo = _post(conn, "70002", "payment", "999.99", today)
    ledger.reverse(conn, typo, effective_at=today)  # posted and reversed the same day
    earlier = _post(conn, "70001", "payment", "70.00", midnight - timedelta(days=2))
    ledger.reverse(conn, earlier, effective_at=today)  # reversed today: today is lower
    _post(conn, "70002", "charge_onetime", "-12.34", midnight - timedelta(days=3))
    _post(conn, "70001", "payment", "5.00", midnight - timedelta(days=31))  # outside
    _post(conn, "70001", "payment", "1.00", midnight + timedelta(days=1, hours=1))  # future

    page = as_admin.get("/").text
    shown = {day: (Decimal(pay), Decimal(charge)) for day, pay, charge in _ROW.findall(page)}
    days = [(midnight - timedelta(days=n)).date().isoformat() for n in range(30)]
    assert sorted(shown) == sorted(days)
    d = days  # d[0] today, d[2] two days ago
    assert shown[d[0]] == (Decimal("80.25"), Decimal("30.00"))
    assert shown[d[2]] == (Decimal("70.00"), Decimal("0"))
    assert shown[d[3]] == (Decimal("0"), Decimal("12.34"))
    assert all(shown[day] == (0, 0) for day in [*d[4:], d[1]])
    # Every day equals the recomputation from the entries (days without entries: zero).
    recomputed = _ledger_by_day(conn, days[-1], days[0])
    assert {day: shown[day] for day in days} == {
        day: recomputed.get(day, (Decimal("0"), Decimal("0"))) for day in days}
    data = json.loads(re.search(
        r'<script type="application/json" id="ebs-series-data">(.*?)</script>', page,
        re.S).group(1))
    assert data["payments"][-1] == "80.25" and data["charges"][-1] == "30.00"
    assert data["days"][-1] == midnight.strftime("%d.%m") and len(data["days"]) == 30


def test_online_per_hour_is_the_highest_sample_and_the_sampler_is_idempotent(as_admin, conn):
    now = datetime.now(MSK)
    hour = now.replace(minute=0, second=0, microsecond=0)
    for minutes, sessions in ((0, 5), (5, 7), (10, 6)):
        conn.execute("INSERT INTO online_samples VALUES (%s, %s) ON CONFLICT DO NOTHING",
                     (min(hour + timedelta(minutes=minutes), now), sessions))
    conn.execute("INSERT INTO online_samples VALUES (%s, 100), (%s, 9)",
                 (hour - timedelta(hours=30), hour - timedelta(days=40)))
    for n in range(2):
        conn.execute(
            "INSERT INTO sessions_open (acct_unique_id, acct_session_id, nas_ip, username, "
            "started_at, updated_at) VALUES (%s, 's', '10.0.0.1', 'u', now(), now())",
            (f"dash-{n}",))
    three_ago = hour - timedelta(hours=3) + timedelta(minutes=2)
    with conn.transaction():
        assert online_samples.record_sample(conn, at=three_ago) is True
    with conn.transaction():
        assert online_samples.record_sample(conn, at=three_ago + timedelta(minutes=1)) is False
    # The 40-day-old sample is pruned; the one of the slot stays, counted once.
    assert conn.execute("SELECT count(*) FROM online_samples WHERE sampled_at < %s",
                        (hour - timedelta(days=35),)).fetchone()[0] == 0
    assert conn.execute("SELECT sessions FROM online_samples WHERE sampled_at = %s",
                        (hour - timedelta(hours=3),)).fetchone()[0] == 2

    shown = dict(_HOUR.findall(as_admin.get("/").text))
    hours = [(hour - timedelta(hours=n)).replace(tzinfo=None).isoformat() for n in range(24)]
    assert sorted(shown) == sorted(hours)
    assert shown[hours[0]] == "7" and shown[hours[3]] == "2"
    # No sample: a gap, not a zero; the sample 30 hours back is outside the day.
    assert [shown[h] for h in hours if h not in (hours[0], hours[3])] == [""] * 22


def test_the_series_are_read_by_index(conn):
    """At 500,000 accounts and years of ledger the page reads a month of buckets and a
    day of samples, each a range of an index."""
    conn.execute("SET enable_seqscan = off")
    for sql in ("SELECT sum(amount) FROM ledger_totals WHERE bucket >= now() - interval "
                "'30 days' AND bucket < now()",
                "SELECT max(sessions) FROM online_samples WHERE sampled_at >= now() - "
                "interval '1 day' AND sampled_at < now()"):
        plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + sql))
        assert "Index" in plan and "Seq Scan" not in plan, plan


def test_chart_js_is_served_by_the_app(as_admin):
    page = as_admin.get("/").text
    sources = re.findall(r'<script[^>]+src="([^"]+)"', page)
    assert "/vendor/chart.js" in sources and any(s.endswith("ebs_charts.js") for s in sources)
    assert not [s for s in sources if "//" in s], sources  # no other origin
    script = as_admin.get("/vendor/chart.js")
    assert script.status_code == 200 and script.mimetype == "text/javascript"
    assert b"Chart.js v3" in script.data[:300]
