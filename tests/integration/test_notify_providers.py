"""Each SMS gateway through the sender against a local fake speaking its documented API:
the exact request bytes, its id, cost and parts kept, delivery polled where offered;
refusals fail at once with the answer kept, a gateway down or answering garbage is
retried with backoff and failed after the last attempt; numbers and texts no gateway
should see never leave."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from click.testing import CliRunner

from billing.notifications import outbox
from cli.main import cli
from tests.conftest import ebs_env
from tests.integration.notify_helpers import (
    NOW,
    SMSPILOT,
    SMSRU,
    WEBSMS,
    attempts,
    queue,
    row,
    settings_for,
    started_fakes,
)
from tests.sms_guide import GUIDE_SMS_TEXT
from worker.notify import sender

TEXT_UTF8 = "%D0%91%D0%B0%D0%BB%D0%B0%D0%BD%D1%81+10.00+%D1%80%D1%83%D0%B1."
TEXT_CP1251 = "%C1%E0%EB%E0%ED%F1+10.00+%F0%F3%E1."


@pytest.fixture
def fakes():
    with started_fakes() as started:
        yield started


def test_smsru_gets_its_form_and_the_id_and_delivery_are_kept(conn, fakes, tmp_path):
    settings = settings_for(tmp_path, fakes)
    message = queue(conn, "a1", SMSRU)
    counts = sender.send_due(conn, NOW, settings)
    assert (counts.claimed, counts.sent) == (1, 1)
    [request] = fakes.smsru.received
    assert (request.method, request.path) == ("POST", "/sms/send")
    assert request.content_type == "application/x-www-form-urlencoded"
    assert request.body == (f"api_id={fakes.smsru.api_id}&to=79161234567&msg={TEXT_UTF8}"
                            "&json=1&from=DemoISP&test=1&partner_id=7").encode()
    got = row(conn, message)
    assert (got["state"], got["provider_id"], got["parts"], got["attempts"]) == (
        "sent", "000000-10000001", 1, 1)
    assert got["cost"] is None  # sms.ru's send answer names no price: its status does
    assert '"sms_id": "000000-10000001"' in attempts(conn, message)[0][1]
    # delivery: /sms/status says 103
    assert sender.poll_statuses(conn, NOW + timedelta(minutes=6), settings)["delivered"] == 1
    assert fakes.smsru.received[-1].body == (
        f"api_id={fakes.smsru.api_id}&sms_id=000000-10000001&json=1").encode()
    got = row(conn, message)
    assert (got["state"], got["provider_status"]) == ("delivered", "103 Сообщение доставлено")
    assert got["cost"] == Decimal("0.5000")  # priced by the status answer
    # delivered: never asked again
    assert sender.poll_statuses(conn, NOW + timedelta(minutes=20), settings)["asked"] == 0


def test_smsru_undelivered_for_good_is_asked_no_more(conn, fakes, tmp_path):
    settings = settings_for(tmp_path, fakes)
    message = queue(conn, "a1", SMSRU)
    sender.send_due(conn, NOW, settings)
    fakes.smsru.status_code = 106
    assert sender.poll_statuses(conn, NOW + timedelta(minutes=6), settings)["undelivered"] == 1
    got = row(conn, message)
    assert got["state"] == "sent"
    assert got["provider_status"].startswith("undelivered: 106 ")
    assert sender.poll_statuses(conn, NOW + timedelta(minutes=20), settings)["asked"] == 0


def test_smsru_translit_sends_latin_letters(conn, fakes, tmp_path):
    settings = settings_for(tmp_path, fakes, "SENDSMS_BACKENDS_SETTINGS"
                            "['sendsms.backends.smsru']['TRANSLIT'] = '1'\n")
    queue(conn, "a1", SMSRU)
    sender.send_due(conn, NOW, settings)
    assert fakes.smsru.received[0].form()["msg"] == "Balans 10.00 rub."


def test_websms_gets_its_cp1251_form_and_the_id_is_kept(conn, fakes, tmp_path):
    settings = settings_for(tmp_path, fakes)
    message = queue(conn, "a1", WEBSMS)
    assert sender.send_due(conn, NOW, settings).sent == 1
    [request] = fakes.websms.received
    assert (request.method, request.path) == ("POST", "/http_in5.asp")
    assert request.body == ("http_username=isp&http_password=secret&phone_list=79161234567"
                            f"&message={TEXT_CP1251}&format=xml&fromPhone=DemoISP").encode()
    got = row(conn, message)
    assert (got["state"], got["provider_id"], got["parts"]) == ("sent", "5001", 1)
    # websms.ru offers no status query here: nothing is polled
    assert sender.poll_statuses(conn, NOW + timedelta(minutes=6), settings)["asked"] == 0


def test_smspilot_gets_its_json_and_the_id_cost_and_delivery_are_kept(conn, fakes,
                                                                      tmp_path):
    settings = settings_for(tmp_path, fakes)
    message = queue(conn, "a1", SMSPILOT)
    assert sender.send_due(conn, NOW, settings).sent == 1
    [request] = fakes.smspilot.received
    assert (request.method, request.path) == ("POST", "/api2.php")
    assert request.content_type == "application/json; charset=utf-8"
    assert request.body == (
        '{"apikey": "' + fakes.smspilot.apikey + '", "send": [{"id": ' + str(message)
        + ', "to": "79161234567", "text": "Баланс 10.00 руб.", "from": "DemoISP"}]}'
    ).encode("utf-8")
    got = row(conn, message)
    assert (got["state"], got["provider_id"], got["cost"], got["parts"]) == (
        "sent", "10001", Decimal("2.9600"), 1)
    assert sender.poll_statuses(conn, NOW + timedelta(minutes=6), settings)["delivered"] == 1
    assert json.loads(fakes.smspilot.received[-1].body) == {
        "apikey": fakes.smspilot.apikey, "check": [{"server_id": "10001"}]}
    assert row(conn, message)["state"] == "delivered"


REFUSALS = [
    (SMSRU, "smsru", "refuse", "207"),
    (SMSRU, "smsru", "auth", "200 Неправильный api_id"),
    (WEBSMS, "websms", "refuse", "error_num 3"),
    (WEBSMS, "websms", "auth", "error_num 2"),
    (SMSPILOT, "smspilot", "refuse", "error 211"),
    (SMSPILOT, "smspilot", "auth", "Invalid API key"),
]


@pytest.mark.parametrize(("backend", "fake", "mode", "said"), REFUSALS)
def test_a_refusal_fails_at_once_with_the_answer_kept(conn, fakes, tmp_path, backend, fake,
                                                      mode, said):
    settings = settings_for(tmp_path, fakes)
    getattr(fakes, fake).mode = mode
    message = queue(conn, "a1", backend)
    assert sender.send_due(conn, NOW, settings).failed == 1
    got = row(conn, message)
    assert got["state"] == "failed" and said in got["error"]
    [(outcome, answer, error)] = attempts(conn, message)
    assert outcome == "failed" and answer and said in error
    # a failed message is not sent again by the next runs
    sender.send_due(conn, NOW + timedelta(hours=1), settings)
    assert len(getattr(fakes, fake).received) == 1


@pytest.mark.parametrize(("backend", "fake"), [(SMSRU, "smsru"), (WEBSMS, "websms"),
                                               (SMSPILOT, "smspilot")])
@pytest.mark.parametrize("mode", ["5xx", "garbage"])
def test_down_or_garbage_is_retried_with_backoff_then_failed(conn, fakes, tmp_path, backend,
                                                             fake, mode):
    settings = settings_for(tmp_path, fakes)
    getattr(fakes, fake).mode = mode
    message = queue(conn, "a1", backend)
    at = NOW
    for attempt in range(1, outbox.MAX_ATTEMPTS):
        counts = sender.send_due(conn, at, settings)
        assert counts.retried == 1
        got = row(conn, message)
        assert (got["state"], got["attempts"]) == ("queued", attempt)
        assert got["due_at"] == at + outbox.BACKOFF[attempt - 1]
        assert sender.send_due(conn, got["due_at"] - timedelta(seconds=1), settings).claimed == 0
        at = got["due_at"]
    assert sender.send_due(conn, at, settings).failed == 1
    got = row(conn, message)
    assert got["state"] == "failed" and got["error"].startswith("gave up after 5 attempts")
    kept = attempts(conn, message)
    assert [a[0] for a in kept] == ["retry"] * 4 + ["failed"]
    expected = "503 Service Unavailable" if mode == "5xx" else "Welcome to nginx!"
    assert all(expected in answer for _, answer, _ in kept)
    assert len(getattr(fakes, fake).received) == outbox.MAX_ATTEMPTS


def test_smsru_try_later_and_a_slow_answer_are_retried(conn, fakes, tmp_path):
    settings = settings_for(tmp_path, fakes)
    fakes.smsru.mode = "later"
    first = queue(conn, "a1", SMSRU)
    assert sender.send_due(conn, NOW, settings).retried == 1
    assert "220" in row(conn, first)["error"]
    fakes.smsru.mode, fakes.smsru.delay = "slow", 3.0  # SENDSMS_TIMEOUT_SECONDS is 2
    second = queue(conn, "a2", SMSRU)
    assert sender.send_due(conn, NOW, settings).retried == 1
    got = row(conn, second)
    assert got["state"] == "queued" and "timed out" in got["error"]


@pytest.mark.parametrize(("recipient", "reason"), [
    ("12345", "phone invalid"), ("+7 495 123-45-67", "phone not_mobile"),
    ("call me", "phone unreadable")])
def test_a_number_no_sms_can_reach_fails_without_a_call(conn, fakes, tmp_path, recipient,
                                                        reason):
    settings = settings_for(tmp_path, fakes)
    message = queue(conn, "a1", SMSRU, recipient=recipient)
    assert sender.send_due(conn, NOW, settings).failed == 1
    assert row(conn, message)["error"].startswith(reason)
    assert fakes.smsru.received == []


def test_a_too_long_text_is_refused_or_cut_per_setting(conn, fakes, tmp_path):
    long_text = "Уважаемый абонент, " * 20  # 380 UCS-2 characters: 6 parts
    refusing = settings_for(tmp_path, fakes)
    message = queue(conn, "a1", SMSRU, body=long_text)
    assert sender.send_due(conn, NOW, refusing).failed == 1
    assert "6 SMS parts, more than SENDSMS_MAX_PARTS (4)" in row(conn, message)["error"]
    assert fakes.smsru.received == []
    cutting = settings_for(tmp_path, fakes, "SENDSMS_TOO_LONG = 'cut'\n")
    message = queue(conn, "a2", SMSRU, body=long_text)
    assert sender.send_due(conn, NOW, cutting).sent == 1
    sent_text = fakes.smsru.received[0].form()["msg"]
    assert sent_text.endswith("…") and long_text.startswith(sent_text[:-1])
    assert len(sent_text) == 4 * 67  # four full UCS-2 parts
    assert row(conn, message)["parts"] == 4


def test_quiet_hours_hold_everything_until_they_end(conn, fakes, tmp_path):
    settings = settings_for(tmp_path, fakes, "SENDSMS_QUIET_HOURS = '22:00-09:00'\n")
    night = NOW.replace(hour=20)  # 23:00 in Moscow
    message = queue(conn, "a1", SMSRU, due=night - timedelta(minutes=5))
    for minutes in (0, 60, 599):  # through 08:59 Moscow
        counts = sender.send_due(conn, night + timedelta(minutes=minutes), settings)
        assert counts.quiet and counts.claimed == 0
    assert fakes.smsru.received == [] and row(conn, message)["state"] == "queued"
    morning = night + timedelta(minutes=600)  # 09:00 Moscow
    assert sender.send_due(conn, morning, settings).sent == 1
    assert row(conn, message)["sent_at"] == morning


def test_a_backend_not_enabled_fails_without_a_call(conn, fakes, tmp_path):
    settings = settings_for(tmp_path, fakes, "SENDSMS_BACKENDS = SENDSMS_BACKENDS[:2]\n")
    message = queue(conn, "a1", SMSPILOT)
    email = queue(conn, "a2", "email", recipient="subscriber@example.net")
    assert sender.send_due(conn, NOW, settings).failed == 2
    assert "not in SENDSMS_BACKENDS" in row(conn, message)["error"]
    assert "SMTP_HOST is empty" in row(conn, email)["error"]
    assert fakes.smspilot.received == []


def test_a_message_a_stopped_sender_left_sending_is_never_sent_again(conn, fakes, tmp_path):
    settings = settings_for(tmp_path, fakes)
    message = queue(conn, "a1", SMSRU)
    [claimed] = outbox.claim(conn, NOW)  # a sender that stopped before the call's answer
    assert claimed.id == message
    assert sender.send_due(conn, NOW + timedelta(minutes=1), settings).claimed == 0
    later = NOW + outbox.SENDING_TIMEOUT + timedelta(seconds=1)
    counts = sender.send_due(conn, later, settings)
    assert (counts.expired, counts.claimed) == (1, 0)
    assert row(conn, message)["state"] == "unknown"
    sender.send_due(conn, later + timedelta(days=1), settings)
    assert fakes.smsru.received == []


def test_ebs_sms_send_due_from_the_command_line(db, conn, fakes, tmp_path):
    path = tmp_path / "settings_local.py"
    path.write_text(GUIDE_SMS_TEXT + f"""
SENDSMS_BACKENDS_SETTINGS['sendsms.backends.smsru'].update(
    API_ID='{fakes.smsru.api_id}', URL='{fakes.smsru.base}')
""", encoding="utf-8")
    message = queue(conn, "a1", SMSRU, due=datetime.now(UTC) - timedelta(minutes=1))
    done = CliRunner().invoke(cli, ["sms", "send-due", "--json"], env=ebs_env(db, path))
    assert done.exit_code == 0, done.output
    figures = json.loads(done.output)
    assert (figures["claimed"], figures["sent"], figures["failed"]) == (1, 1, 0)
    assert row(conn, message)["state"] == "sent" and len(fakes.smsru.received) == 1
    again = CliRunner().invoke(cli, ["sms", "send-due"], env=ebs_env(db, path))
    assert again.output.startswith("0 due: 0 sent") and len(fakes.smsru.received) == 1
