"""smspilot.ru, the guide's ``sendsms.backends.smspilotru`` (FROM_NAME, API_ID — the
64-character API key; ``URL`` for another address of the same API).

Follows "SMSPILOT.RU API v2.5 HTTP/JSON/XML" (https://smspilot.ru/apikey.php?tab=api2):
one JSON document posted in UTF-8 to ``api2.php``, ``{"apikey": …, "send": [{"id", "to",
"text", "from"}]}``, answered with the packet's ``cost`` and per message its
``server_id``, ``parts``, ``price``, ``status`` (0 new, 1 queued, 2 delivered, -1/-2 not
delivered) and ``error``; a refused request answers ``{"error": {"code", "description"}}``.
``{"apikey": …, "check": [{"server_id": …}]}`` asks for the statuses.
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
    http_failure,
    money,
    retry,
)

URL = "https://smspilot.ru/api2.php"
DELIVERED = {2}
UNDELIVERABLE = {-1, -2}


def _post(config: dict, document: dict, http: Http) -> Answer:
    body = json.dumps(document, ensure_ascii=False).encode("utf-8")
    return http.request("POST", str(config.get("URL") or URL), body=body,
                        content_type="application/json; charset=utf-8")


def _read(answer: Answer) -> dict | None:
    try:
        data = json.loads(answer.body, parse_float=Decimal)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def send(message: Outgoing, config: dict, http: Http) -> Result:
    one = {"id": message.id, "to": message.digits, "text": message.body}
    if config.get("FROM_NAME"):
        one["from"] = str(config["FROM_NAME"])
    try:
        answer = _post(config, {"apikey": str(config.get("API_ID") or ""), "send": [one]},
                       http)
    except Unreachable as exc:
        return retry("", str(exc))
    if (bad := http_failure(answer)) is not None:
        return bad
    data = _read(answer)
    if data is None:
        return retry(answer.text, "smspilot.ru answered something that is not JSON")
    if isinstance(data.get("error"), dict):
        error = data["error"]
        return failed(answer.text, f"smspilot.ru refused the request: {error.get('code')} "
                                   f"{error.get('description', '')}".strip())
    sent = data.get("send")
    if not (isinstance(sent, list) and sent and isinstance(sent[0], dict)):
        return retry(answer.text, "smspilot.ru's answer lists no message")
    first = sent[0]
    state, error = _int(first.get("status")), _int(first.get("error"))
    if error or state in UNDELIVERABLE or not first.get("server_id"):
        return failed(answer.text, f"smspilot.ru refused the message: status {state}, "
                                   f"error {error}")
    return Result("sent", answer.text, provider_id=str(first["server_id"]),
                  cost=money(first.get("price", data.get("cost"))),
                  parts=_int(first.get("parts")) or message.parts, status=f"{state} new")


def status(provider_id: str, config: dict, http: Http) -> Delivery | None:
    try:
        answer = _post(config, {"apikey": str(config.get("API_ID") or ""),
                                "check": [{"server_id": provider_id}]}, http)
    except Unreachable:
        return None
    data = _read(answer) if answer.status == 200 else None
    checks = (data or {}).get("check")
    if not (isinstance(checks, list) and checks and isinstance(checks[0], dict)):
        return None
    state = _int(checks[0].get("status"))
    if state is None:
        return None
    return Delivery(str(state), state in DELIVERED, state in DELIVERED | UNDELIVERABLE,
                    answer.text)
