"""What every gateway backend shares: the notification as received, the answer in the
provider's format, the backend's settings, and the few rules each protocol applies the
same way (amounts, accounts by contract, signatures).

A backend is a module with the same shape (see billing/gateways/__init__.py): ``NAME``
(the guide's settings key), ``PATHS`` (ExpertBilling's callback URLs), ``SOURCE_ONLY``
(True when the provider authenticates by its source address alone), and three
functions — ``handle(conn, note, config)`` parses, authenticates, finds the account,
applies once and answers; ``refused(note, reason)`` answers a request refused before
``handle`` (a wrong source, a disabled backend) in the provider's words;
``failed(note)`` answers a request that broke on our side with the provider's
"temporary error, try again".
"""

from __future__ import annotations

import hmac
import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

import psycopg

from billing.errors import Refused
from billing.money import MoneyError, to_money

# An amount as providers write it: digits, at most one point and two decimals. Decimal()
# alone would also take "1e3", " 1_000", "-0" and "NaN".
_AMOUNT = re.compile(r"\d{1,12}(?:\.\d{1,2})?")
_KOPECKS = re.compile(r"\d{1,14}")


class GatewayRefusal(Refused):
    """A notification refused by a protocol rule; ``code`` names it for the backend to
    answer in the provider's words: ``bad_format``, ``bad_signature``, ``no_account``,
    ``bad_amount``, ``amount_too_small``, ``amount_too_large``, ``forbidden``,
    ``key_reused``, ``no_payment``, ``bad_currency``."""


@dataclass(frozen=True)
class Notification:
    """A request from a provider as it arrived; ``id`` is its stored row."""

    backend: str
    method: str
    path: str
    query: str
    body: bytes
    headers: Mapping[str, str]
    source: str
    content_type: str = ""
    id: int | None = None

    def args(self, encoding: str = "utf-8") -> dict[str, list[str]]:
        """Query and form fields (a form's win over the query's), every value kept;
        percent-escapes decoded as ``encoding`` (Wallet One posts windows-1251)."""
        fields = parse_qs(self.query, keep_blank_values=True, encoding=encoding,
                          errors="replace")
        if self.method == "POST" and "application/x-www-form-urlencoded" in self.content_type:
            for name, values in parse_qs(self.body.decode("latin-1"), keep_blank_values=True,
                                         encoding=encoding, errors="replace").items():
                fields[name] = values
        return fields

    def arg(self, name: str, encoding: str = "utf-8") -> str | None:
        """One field's only value; None when it is missing. Two values for one field is
        a malformed request: which one would the provider have signed?"""
        values = self.args(encoding).get(name)
        if not values:
            return None
        if len(values) > 1:
            raise GatewayRefusal("bad_format", f"field {name} is given {len(values)} times")
        return values[0]


@dataclass(frozen=True)
class Answer:
    """What the provider gets back, and what we record of it."""

    body: str
    content_type: str = "text/plain; charset=utf-8"
    status: int = 200
    outcome: str = "ok"  # ok, duplicate, refused:<code>, error
    payment_id: int | None = None
    encoding: str = "utf-8"


@dataclass(frozen=True)
class BackendConfig:
    """A backend's entry of GETPAID_BACKENDS_SETTINGS, with the guide's keys."""

    name: str
    type: str  # "frontend" (the cabinet's Pay page) or "backend" (the provider calls)
    currency: str
    allowed: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] | None
    values: Mapping[str, Any] = field(default_factory=dict)
    maximum: Decimal | None = None
    time_zone: str = "UTC"  # the ISP's: providers write local times without a zone

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def secret(self, key: str) -> str:
        """A credential the backend cannot work without: a missing one is the operator's
        error, said as such (a signature checked against "" would be forgeable)."""
        value = self.values.get(key)
        if value in (None, ""):
            raise GatewayConfigError(f"{self.name}: {key} is not set in "
                                     "GETPAID_BACKENDS_SETTINGS")
        return str(value)


class GatewayConfigError(ValueError):
    """Settings a backend cannot run with; the message names the key."""


def networks(value: Iterable[str] | str | None):
    """``allowed_ip`` as networks: addresses or CIDR networks, a tuple or one string."""
    if value is None:
        return None
    if isinstance(value, str):
        value = [part for part in re.split(r"[,\s]+", value) if part]
    try:
        return tuple(ipaddress.ip_network(str(item).strip(), strict=False) for item in value)
    except ValueError as exc:
        raise GatewayConfigError(f"allowed_ip: {exc}") from None


def backend_config(name: str, settings: SimpleNamespace) -> BackendConfig:
    values = dict(settings.GETPAID_BACKENDS_SETTINGS.get(name, {}))
    kind = str(values.get("TYPE", "backend")).lower()
    if kind not in ("frontend", "backend"):
        raise GatewayConfigError(f"{name}: TYPE must be 'frontend' or 'backend', got {kind!r}")
    return BackendConfig(name=name, type=kind,
                         currency=str(values.get("DEFAULT_CURRENCY", settings.CURRENCY)),
                         allowed=networks(values.get("allowed_ip")), values=values,
                         maximum=settings.PAYMENT_MAX_AMOUNT, time_zone=settings.TIME_ZONE)


def source_allowed(config: BackendConfig, source: str, source_only: bool) -> bool:
    """The allow-list decides when there is one. Without one, a backend that signs its
    requests is open to any address (the signature is the check) and one that
    authenticates by address alone is closed: money must not flow on an unset key."""
    if config.allowed is None:
        return not source_only
    try:
        address = ipaddress.ip_address(source)
    except ValueError:
        return False
    return any(address in net for net in config.allowed)


def parse_amount(text: str | None) -> Decimal:
    """A sum of money as a provider writes it ("100", "100.5", "100.50"), positive."""
    if text is None or not _AMOUNT.fullmatch(text.strip()):
        raise GatewayRefusal("bad_amount", f"not a sum of money: {text!r:.40}")
    return positive_amount(text.strip())


def positive_amount(value: Decimal | int | str) -> Decimal:
    """An exact sum of money above zero (billing.money's rule), else ``bad_amount``."""
    try:
        amount = to_money(value)
    except MoneyError as exc:
        raise GatewayRefusal("bad_amount", str(exc)) from None
    if amount <= 0:
        raise GatewayRefusal("bad_amount", f"a payment must be above zero, got {amount}")
    return amount


def parse_kopecks(text: str | None) -> Decimal:
    """An amount in kopecks (an integer), as roubles."""
    if text is None or not _KOPECKS.fullmatch(text.strip()):
        raise GatewayRefusal("bad_amount", f"not a sum in kopecks: {text!r:.40}")
    return parse_amount(str(Decimal(int(text)) / 100))


def provider_time(text: str | None, layout: str, time_zone: str,
                  field_name: str) -> datetime | None:
    """A moment a provider writes in its (the ISP's) local time, without a zone, in
    ``layout`` (strptime's); missing: unknown (None); anything else is refused."""
    if not text:
        return None
    try:
        return datetime.strptime(text, layout).replace(tzinfo=ZoneInfo(time_zone))
    except ValueError:
        raise GatewayRefusal("bad_format", f"{field_name} is not a time as {layout}: "
                             f"{text!r:.40}") from None


def amount_limits(config: BackendConfig) -> tuple[Decimal | None, Decimal | None]:
    """The least and the most one payment through the backend may be (None: no limit):
    MIN_SUM, and MAX_SUM or else the maximum of any payment. The cabinet shows them."""
    low = config.get("MIN_SUM")
    high = config.get("MAX_SUM") or config.maximum
    return (to_money(str(low)) if low not in (None, "", 0) else None,
            to_money(str(high)) if high not in (None, "") else None)


def check_amount(amount: Decimal, config: BackendConfig) -> None:
    """The backend's MIN_SUM and MAX_SUM when set, and the maximum of one payment."""
    low, high = amount_limits(config)
    if low is not None and amount < low:
        raise GatewayRefusal("amount_too_small", f"{amount} is below the minimum {low}")
    if high is not None and amount > high:
        raise GatewayRefusal("amount_too_large", f"{amount} is above the maximum {high}")


@dataclass(frozen=True)
class AccountFacts:
    id: int
    contract: str
    full_name: str
    balance: Decimal
    status: str


def account_by_contract(conn: psycopg.Connection, contract: str | None) -> AccountFacts:
    """The account a provider names by its contract number (the number subscribers type
    into a terminal). An account cannot be found by anything else: a login or an id
    typed into a terminal would credit whoever happens to carry it."""
    if not contract or len(contract) > 64:
        raise GatewayRefusal("no_account", f"no account with contract {contract!r:.70}")
    row = conn.execute("SELECT id, contract, full_name, balance, status FROM accounts"
                       " WHERE contract = %s", (contract.strip(),)).fetchone()
    if row is None:
        raise GatewayRefusal("no_account", f"no account with contract {contract!r}")
    return AccountFacts(*row)


def same_secret(given: str | bytes | None, expected: str | bytes) -> bool:
    """Compare a signature or shared secret in constant time (no early exit on the
    first wrong character, which would let a caller find it one byte at a time)."""
    if given is None:
        return False
    a = given.encode() if isinstance(given, str) else given
    b = expected.encode() if isinstance(expected, str) else expected
    return hmac.compare_digest(a, b)


@dataclass(frozen=True)
class PaymentForm:
    """A signed form the subscriber's browser posts to a provider ("frontend" backends):
    the cabinet renders ``fields`` as hidden inputs in their order, a name given twice
    (Wallet One's list fields) as two inputs. ``payment_id`` is the pending payment the
    provider's notification will settle."""

    action_url: str
    fields: tuple[tuple[str, str], ...]
    payment_id: int
    method: str = "POST"
    accept_charset: str = "utf-8"
