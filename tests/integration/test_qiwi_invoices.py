"""QIWI invoices against a QIWI speaking its shop XML protocol on 127.0.0.1: the guide's
settings unchanged; the creation and status requests byte for byte as the protocol's
examples lay them out; paid, cancelled, expired, still open and unknown answers; a poll
run twice credits once; QIWI down, broken or refusing changes nothing; the beat task and
``ebs payments poll-qiwi``. After each, the payments reconcile with the ledger."""

from __future__ import annotations

import dataclasses
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest
from click.testing import CliRunner

from billing import gateway_payments, ledger
from billing import settings as settings_mod
from billing.gateways import qiwi_invoices
from billing.gateways.base import GatewayRefusal, backend_config
from cli.main import cli
from tests.conftest import ebs_env
from tests.integration.ledger_helpers import balance, make_account
from tests.integration.qiwi_xml_fake import FakeQiwi
from tests.web.gateway_helpers import GUIDE_FILE

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


@pytest.fixture
def qiwi():
    fake = FakeQiwi().start()
    yield fake
    fake.stop()


@pytest.fixture
def settings_file(tmp_path, qiwi):
    """An operator's settings_local.py: the guide's lines as printed, and where QIWI is."""
    path = tmp_path / "settings_local.py"
    path.write_text(GUIDE_FILE + "GETPAID_BACKENDS_SETTINGS['payments.qiwiru'].update("
                    f"GATEWAY_URL={qiwi.url!r}, TIMEOUT=3)\n")
    return path


@pytest.fixture
def config(settings_file):
    return backend_config("payments.qiwiru", settings_mod.load({"EBS_SETTINGS":
                                                                 str(settings_file)}))


def create_bytes(invoice: str, phone: str, amount: str, contract: str) -> bytes:
    """§1.2.1's example with the guide's terminal, password and flags."""
    return f"""<?xml version="1.0" encoding="utf-8"?>
<request>
<protocol-version>4.00</protocol-version>
<request-type>30</request-type>
<terminal-id>12345</terminal-id>
<extra name="password">12345</extra>
<extra name="txn-id">{invoice}</extra>
<extra name="to-account">{phone}</extra>
<extra name="amount">{amount}</extra>
<extra name="comment">Оплата за интернет по договору {contract}</extra>
<extra name="create-agt">1</extra>
<extra name="ltime">48</extra>
<extra name="ALARM_SMS">0</extra>
<extra name="ACCEPT_CALL">0</extra>
</request>
""".encode()


def status_bytes(*invoices: str) -> bytes:
    """§1.5.1's example with the guide's terminal and password."""
    bills = "".join(f'<bill txn-id="{invoice}" />\n' for invoice in invoices)
    return ('<?xml version="1.0" encoding="utf-8"?>\n<request>\n'
            "<protocol-version>4.00</protocol-version>\n<request-type>33</request-type>\n"
            '<terminal-id>12345</terminal-id>\n<extra name="password">12345</extra>\n'
            f"<bills-list>\n{bills}</bills-list>\n</request>\n").encode()


def states(conn) -> dict[str, str]:
    return dict(conn.execute("SELECT provider_txn_id, state FROM gateway_payments"))


def money_whole(conn) -> None:
    assert gateway_payments.reconcile(conn) == []
    assert ledger.verify(conn) == []


def test_an_invoice_is_sent_as_the_protocol_lays_it_out_and_waits_unpaid(conn, qiwi, config):
    account = make_account(conn, "5001")
    issued = qiwi_invoices.issue(conn, account, "+7 (916) 123-45-67", "150", config)
    assert issued.outcome == "issued" and issued.code == 0
    assert issued.invoice == f"inv{issued.payment.id - 1}"  # drawn from the same sequence
    [request] = qiwi.received
    assert request.path == "/xml" and request.content_type == "text/xml; charset=utf-8"
    assert request.body == create_bytes(issued.invoice, "9161234567", "150.00", "5001")
    payment = gateway_payments.find(conn, "payments.qiwiru", issued.invoice)
    assert (payment.state, payment.amount, payment.currency) == ("pending", Decimal("150.00"),
                                                                "RUB")
    details = conn.execute("SELECT details FROM gateway_payments WHERE id = %s",
                           (payment.id,)).fetchone()[0]
    assert details["phone"] == "9161234567" and details["lifetime_hours"] == "48"
    expires = datetime.fromisoformat(details["expires_at"])
    assert expires - payment.created_at == pytest.approx(timedelta(hours=48),
                                                         abs=timedelta(seconds=5))
    assert balance(conn, account) == 0
    money_whole(conn)


def test_the_cabinets_role_can_issue_and_the_workers_can_poll(db, conn, qiwi, config):
    settings = settings_mod.load(ebs_env(db))
    account = make_account(conn, "5001")
    with psycopg.connect(settings_mod.database_conninfo(settings, component="web"),
                         autocommit=True) as web:
        invoice = qiwi_invoices.issue(web, account, "9161234567", "150", config).invoice
    qiwi.bills[invoice].status = 60
    with psycopg.connect(settings_mod.database_conninfo(settings, component="worker"),
                         autocommit=True) as worker:
        assert qiwi_invoices.poll(worker, config, NOW).credited == [invoice]
    assert balance(conn, account) == Decimal("150.00")
    money_whole(conn)


def test_poll_applies_each_status_in_one_request_and_a_second_poll_credits_nothing(
        conn, qiwi, config):
    account = make_account(conn, "5001")
    numbers = [qiwi_invoices.issue(conn, account, "89161234567", f"{100 + i}.50",
                                   config).invoice for i in range(6)]
    paid, cancelled, expired, open_, paying, odd = numbers
    qiwi.bills[paid].status = 60
    qiwi.bills[cancelled].status = 160
    qiwi.bills[expired].status = 161
    qiwi.bills[paying].status = 52
    qiwi.bills[odd].status = 18  # not among the protocol's statuses
    qiwi.received.clear()

    result = qiwi_invoices.poll(conn, config, NOW)
    assert [r.body for r in qiwi.received] == [status_bytes(*numbers)]
    assert not result.failed and result.credited == [paid]
    assert result.closed == [cancelled, expired]
    assert {k: v for k, v in result.counts.items() if v} == {
        "asked": 6, "paid": 1, "cancelled": 2, "open": 2, "unknown_status": 1}
    assert states(conn) == {paid: "paid", cancelled: "cancelled", expired: "cancelled",
                            open_: "pending", paying: "pending", odd: "pending"}
    assert balance(conn, account) == Decimal("100.50")
    changes = conn.execute(
        "SELECT p.provider_txn_id, c.to_state, c.at, c.reason FROM gateway_payment_changes c"
        " JOIN gateway_payments p ON p.id = c.payment_id ORDER BY p.id").fetchall()
    assert changes == [
        (paid, "paid", NOW, f"QIWI invoice {paid} paid: status 60, sum 100.50"),
        (cancelled, "cancelled", NOW, f"QIWI invoice {cancelled}: status 160 Отменен"),
        (expired, "cancelled", NOW,
         f"QIWI invoice {expired}: status 161 Отменен (истекло время)")]

    again = qiwi_invoices.poll(conn, config, NOW + timedelta(minutes=5))
    assert qiwi.received[-1].body == status_bytes(open_, paying, odd)  # only the open ones
    assert again.credited == [] and again.counts["asked"] == 3
    assert balance(conn, account) == Decimal("100.50")
    assert conn.execute("SELECT count(*) FROM ledger_entries").fetchone()[0] == 1

    qiwi.bills[paying].status = 60  # the payment "being made" went through
    later = qiwi_invoices.poll(conn, config, NOW + timedelta(minutes=10))
    assert later.credited == [paying]
    assert balance(conn, account) == Decimal("100.50") + Decimal("104.50")
    money_whole(conn)


def test_a_paid_sum_that_is_not_the_invoices_is_not_credited(conn, qiwi, config):
    account = make_account(conn, "5001")
    invoice = qiwi_invoices.issue(conn, account, "9161234567", "150.00", config).invoice
    qiwi.bills[invoice].status, qiwi.bills[invoice].sum = 60, "15.00"
    result = qiwi_invoices.poll(conn, config, NOW)
    assert result.counts["mismatch"] == 1 and result.credited == []
    assert states(conn) == {invoice: "pending"} and balance(conn, account) == 0
    qiwi.bills[invoice].sum = "not-a-sum"
    assert qiwi_invoices.poll(conn, config, NOW).counts["mismatch"] == 1
    assert balance(conn, account) == 0
    money_whole(conn)


@pytest.mark.parametrize(("broken", "why"), [
    ("down", "unreachable"),
    ("http500", "HTTP 500"),
    ("html", "no XML we read"),
    ("doctype", "DOCTYPE"),
    ("not-a-response", "not a <response>"),
    ("busy", "result code 13"),
    ("password", "result code 150"),
])
def test_qiwi_down_or_broken_changes_nothing_and_the_next_poll_catches_up(
        conn, qiwi, config, broken, why, caplog):
    account = make_account(conn, "5001")
    invoice = qiwi_invoices.issue(conn, account, "9161234567", "150", config).invoice
    qiwi.bills[invoice].status = 60
    if broken == "down":
        qiwi.stop()
    elif broken == "http500":
        qiwi.http_status = 500
    elif broken == "html":
        qiwi.answer_raw = b"<html><body>maintenance</body>"
    elif broken == "doctype":
        qiwi.answer_raw = (b'<!DOCTYPE r [<!ENTITY a "60">]><response><result-code>0'
                           b'</result-code><bills-list><bill id="' + invoice.encode()
                           + b'" status="&a;" sum="150.00"/></bills-list></response>')
    elif broken == "not-a-response":
        qiwi.answer_raw = b"<answer><code>0</code></answer>"
    elif broken == "busy":
        qiwi.answer_raw = b'<response><result-code fatal="false">13</result-code></response>'
    else:
        config.values["TERMINAL_PASSWORD"] = "wrong"
    result = qiwi_invoices.poll(conn, config, NOW)
    assert result.failed and why in result.failure and result.counts["asked"] == 0
    assert states(conn) == {invoice: "pending"} and balance(conn, account) == 0
    assert why in caplog.text  # the log says why

    if broken == "down":
        qiwi.start()
    qiwi.http_status, qiwi.answer_raw = 200, None
    config.values["TERMINAL_PASSWORD"] = "12345"
    assert qiwi_invoices.poll(conn, config, NOW).credited == [invoice]
    assert balance(conn, account) == Decimal("150.00")
    money_whole(conn)


def test_a_later_batch_unasked_when_qiwi_goes_away_midway(conn, qiwi, config):
    account = make_account(conn, "5001")
    numbers = [qiwi_invoices.issue(conn, account, "9161234567", "100", config).invoice
               for _ in range(5)]
    for number in numbers:
        qiwi.bills[number].status = 60
    qiwi.received.clear()
    original = qiwi.answer

    def second_fails(body):
        if len(qiwi.received) > 1:
            return 503, b""
        return original(body)

    qiwi.answer = second_fails
    progress = []
    result = qiwi_invoices.poll(conn, config, NOW, batch_size=2,
                                on_batch=lambda done, total, r: progress.append((done, total)))
    assert [r.body for r in qiwi.received] == [status_bytes(*numbers[:2]),
                                               status_bytes(*numbers[2:4])]
    assert progress == [(1, 3)] and result.credited == numbers[:2] and result.failed
    assert balance(conn, account) == Decimal("200.00")
    qiwi.answer = original
    assert qiwi_invoices.poll(conn, config, NOW, batch_size=2).credited == numbers[2:]
    assert balance(conn, account) == Decimal("500.00")
    money_whole(conn)


def test_an_invoice_whose_creation_answer_was_lost_is_found_by_the_poll(conn, qiwi, config):
    account = make_account(conn, "5001")
    qiwi.lose_create_answer = True
    lost = qiwi_invoices.issue(conn, account, "9161234567", "150", config)
    assert lost.outcome == "unconfirmed" and lost.code is None
    assert lost.invoice in qiwi.bills  # QIWI did create it
    qiwi.lose_create_answer = False
    qiwi.stop()
    never = qiwi_invoices.issue(conn, account, "9161234567", "170", config)
    assert never.outcome == "unconfirmed" and "unreachable" in never.message
    qiwi.start()
    assert states(conn) == {lost.invoice: "pending", never.invoice: "pending"}

    qiwi.bills[lost.invoice].status = 60
    qiwi.unknown_is_210 = True  # QIWI refuses the whole list for the one it never saw
    result = qiwi_invoices.poll(conn, config, NOW)
    assert result.credited == [lost.invoice] and result.counts["missing"] == 1
    assert [r.body for r in qiwi.received[-3:]] == [
        status_bytes(lost.invoice, never.invoice), status_bytes(lost.invoice),
        status_bytes(never.invoice)]
    assert states(conn)[never.invoice] == "pending"  # it may yet appear

    expires = conn.execute(
        "SELECT (details->>'expires_at')::timestamptz FROM gateway_payments"
        " WHERE provider_txn_id = %s", (never.invoice,)).fetchone()[0]
    before = qiwi_invoices.poll(conn, config, expires + qiwi_invoices.MISSING_GRACE)
    assert before.closed == [] and states(conn)[never.invoice] == "pending"
    after = qiwi_invoices.poll(
        conn, config, expires + qiwi_invoices.MISSING_GRACE + timedelta(minutes=5))
    assert after.closed == [never.invoice] and states(conn)[never.invoice] == "cancelled"
    assert balance(conn, account) == Decimal("150.00")
    money_whole(conn)


@pytest.mark.parametrize(("code", "message"), [
    (241, "Сумма слишком мала"), (215, "Счет с таким txn-id уже существует"),
    (298, "Агента не существует в системе"), (300, "Неизвестная ошибка")])
def test_an_invoice_qiwi_refuses_is_closed_and_never_polled(conn, qiwi, config, code,
                                                             message):
    account = make_account(conn, "5001")
    qiwi.create_code = code
    refused = qiwi_invoices.issue(conn, account, "9161234567", "150", config)
    assert (refused.outcome, refused.code, refused.message) == ("refused", code, message)
    assert refused.payment.state == "cancelled"
    assert states(conn) == {refused.invoice: "cancelled"}
    qiwi.received.clear()
    assert qiwi_invoices.poll(conn, config, NOW).counts["asked"] == 0
    assert qiwi.received == []  # nothing open: QIWI not even asked
    assert balance(conn, account) == 0
    money_whole(conn)


@pytest.mark.parametrize(("phone", "amount", "code"), [
    ("12345", "150", "bad_phone"),
    ("+1 212 555 0100 12", "150", "bad_phone"),
    ("9161234567", "99.99", "amount_too_small"),  # the guide's MIN_SUM is 100
    ("9161234567", "0", "bad_amount"),
    ("9161234567", "-150", "bad_amount"),
    ("9161234567", "abc", "bad_amount"),
    ("9161234567", "150.001", "bad_amount"),
    ("9161234567", "NaN", "bad_amount"),
    ("9161234567", "1e30", "bad_amount"),
    ("9161234567", "100001", "amount_too_large"),  # PAYMENT_MAX_AMOUNT
])
def test_bad_input_is_refused_before_anything_is_recorded_or_sent(conn, qiwi, config,
                                                                   phone, amount, code):
    account = make_account(conn, "5001")
    with pytest.raises(GatewayRefusal) as refusal:
        qiwi_invoices.issue(conn, account, phone, amount, config)
    assert refusal.value.code == code
    assert states(conn) == {} and qiwi.received == []


def test_no_account_or_another_currency_is_refused(conn, qiwi, config):
    with pytest.raises(GatewayRefusal) as refusal:
        qiwi_invoices.issue(conn, 424242, "9161234567", "150", config)
    assert refusal.value.code == "no_account"
    account = make_account(conn, "5001")
    uah = dataclasses.replace(config, currency="UAH")
    with pytest.raises(GatewayRefusal) as refusal:
        qiwi_invoices.issue(conn, account, "9161234567", "150", uah)
    assert refusal.value.code == "bad_currency"
    assert states(conn) == {} and qiwi.received == []


def test_issuing_inside_a_transaction_is_refused(db, qiwi, config):
    with psycopg.connect(db) as conn:  # not autocommit: a transaction opens
        account = make_account(conn, "5001")
        with pytest.raises(RuntimeError, match="outside a transaction"):
            qiwi_invoices.issue(conn, account, "9161234567", "150", config)
    assert qiwi.received == []


def test_a_poll_running_elsewhere_makes_this_one_give_way(db, conn, qiwi, config):
    account = make_account(conn, "5001")
    invoice = qiwi_invoices.issue(conn, account, "9161234567", "150", config).invoice
    qiwi.bills[invoice].status = 60
    qiwi.received.clear()
    with psycopg.connect(db, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(hashtext('ebs.poll_qiwi')::bigint)")
        busy = qiwi_invoices.poll(conn, config, NOW)
        assert busy.busy and qiwi.received == [] and states(conn) == {invoice: "pending"}
        # let go now: a closed session's locks go only when its server process has ended
        other.execute("SELECT pg_advisory_unlock(hashtext('ebs.poll_qiwi')::bigint)")
    assert qiwi_invoices.poll(conn, config, NOW).credited == [invoice]
    money_whole(conn)


def test_ten_polls_at_once_credit_each_paid_invoice_once(db, conn, qiwi, config):
    account = make_account(conn, "5001")
    numbers = [qiwi_invoices.issue(conn, account, "9161234567", "100", config).invoice
               for _ in range(3)]
    for number in numbers:
        qiwi.bills[number].status = 60
    start = threading.Barrier(10)

    def one_poll():
        with psycopg.connect(db, autocommit=True) as own:
            start.wait()
            return qiwi_invoices.poll(own, config, NOW)

    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(lambda _: one_poll(), range(10)))
    assert sorted(n for r in results for n in r.credited) == numbers
    assert balance(conn, account) == Decimal("300.00")
    assert conn.execute("SELECT count(*) FROM ledger_entries").fetchone()[0] == 3
    money_whole(conn)


def test_the_beat_task_polls_as_the_worker(env, conn, qiwi, settings_file, monkeypatch):
    from worker.qiwi_invoice_tasks import poll_qiwi_invoices

    monkeypatch.setenv("EBS_SETTINGS", str(settings_file.parent / "none.py"))
    (settings_file.parent / "none.py").write_text("")
    assert poll_qiwi_invoices.run() == {"qiwi": "not configured"}
    monkeypatch.setenv("EBS_SETTINGS", str(settings_file))
    config = backend_config("payments.qiwiru", settings_mod.load())
    account = make_account(conn, "5001")
    invoice = qiwi_invoices.issue(conn, account, "9161234567", "150", config).invoice
    qiwi.bills[invoice].status = 60
    assert poll_qiwi_invoices.run() == {
        "asked": 1, "paid": 1, "cancelled": 0, "open": 0, "unknown_status": 0, "missing": 0,
        "mismatch": 0, "errors": 0, "failure": None, "busy": False}
    assert poll_qiwi_invoices.run()["asked"] == 0
    assert balance(conn, account) == Decimal("150.00")
    money_whole(conn)


def test_the_command_reports_progress_and_fails_when_qiwi_is_away(db, conn, qiwi,
                                                                  settings_file):
    env = ebs_env(db, settings_file)
    config = backend_config("payments.qiwiru", settings_mod.load({"EBS_SETTINGS":
                                                                   str(settings_file)}))
    account = make_account(conn, "5001")
    numbers = [qiwi_invoices.issue(conn, account, "9161234567", "150", config).invoice
               for _ in range(3)]
    qiwi.bills[numbers[0]].status = 60
    qiwi.bills[numbers[1]].status = 161

    ok = CliRunner().invoke(cli, ["payments", "poll-qiwi", "--batch", "2"], env=env)
    assert ok.exit_code == 0, ok.output
    assert ok.output.splitlines() == [
        "request 1/2: 2 asked so far, 1 paid, 1 cancelled, 0 open",
        "request 2/2: 3 asked so far, 1 paid, 1 cancelled, 1 open",
        f"{numbers[0]}: paid, credited",
        f"{numbers[1]}: closed as cancelled",
        "3 open invoice(s) asked: 1 paid, 1 cancelled, 1 still open, 0 not listed by QIWI, "
        "0 of unknown status, 0 paid with a wrong sum, 0 errors"]
    assert balance(conn, account) == Decimal("150.00")

    qiwi.stop()
    away = CliRunner().invoke(cli, ["payments", "poll-qiwi"], env=env)
    assert away.exit_code == 1
    assert "QIWI not asked: " in away.output and "unreachable" in away.output
    assert states(conn)[numbers[2]] == "pending"
    qiwi.start()

    broken = settings_file.parent / "broken.py"
    broken.write_text(settings_file.read_text() + "GETPAID_BACKENDS_SETTINGS"
                      "['payments.qiwiru']['GATEWAY_URL'] = 'file:///etc/passwd'\n")
    bad = CliRunner().invoke(cli, ["payments", "poll-qiwi"], env=ebs_env(db, broken))
    assert bad.exit_code == 1 and "GATEWAY_URL must be an http(s) URL" in bad.output

    helped = CliRunner().invoke(cli, ["payments", "poll-qiwi", "--help"], env=env)
    assert helped.exit_code == 0 and "every five minutes" in helped.output
    assert CliRunner().invoke(cli, ["payments", "poll-qiwi", "--batch", "1000"],
                              env=env).exit_code == 2
    money_whole(conn)
