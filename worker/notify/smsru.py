"""sms.ru, the guide's ``sendsms.backends.smsru`` (FROM_NAME, API_ID, TRANSLIT, TEST,
PARTNER_ID; ``URL`` for another address of the same API).

Follows sms.ru's published HTTP API, "Отправить СМС сообщение HTTP запросом"
(https://sms.ru/api/send) and "Проверить статус отправленных сообщений"
(https://sms.ru/api/status): ``/sms/send`` with ``api_id``, ``to``, ``msg``, ``json=1``
(and ``from``, ``test=1``, ``partner_id``), answered by ``status``/``status_code`` for the
request and per number under ``sms`` (``sms_id`` when code 100, else the code and its
``status_text``); ``/sms/status`` with ``sms_id`` answers each id's ``status_code``
(103 delivered; 104–108 and 150 will never be). Posted as a form, UTF-8.
"""

from __future__ import annotations

import json
from decimal import Decimal

from worker.notify.base import (
    Answer,
    Delivery,
    Http,
    Outgoing,
    Result,
    Unreachable,
    failed,
    flag,
    http_failure,
    money,
    retry,
)

URL = "https://sms.ru"
# 220: the service is briefly unavailable; 206 and 230: a daily limit (the day's or this
# number's) is reached — all three say "later", not "never".
TRY_LATER = {206, 220, 230}
DELIVERED = {103}
UNDELIVERABLE = {104, 105, 106, 107, 108, 150}


def _base(config: dict) -> str:
    return str(config.get("URL") or URL).rstrip("/")


def _read(answer: Answer) -> dict | None:
    try:
        data = json.loads(answer.body, parse_float=Decimal)
    except ValueError:
        return None
    return data if isinstance(data, dict) and "status_code" in data else None


def _code(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def send(message: Outgoing, config: dict, http: Http) -> Result:
    fields = {"api_id": str(config.get("API_ID") or ""), "to": message.digits,
              "msg": message.body, "json": "1"}
    if config.get("FROM_NAME"):
        fields["from"] = str(config["FROM_NAME"])
    if flag(config.get("TEST", "0")):
        fields["test"] = "1"
    if config.get("PARTNER_ID"):
        fields["partner_id"] = str(config["PARTNER_ID"])
    try:
        answer = http.request("POST", f"{_base(config)}/sms/send", fields)
    except Unreachable as exc:
        return retry("", str(exc))
    if (bad := http_failure(answer)) is not None:
        return bad
    data = _read(answer)
    if data is None:
        return retry(answer.text, "sms.ru answered something that is not its JSON")
    code = _code(data.get("status_code"))
    if data.get("status") != "OK":
        text = f"sms.ru refused the request: {code} {data.get('status_text', '')}".strip()
        return retry(answer.text, text) if code in TRY_LATER else failed(answer.text, text)
    one = (data.get("sms") or {}).get(message.digits)
    if not isinstance(one, dict):
        return retry(answer.text, "sms.ru's answer names no result for the number")
    code = _code(one.get("status_code"))
    if one.get("status") == "OK" and code == 100 and one.get("sms_id"):
        parts = _code(one.get("sms"))
        return Result("sent", answer.text, provider_id=str(one["sms_id"]),
                      cost=money(one.get("cost")), parts=parts or message.parts,
                      status=f"{code} accepted")
    text = f"sms.ru refused the message: {code} {one.get('status_text', '')}".strip()
    return retry(answer.text, text) if code in TRY_LATER else failed(answer.text, text)


def status(provider_id: str, config: dict, http: Http) -> Delivery | None:
    """The message's delivery as sms.ru knows it; None when it gave no readable answer
    (asked again at the next poll)."""
    fields = {"api_id": str(config.get("API_ID") or ""), "sms_id": provider_id, "json": "1"}
    try:
        answer = http.request("POST", f"{_base(config)}/sms/status", fields)
    except Unreachable:
        return None
    data = _read(answer) if answer.status == 200 else None
    one = ((data or {}).get("sms") or {}).get(provider_id)
    if not isinstance(one, dict) or one.get("status") != "OK":
        return None
    code = _code(one.get("status_code"))
    words = f"{code} {one.get('status_text', '')}".strip()
    return Delivery(words, code in DELIVERED, code in DELIVERED | UNDELIVERABLE, answer.text,
                    cost=money(one.get("cost")))
