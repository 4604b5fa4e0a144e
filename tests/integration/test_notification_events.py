"""Balance alerts, payment and block notices over a fake clock, against a real PostgreSQL:
each pass run twice (the second queues nothing), the message counts exact after each."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import psycopg
import pytest

from billing.forecast import forecast
from billing.notifications import batches, events, mailing, optouts
from billing.notifications.templates import render
from tests.integration.charging_helpers import (
    assign,
    periodic_service,
    settlement_period,
    tariff,
)
from tests.integration.notification_helpers import (
    BACKEND,
    messages,
    move,
    sms_settings,
    subscriber,
)

TZ = ZoneInfo("Europe/Moscow")


def noon(day: int) -> datetime:
    return datetime(2026, 12, day, 12, 0, tzinfo=TZ)


def alerts(conn, at, settings) -> events.PassResult:
    """The pass, then again: the second run queues nothing and counts nothing. Then the
    day's batch is made into messages as the sender makes it (by the next morning, past
    any quiet hours)."""
    first = events.balance_alerts(conn, at, settings)
    again = events.balance_alerts(conn, at, settings)
    assert (again.queued, again.selected) == (0, 0)
    made = batches.materialize(conn, at + timedelta(days=1), 10_000, settings)
    assert made == first.queued
    return first


def day_batch(conn, day: int) -> int:
    """The batch of the balance alerts of December ``day``."""
    return conn.execute("SELECT id FROM message_batches WHERE request_key = %s",
                        (f"low_balance:2026-12-{day:02d}",)).fetchone()[0]


def test_alerts_every_n_days_at_most_m_times_reset_by_a_payment(conn, tmp_path):
    settings = sms_settings(tmp_path, SENDSMS_BALANCE_EVERY_DAYS=2,
                            SENDSMS_BALANCE_MAX_TIMES=2)
    low = subscriber(conn, "-10.50")
    zero = subscriber(conn, "0")  # at the threshold, not below it
    subscriber(conn, "50.00")

    assert alerts(conn, noon(1), settings).queued == 1
    sent = messages(conn, "low_balance")
    assert [(m[0], m[1]) for m in sent] == [(low, f"batch:{day_batch(conn, 1)}:{low}")]
    _account, _key, recipient, body, due = sent[0]
    assert recipient.startswith("+7916") and due == noon(1)
    assert body == (f"Баланс договора {_contract(conn, low)}: -10,50 руб. Пополните счёт,"
                    " чтобы доступ не был приостановлен.")
    assert zero not in {m[0] for m in sent}

    assert alerts(conn, noon(2), settings).queued == 0  # not two days yet
    assert alerts(conn, noon(3), settings).queued == 1  # the second
    assert alerts(conn, noon(5), settings).queued == 0  # at most twice
    assert alerts(conn, noon(7), settings).queued == 0
    assert len(messages(conn, "low_balance")) == 2

    move(conn, low, "60.00", kind="payment")  # recovers: the count starts over
    recovered = alerts(conn, noon(8), settings)
    assert (recovered.reset, recovered.queued) == (1, 0)
    assert conn.execute("SELECT count(*) FROM balance_alerts").fetchone()[0] == 0
    move(conn, low, "-100.00")
    assert alerts(conn, noon(9), settings).queued == 1
    assert [m[1] for m in messages(conn, "low_balance")][-1] == f"batch:{day_batch(conn, 9)}:{low}"


def test_two_passes_at_once_count_one_alert(conn, db, tmp_path):
    settings = sms_settings(tmp_path)
    accounts = [subscriber(conn, "-1.00") for _ in range(50)]
    start = threading.Barrier(2)
    results = []

    def one_pass() -> None:
        with psycopg.connect(db, autocommit=True) as own:
            start.wait()
            results.append(events.balance_alerts(own, noon(1), settings).queued)

    threads = [threading.Thread(target=one_pass) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [0, 50]
    assert conn.execute("SELECT count(*), min(times), max(times) FROM balance_alerts"
                        ).fetchone() == (len(accounts), 1, 1)


def test_a_tariffs_threshold_overrides_the_global_one(conn, tmp_path):
    settings = sms_settings(tmp_path)
    rich_tariff, plain_tariff = tariff(conn), tariff(conn)
    conn.execute("INSERT INTO tariff_notification_settings VALUES (%s, 100)", (rich_tariff,))
    on_rich, on_plain, below = (subscriber(conn, b) for b in ("50.00", "50.00", "-1.00"))
    assign(conn, on_rich, rich_tariff, noon(1) - timedelta(days=30))
    assign(conn, on_plain, plain_tariff, noon(1) - timedelta(days=30))
    alerts(conn, noon(1), settings)
    assert {m[0] for m in messages(conn)} == {on_rich, below}
    # Without the global threshold the tariff's own still alerts.
    conn.execute("DELETE FROM messages")
    conn.execute("DELETE FROM balance_alerts")
    alerts(conn, noon(2), sms_settings(tmp_path, SENDSMS_IF_BALLANCE_AMOUNT=None))
    assert {m[0] for m in messages(conn)} == {on_rich}


@pytest.mark.parametrize("with_credit", [False, True])
def test_the_credit_counts_only_when_asked(conn, tmp_path, with_credit):
    settings = sms_settings(tmp_path, SENDSMS_BALANCE_WITH_CREDIT=with_credit)
    covered = subscriber(conn, "-10.00", credit="20.00")
    bare = subscriber(conn, "-10.00")
    alerts(conn, noon(1), settings)
    expected = {bare} if with_credit else {covered, bare}
    assert {m[0] for m in messages(conn)} == expected


def test_opted_out_and_unreachable_subscribers_are_skipped_with_the_reason(conn, tmp_path):
    settings = sms_settings(tmp_path)
    reached = subscriber(conn, "-1.00")
    quiet = subscriber(conn, "-1.00")
    optouts.set_opted_out(conn, quiet, True)
    landline = subscriber(conn, "-1.00", phone="+7 495 123-45-67")
    subscriber(conn, "-1.00", phone="")
    subscriber(conn, "-1.00", phone="call me")
    result = alerts(conn, noon(1), settings)
    assert result.queued == 1 and {m[0] for m in messages(conn)} == {reached}
    assert result.skipped == {"opted_out": 1, "not_mobile": 1, "empty": 1, "unreadable": 1}
    assert result.selected == 5  # each counted as alerted: no retry every day
    # An essential message reaches the opted-out one all the same.
    queued, skipped = mailing.queue_template(conn, "payment_received", [quiet, landline],
                                             noon(1), "manual:", settings=settings)
    assert (queued, skipped) == (1, 1)
    assert conn.execute("SELECT account_id FROM messages WHERE idempotency_key = %s",
                        (f"manual:{quiet}",)).fetchone() == (quiet,)


def test_quiet_hours_move_the_due_time_to_the_morning(conn, tmp_path):
    settings = sms_settings(tmp_path, SENDSMS_QUIET_HOURS="22:00-09:00")
    subscriber(conn, "-5.00")
    late = datetime(2026, 12, 1, 23, 30, tzinfo=TZ)
    alerts(conn, late, settings)
    assert [m[4] for m in messages(conn)] == [datetime(2026, 12, 2, 9, 0, tzinfo=TZ)]


def test_a_payment_is_told_once(conn, tmp_path):
    settings = sms_settings(tmp_path, NOTIFY_PAYMENTS=True)
    acc = subscriber(conn, "-10.00")
    move(conn, acc, "100.00", kind="payment")
    first = events.payment_notices(conn, noon(1), settings)
    assert (first.selected, first.queued) == (0, 0)  # the first pass starts at the end
    one = move(conn, acc, "250.00", kind="payment")
    two = move(conn, acc, "30.00", kind="payment")
    move(conn, acc, "-5.00")  # a correction is no payment
    for day in (1, 1, 2, 3):
        events.payment_notices(conn, noon(day), settings)
    sent = messages(conn, "payment_received")
    assert [m[1] for m in sent] == [f"payment:{one}", f"payment:{two}"]
    contract = _contract(conn, acc)
    assert sent[0][3] == (f"Платёж 250,00 руб. зачислен на договор {contract}."
                          " Баланс: 365,00 руб.")


def test_a_block_is_told_once_with_its_reason(conn, tmp_path):
    settings = sms_settings(tmp_path, NOTIFY_BLOCKS=True)
    acc = subscriber(conn, "-10.00")
    other = subscriber(conn, "5.00")
    events.block_notices(conn, noon(1), settings)  # the mark starts here
    conn.execute("UPDATE accounts SET blocked_by_limit = true WHERE id = %s", (acc,))
    conn.execute("UPDATE accounts SET blocked_by_limit = true WHERE id = %s", (other,))
    conn.execute("UPDATE accounts SET blocked_by_limit = false WHERE id = %s", (other,))
    for _ in range(2):
        events.block_notices(conn, noon(1), settings)
    sent = messages(conn, "blocked")
    assert [m[0] for m in sent] == [acc]  # the other's block was lifted before the pass
    assert "Лимит трафика исчерпан" in sent[0][3]
    # Lifted and on again: a new block, a new notice.
    conn.execute("UPDATE accounts SET blocked_by_limit = false WHERE id = %s", (acc,))
    conn.execute("UPDATE accounts SET blocked_by_limit = true WHERE id = %s", (acc,))
    events.block_notices(conn, noon(2), settings)
    events.block_notices(conn, noon(2), settings)
    assert len(messages(conn, "blocked")) == 2


def test_sql_rendering_equals_the_templates_renderer(conn, tmp_path):
    """The set-based rendering and templates.render agree, value by value."""
    settings = sms_settings(tmp_path)
    odd = subscriber(conn, "-1234567.05")
    conn.execute("UPDATE accounts SET full_name = %s, credit = 1000 WHERE id = %s",
                 ("  Пётр  ", odd))
    plain = subscriber(conn, "0.5")
    plan = tariff(conn)
    assign(conn, plain, plan, noon(1) - timedelta(days=3))
    names = {odd: "", plain: conn.execute("SELECT name FROM tariffs WHERE id = %s",
                                          (plan,)).fetchone()[0]}
    body = ("\n {{ full_name }}: {{ balance|money }} / {{ credit }} / {{ credit|money }}"
            " {{ login }} {# a note #}{{ tariff }}  \n")
    fixed = "«{{ full_name }}» {{ balance|money }}."  # its own text at both ends
    conn.execute("INSERT INTO message_templates (code, language, channel, body)"
                 " VALUES ('custom', 'ru', 'sms', %s), ('custom_if', 'ru', 'sms', %s),"
                 " ('fixed', 'ru', 'sms', %s)",
                 (body, "{% if balance < 0 %}{% endif %}" + body, fixed))
    for code, prefix in (("custom", "fast:"), ("custom_if", "slow:"), ("fixed", "fixed:")):
        mailing.queue_template(conn, code, [odd, plain], noon(1), prefix, settings=settings)
    rows = dict(conn.execute("SELECT idempotency_key, body FROM messages").fetchall())
    for acc in (odd, plain):
        full_name, login, balance, credit = conn.execute(
            "SELECT full_name, login, balance, credit FROM accounts WHERE id = %s",
            (acc,)).fetchone()
        values = {"full_name": full_name, "login": login, "balance": balance,
                  "credit": credit, "tariff": names[acc], "contract": "", "days_left": None,
                  "amount": Decimal(0), "reason": "", "until": ""}
        assert rows[f"fast:{acc}"] == render(body, values) == rows[f"slow:{acc}"]
        assert rows[f"fixed:{acc}"] == render(fixed, values)
    assert rows[f"fast:{odd}"].startswith(
        "Пётр  : -1\u00a0234\u00a0567,05 / 1000.00 / 1\u00a0000,00 u")


def _contract(conn, acc: int) -> str:
    return conn.execute("SELECT contract FROM accounts WHERE id = %s", (acc,)).fetchone()[0]


def test_the_backend_is_the_guides_default(conn, tmp_path):
    subscriber(conn, "-1.00")
    alerts(conn, noon(1), sms_settings(tmp_path))
    assert conn.execute("SELECT DISTINCT backend FROM messages").fetchall() == [(BACKEND,)]


def test_forecast_told_once_per_crossing(conn, tmp_path):
    settings = sms_settings(tmp_path, NOTIFY_FORECAST_DAYS=3)
    sp = settlement_period(conn, anchor=datetime(2026, 1, 1, tzinfo=TZ))
    plan = tariff(conn)
    periodic_service(conn, plan, sp, "310.00", "GRADUAL", name="internet")  # 10.00 a day
    short, long_ = subscriber(conn, "25.00"), subscriber(conn, "100.00")
    for acc in (short, long_):
        assign(conn, acc, plan, datetime(2026, 11, 1, tzinfo=TZ))
    for _ in range(2):
        events.forecast_notices(conn, noon(1), settings)
    sent = messages(conn, "forecast")
    assert [(m[0], m[1]) for m in sent] == [(short, f"forecast:{short}:2026-12-01")]
    assert "хватит примерно на 2 дн." in sent[0][3]
    move(conn, short, "100.00", kind="payment")  # 12 days: above again
    assert events.forecast_notices(conn, noon(2), settings).reset == 1
    move(conn, short, "-100.00")
    events.forecast_notices(conn, noon(3), settings)
    assert [m[1] for m in messages(conn, "forecast")] == [
        f"forecast:{short}:2026-12-01", f"forecast:{short}:2026-12-03"]


def test_forecast_candidates_hold_every_account_the_forecast_finds(conn):
    """The set-based preselection never drops an account forecast() puts within N days."""
    at = noon(10)
    plans = []
    for unit, seconds in (("DAY", None), ("WEEK", None), ("MONTH", None), ("YEAR", None),
                          ("SECONDS", 3600 * 36)):
        sp = settlement_period(conn, unit=unit, anchor=datetime(2026, 1, 1, tzinfo=TZ),
                               length_seconds=seconds)
        plan = tariff(conn)
        periodic_service(conn, plan, sp, "70.00", "AT_START")
        periodic_service(conn, plan, sp, "9.99", "GRADUAL", condition="GT",
                         condition_sum="1000")
        plans.append(plan)
    accounts = []
    for n, plan in enumerate(plans * 6):
        balance = ("-5.00", "0.01", "3.33", "12.00", "40.00", "300.00")[n // len(plans)]
        acc = subscriber(conn, balance, credit="1.00" if n % 2 else "0")
        assign(conn, acc, plan, at - timedelta(days=n % 40 + 1))
        if n % 3 == 0:
            move(conn, acc, "-2.37", kind="charge_traffic", at=at - timedelta(days=n % 20))
        accounts.append(acc)
    idle = subscriber(conn, "1.00")
    move(conn, idle, "-0.40", kind="charge_time", at=at - timedelta(days=2))
    accounts.append(idle)
    for days in (0, 1, 3, 7):
        found = {a for a in accounts
                 if (left := forecast(conn, a, at, TZ).days_left) is not None and left <= days}
        candidates = set(events.forecast_candidates(conn, at, days))
        assert found <= candidates, (days, found - candidates)
        assert found, days


def test_email_goes_to_the_accounts_address(conn, tmp_path):
    settings = sms_settings(tmp_path)
    conn.execute("INSERT INTO message_templates (code, language, channel, subject, body)"
                 " VALUES ('news', 'en', 'email', 'News for {{ contract }}',"
                 " 'Dear {{ full_name }}, your balance is {{ balance|money }}.')")
    mailed = subscriber(conn, "12.00", email=" user@example.org ")
    bare = subscriber(conn, "12.00")
    result = mailing.queue_template(conn, "news", [mailed, bare], noon(1), "news:",
                                    channel="email", settings=settings)
    assert (result.queued, result.skipped, result.reasons) == (1, 1, {"no_email": 1})
    row = conn.execute("SELECT backend, recipient, subject, body FROM messages").fetchone()
    contract = _contract(conn, mailed)
    # The English template serves when there is none in LANGUAGE_CODE (Russian), in English.
    assert row == ("email", "user@example.org", f"News for {contract}",
                   f"Dear Абонент {mailed}, your balance is 12.00.")
    again = mailing.queue_template(conn, "news", [mailed], noon(1), "news:",
                                   channel="email", settings=settings)
    assert (again.queued, again.skipped, again.reasons) == (0, 0, {"already_queued": 1})
