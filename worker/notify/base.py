"""What every provider module shares: the message as a provider sees it, the outcome the
sender records, and one HTTP call whose failures on the way are told apart from answers.

The outcome's kind decides the message's fate (billing/notifications/outbox.py): ``sent``
(the provider took it: its id, cost and parts kept), ``retry`` (nothing shows the provider
took it — no connection, a timeout, a 5xx, its "try later", an answer we cannot read — so
it is tried again after a backoff and failed after the last attempt) and ``failed`` (the
provider refused it: a bad number, no money, wrong credentials; the answer is kept).
"""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation


@dataclass(frozen=True)
class Outgoing:
    id: int
    recipient: str  # E.164 for SMS ("+79161234567"), an address for e-mail
    body: str
    subject: str = ""
    parts: int = 1  # as billing.notifications.sms_text counts them

    @property
    def digits(self) -> str:
        """The number without its "+", as the Russian gateways want it."""
        return self.recipient.lstrip("+")


@dataclass(frozen=True)
class Result:
    kind: str  # "sent", "retry" or "failed"
    answer: str  # the provider's answer as it came (or what went wrong on the way)
    error: str = ""
    provider_id: str | None = None
    cost: Decimal | None = None
    parts: int | None = None
    status: str = ""


@dataclass(frozen=True)
class Delivery:
    """A polled status: the provider's words, whether it reached the phone, and whether
    it will change no more (undelivered for good)."""

    status: str
    delivered: bool
    final: bool
    answer: str
    cost: Decimal | None = None  # sms.ru prices a message in its status answer only


def retry(answer: str, error: str) -> Result:
    return Result("retry", answer, error)


def failed(answer: str, error: str) -> Result:
    return Result("failed", answer, error)


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


class Unreachable(Exception):
    """No answer in the protocol: refused, timed out, reset. Nothing shows the provider
    took the message."""


class Http:
    """Form-encoded requests over urllib with a timeout; an HTTP error status is an
    :class:`Answer` (the module decides), only a failed connection raises."""

    def __init__(self, timeout: float = 15.0) -> None:
        self.timeout = timeout

    def request(self, method: str, url: str, fields: dict[str, str] | None = None, *,
                body: bytes | None = None, content_type: str = "",
                encoding: str = "utf-8") -> Answer:
        headers = {"User-Agent": "ebs-notify"}
        if fields is not None:
            # a character the encoding lacks (an emoji in cp1251) becomes "?", not a crash
            encoded = urllib.parse.urlencode(fields, encoding=encoding, errors="replace")
            if method == "GET":
                url = f"{url}?{encoded}"
            else:
                body = encoded.encode("ascii")
                content_type = content_type or "application/x-www-form-urlencoded"
        if content_type:
            headers["Content-Type"] = content_type
        request = urllib.request.Request(url, data=body, method=method,  # noqa: S310
                                         headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                return Answer(response.status, response.read(1024 * 1024))
        except urllib.error.HTTPError as exc:
            return Answer(exc.code, exc.read(1024 * 1024) if exc.fp else b"")
        except (urllib.error.URLError, OSError) as exc:
            raise Unreachable(f"{url.split('?')[0]}: {getattr(exc, 'reason', exc)}") from None


def http_failure(answer: Answer) -> Result | None:
    """A 5xx (the provider's trouble: try again) or another non-200 status (retried too:
    no provider documents refusing a message by its status line)."""
    if answer.status != 200:
        return retry(answer.text, f"HTTP {answer.status}")
    return None


def money(value) -> Decimal | None:
    """A provider's price as an exact Decimal (JSON numbers are read as text first)."""
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def flag(value) -> bool:
    """The guide's "1"/"0" strings (TRANSLIT, TEST) and Python's booleans alike."""
    return str(value).strip().lower() in ("1", "true", "yes", "on")
