"""The cabinet's overview: the forecast, what is left and — when access is limited —
the reason with its fix, from the same billing rules the RADIUS decision and the
notifications use."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from billing import ledger
from tests.integration.charging_helpers import assign, periodic_service, settlement_period, tariff
from tests.web.cabinet_helpers import cabinet_login, subscriber

NOW = datetime.now(UTC)


def on_tariff(conn, account_id: int, monthly: str | None = None) -> int:
    t = tariff(conn)
    if monthly:
        periodic_service(conn, t, settlement_period(conn), monthly, "AT_START",
                         name="Internet 100")
    assign(conn, account_id, t, NOW - timedelta(days=60))
    return t


def post(conn, account_id: int, kind: str, amount: str) -> None:
    ledger.post(conn, ledger.Entry(account_id, kind, Decimal(amount), f"ov:{kind}:{amount}",
                                   NOW - timedelta(days=2)))


def value(html: str, element_id: str, attribute: str = "data-value") -> str:
    match = re.search(rf'id="{element_id}"[^>]*{attribute}="([^"]*)"', html)
    assert match, f"no #{element_id} with {attribute}"
    return match.group(1)


def test_a_debtor_is_told_why_and_how_much_to_pay(client, conn):
    account_id, name, password = subscriber(conn)
    on_tariff(conn, account_id)
    post(conn, account_id, "charge_onetime", "-150.00")
    page = cabinet_login(client, name, password).text
    assert value(page, "cabinet-limited", "data-reason") == "balance_negative"
    assert value(page, "cabinet-limited", "data-pay") == "150.01"
    assert "Not enough money on the account, please top up" in page
    assert "Pay 150.01" in page


def test_a_paid_up_subscriber_sees_no_banner_and_the_days_left(client, conn):
    account_id, name, password = subscriber(conn)
    on_tariff(conn, account_id, monthly="300.00")
    post(conn, account_id, "payment", "1000.00")
    page = cabinet_login(client, name, password).text
    assert 'id="cabinet-limited"' not in page
    assert value(page, "cabinet-balance") == "1000.00"
    days = int(value(page, "cabinet-days-left"))
    # 300 a month is 300/28 … 300/31 a day: 1,000 lasts 93 to 103 days.
    assert 93 <= days <= 103
    assert value(page, "cabinet-next-charge") == "300.00"
    assert "Internet 100" in page


def test_a_suspended_account_is_offered_the_resume(client, conn):
    account_id, name, password = subscriber(conn, balance_status="suspended")
    on_tariff(conn, account_id)
    post(conn, account_id, "payment", "10.00")
    page = cabinet_login(client, name, password).text
    assert value(page, "cabinet-limited", "data-reason") == "account_suspended"
    assert value(page, "cabinet-limited", "data-action") == "resume"
    assert "End the suspension" in page


def test_the_reason_reads_in_russian(client, conn):
    account_id, name, password = subscriber(conn)
    on_tariff(conn, account_id)
    post(conn, account_id, "charge_onetime", "-5.00")
    cabinet_login(client, name, password)
    client.get("/cabinet/language/ru")
    page = client.get("/cabinet/").text
    assert "Недостаточно средств на счёте, пополните баланс" in page
    assert "Оплатите 5,01" in page
