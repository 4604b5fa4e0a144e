"""Builders for the notification tests: settings as an operator writes them (the guide's
SENDSMS_* lines unchanged, plus ours), subscribers with phone numbers and balances."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from itertools import count
from pathlib import Path

from billing import ledger
from billing import settings as settings_mod
from tests.integration.charging_helpers import account

# The guide's lines (docs: ExpertBilling 1.5, "SMS рассылка"), as printed.
GUIDE_SMS = """
SENDSMS_BACKENDS = ( ('sendsms.backends.websms.SmsBackend', 'websms.ru'), ('sendsms.backends.smsru.SmsBackend', 'sms.ru'), )
SENDSMS_BACKENDS_SETTINGS = { 'sendsms.backends.websms': { 'FROM_NAME': '', 'USERNAME': '', 'PASSWORD': '', }, 'sendsms.backends.smsru': { 'FROM_NAME': '', 'API_ID': '', 'TRANSLIT': '1', 'TEST': '0', 'PARTNER_ID': '', }, 'sendsms.backends.smspilotru': { 'FROM_NAME': '', 'API_ID': '', } }
SENDSMS_IF_BALLANCE_AMOUNT = 0
SENDSMS_DEFAULT_BACKEND = 'sendsms.backends.websms.SmsBackend'
"""  # noqa: E501
BACKEND = "sendsms.backends.websms.SmsBackend"
_seq = count(1)


def sms_settings(tmp_path: Path, **ours):
    """The settings an operator's file gives: the guide's SMS lines, then ``ours``."""
    path = tmp_path / f"settings_{next(_seq)}.py"
    lines = [GUIDE_SMS, 'TIME_ZONE = "Europe/Moscow"', 'LANGUAGE_CODE = "ru"']
    lines += [f"{name} = {value!r}" for name, value in ours.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return settings_mod.load({"EBS_SETTINGS": str(path)})


def subscriber(conn, balance: str = "0", *, phone: str | None = None, credit: str = "0",
               email: str = "") -> int:
    """An account with a mobile number of its own and ``balance`` (a correction)."""
    acc = account(conn, credit=credit)
    number = phone if phone is not None else f"+7 916 {acc % 1000:03d}-{acc % 100:02d}-77"
    conn.execute("UPDATE accounts SET phone = %s, email = %s, full_name = %s WHERE id = %s",
                 (number, email, f"Абонент {acc}", acc))
    if Decimal(balance) != 0:
        move(conn, acc, balance)
    return acc


def move(conn, acc: int, amount: str, kind: str = "correction",
         at: datetime = datetime(2026, 1, 1, tzinfo=UTC)) -> int:
    return ledger.post(conn, ledger.Entry(acc, kind, Decimal(amount),
                                          f"{kind}:{acc}:{next(_seq)}", at)).id


def messages(conn, code: str | None = None) -> list[tuple]:
    """(account, key, recipient, body, due_at) of the queued messages, by key."""
    return conn.execute(
        "SELECT account_id, idempotency_key, recipient, body, due_at FROM messages"
        " WHERE %(code)s::text IS NULL OR template_code = %(code)s ORDER BY idempotency_key",
        {"code": code}).fetchall()
