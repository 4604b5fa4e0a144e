"""The providers' fakes started for a test, settings pointing the guide's gateways at
them, and messages queued through the outbox as the mailing and alert code queues them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

from billing.notifications import outbox
from tests.notify_fakes import FakeSmsPilot, FakeSmsRu, FakeWebSms
from tests.sms_guide import load_with

NOW = datetime(2026, 12, 10, 9, 0, tzinfo=UTC)  # 12:00 in Moscow
SMSRU = "sendsms.backends.smsru.SmsBackend"
WEBSMS = "sendsms.backends.websms.SmsBackend"
SMSPILOT = "sendsms.backends.smspilotru.SmsBackend"


@contextmanager
def started_fakes() -> Iterator[SimpleNamespace]:
    """The three gateways' fakes, stopped at the end (a test module's ``fakes`` fixture)."""
    started = SimpleNamespace(smsru=FakeSmsRu().start(), websms=FakeWebSms().start(),
                              smspilot=FakeSmsPilot().start())
    try:
        yield started
    finally:
        for fake in vars(started).values():
            fake.stop()


def settings_for(tmp_path: Path, fakes, extra: str = "") -> SimpleNamespace:
    """The guide's lines, then the operator's own: all three gateways enabled, their
    credentials, and URL pointing each at its fake."""
    return load_with(tmp_path, f"""
SENDSMS_BACKENDS = SENDSMS_BACKENDS + (
    ('sendsms.backends.smspilotru.SmsBackend', 'smspilot.ru'),)
SENDSMS_BACKENDS_SETTINGS['sendsms.backends.smsru'].update(
    API_ID='{fakes.smsru.api_id}', FROM_NAME='DemoISP', TRANSLIT='0', TEST='1',
    PARTNER_ID='7', URL='{fakes.smsru.base}')
SENDSMS_BACKENDS_SETTINGS['sendsms.backends.websms'].update(
    USERNAME='{fakes.websms.username}', PASSWORD='{fakes.websms.password}',
    FROM_NAME='DemoISP', URL='{fakes.websms.base}/http_in5.asp')
SENDSMS_BACKENDS_SETTINGS['sendsms.backends.smspilotru'].update(
    API_ID='{fakes.smspilot.apikey}', FROM_NAME='DemoISP', URL='{fakes.smspilot.base}/api2.php')
SENDSMS_TIMEOUT_SECONDS = 2
""" + extra)


def queue(conn, key: str, backend: str, recipient: str = "8 (916) 123-45-67",
          body: str = "Баланс 10.00 руб.", due: datetime = NOW, subject: str = "") -> int:
    channel = "email" if backend == "email" else "sms"
    message_id = outbox.enqueue(conn, outbox.Message(
        idempotency_key=key, channel=channel, backend=backend, recipient=recipient,
        body=body, due_at=due, subject=subject))
    assert message_id is not None
    return message_id


def row(conn, message_id: int) -> dict:
    cur = conn.execute("SELECT state, attempts, provider_id, cost, parts, provider_status,"
                       " error, due_at, sent_at FROM messages WHERE id = %s", (message_id,))
    names = [c.name for c in cur.description]
    return dict(zip(names, cur.fetchone(), strict=True))


def attempts(conn, message_id: int) -> list[tuple[str, str, str]]:
    return conn.execute("SELECT outcome, answer, error FROM message_attempts"
                        " WHERE message_id = %s ORDER BY id", (message_id,)).fetchall()
