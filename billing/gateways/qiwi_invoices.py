"""QIWI invoices: we issue an invoice to a subscriber's QIWI Wallet (their phone) and ask
QIWI every five minutes what became of the open ones, as ExpertBilling's cron
``process_qiwi_payments`` did.

Written from QIWI's "Протоколы для интернет-магазинов. XML" (Visa QIWI Wallet,
OnlineStoresProtocols_XML.pdf, ishop.qiwi.ru/docs): requests are XML POSTed to
``https://ishop.qiwi.ru/xml`` (the ``GATEWAY_URL`` setting), each with the protocol
version 4.00, a request type, the shop's ``terminal-id`` and its ``password`` extra.

* §1.2, request type 30, creates an invoice: extras ``txn-id`` (our invoice number),
  ``to-account`` (the wallet: a ten-digit phone), ``amount``, ``comment``,
  ``create-agt`` (create the wallet if the phone has none), ``ltime`` (hours the
  invoice can be paid), ``ALARM_SMS`` and ``ACCEPT_CALL`` (tell the subscriber by SMS or
  by a call); the answer is ``<result-code fatal="…">N</result-code>``.
* §1.5, request type 33, asks the statuses of up to 999 invoices in one
  ``<bills-list>`` of ``<bill txn-id="…"/>``; the answer lists ``<bill id="…"
  status="…" sum="…"/>``.
* §1.6: ``txn-id`` is letters and digits without spaces, up to 30 bytes; amounts and
  ``ltime`` are numbers with a point.
* Appendix A: result codes (0 success, 13 busy, 150 bad login or password, 210 no such
  invoice, 215 an invoice with this txn-id exists, 241/242 sum too small/large, 300
  unknown error, 339 IP check failed, 370 too many requests at once …).
* Appendix B: invoice statuses — 50 issued, 52 being paid, 60 paid, 150 cancelled
  (terminal error), 151 cancelled (authorisation: no money, refused by the subscriber),
  160 cancelled, 161 cancelled (expired).

An invoice is a pending ``gateway_payments`` row of the QIWI backend whose provider id is
our invoice number ``inv<n>`` (the terminal protocol's ids are plain numbers, so the two
never meet). It is committed before QIWI hears of it, so an invoice QIWI knows always has
its row; status 60 credits it through :func:`billing.gateway_payments.change_state`
(once: the move happens under the row's lock and a second poll finds it paid), a
cancelled or expired one is closed as cancelled with no money moved.
"""

from __future__ import annotations

import logging
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import urlsplit
from xml.sax.saxutils import escape, quoteattr

import psycopg
from psycopg import pq

from billing import gateway_payments
from billing.account_search import phone_digits
from billing.errors import Refused
from billing.gateway_payments import GatewayPayment
from billing.gateways.base import (
    BackendConfig,
    GatewayConfigError,
    GatewayRefusal,
    check_amount,
    positive_amount,
)
from billing.gateways.safe_xml import XmlRefused, parse
from billing.money import MoneyError, to_money

log = logging.getLogger(__name__)

NAME = "payments.qiwiru"
DEFAULT_URL = "https://ishop.qiwi.ru/xml"
PROTOCOL_VERSION = "4.00"
MAX_BILLS = 999  # §1.5: at most 999 invoices in one status request
INVOICE_PREFIX = "inv"
DEFAULT_LIFETIME_HOURS = Decimal(48)
DEFAULT_TIMEOUT_SECONDS = 30
# An invoice QIWI does not list this long after it could last be paid is one it never
# created (its create request was lost on the way): nobody can pay it any more.
MISSING_GRACE = timedelta(days=1)
COMMENT = "Оплата за интернет по договору {contract}"

# Appendix A
RESULT_CODES = {
    0: "Успех", 13: "Сервер занят, повторите запрос позже",
    150: "Ошибка авторизации (неверный логин/пароль)", 210: "Счет не найден",
    215: "Счет с таким txn-id уже существует", 241: "Сумма слишком мала",
    242: "Превышена максимальная сумма платежа", 278: "Превышение максимального "
    "интервала получения списка счетов", 298: "Агента не существует в системе",
    300: "Неизвестная ошибка", 330: "Ошибка шифрования", 339: "Не пройден контроль IP-адреса",
    370: "Превышено максимальное кол-во одновременно выполняемых запросов",
}
# Appendix B
PAID = 60
OPEN_STATUSES = {50: "Выставлен", 52: "Проводится"}
CANCELLED_STATUSES = {
    150: "Отменен (ошибка на терминале)",
    151: "Отменен (ошибка авторизации: недостаточно средств на балансе, отклонен абонентом)",
    160: "Отменен",
    161: "Отменен (истекло время)",
}
NOT_FOUND = 210


class QiwiUnavailable(RuntimeError):
    """QIWI did not answer, or not in its protocol: nothing is known, nothing changes."""


@dataclass(frozen=True)
class QiwiSettings:
    """The guide's keys of ``payments.qiwiru`` and the few the guide leaves implicit."""

    url: str
    terminal_id: str
    password: str
    lifetime_hours: Decimal
    alarm_sms: int
    accept_call: int
    create_agent: int
    timeout: float

    @property
    def lifetime(self) -> timedelta:
        """LIFETIME as a span, exact to the second (hours may have a fraction)."""
        return timedelta(seconds=int(self.lifetime_hours * 3600))

    @classmethod
    def of(cls, config: BackendConfig) -> QiwiSettings:
        terminal = config.secret("TERMINAL_ID")
        if not terminal.isdigit():
            raise GatewayConfigError(f"{config.name}: TERMINAL_ID must be the shop's "
                                     f"number, got {terminal!r}")
        try:
            lifetime = Decimal(str(config.get("LIFETIME", DEFAULT_LIFETIME_HOURS)))
        except ArithmeticError:
            lifetime = Decimal(0)
        if not lifetime.is_finite() or lifetime <= 0:
            raise GatewayConfigError(f"{config.name}: LIFETIME must be hours above zero, "
                                     f"got {config.get('LIFETIME')!r}")
        url = str(config.get("GATEWAY_URL") or DEFAULT_URL)
        if urlsplit(url).scheme not in ("http", "https"):  # urllib would read file:// too
            raise GatewayConfigError(f"{config.name}: GATEWAY_URL must be an http(s) URL, "
                                     f"got {url!r}")
        try:
            timeout = float(config.get("TIMEOUT", DEFAULT_TIMEOUT_SECONDS))
        except (TypeError, ValueError):
            timeout = 0.0
        if not 0 < timeout <= 600:
            raise GatewayConfigError(f"{config.name}: TIMEOUT must be seconds, 1 to 600, "
                                     f"got {config.get('TIMEOUT')!r}")
        return cls(url=url, terminal_id=terminal,
                   password=config.secret("TERMINAL_PASSWORD"), lifetime_hours=lifetime,
                   alarm_sms=_flag(config.get("ALARM_SMS", 0)),
                   accept_call=_flag(config.get("ACCEPT_CALL", 0)),
                   create_agent=_flag(config.get("CREATE_AGT", 1)), timeout=timeout)


def _flag(value) -> int:
    return 1 if str(value).strip().lower() in ("1", "true", "yes") else 0


# -- the protocol's two requests and their answers ---------------------------------------

def _request(qiwi: QiwiSettings, request_type: int, lines: Iterable[str]) -> bytes:
    """A request laid out as the document's examples are: one element a line."""
    text = "\n".join([
        '<?xml version="1.0" encoding="utf-8"?>', "<request>",
        f"<protocol-version>{PROTOCOL_VERSION}</protocol-version>",
        f"<request-type>{request_type}</request-type>",
        f"<terminal-id>{escape(qiwi.terminal_id)}</terminal-id>",
        f'<extra name="password">{escape(qiwi.password)}</extra>',
        *lines, "</request>"]) + "\n"
    return text.encode("utf-8")


def create_request(qiwi: QiwiSettings, invoice: str, to_account: str, amount: Decimal,
                   comment: str) -> bytes:
    """§1.2.1, in the order of its example."""
    extras = [("txn-id", invoice), ("to-account", to_account), ("amount", f"{amount:.2f}"),
              ("comment", comment), ("create-agt", str(qiwi.create_agent)),
              ("ltime", _number(qiwi.lifetime_hours)), ("ALARM_SMS", str(qiwi.alarm_sms)),
              ("ACCEPT_CALL", str(qiwi.accept_call))]
    return _request(qiwi, 30, (f'<extra name="{name}">{escape(value)}</extra>'
                               for name, value in extras))


def status_request(qiwi: QiwiSettings, invoices: Iterable[str]) -> bytes:
    """§1.5.1: the statuses of up to 999 invoices."""
    bills = [f"<bill txn-id={quoteattr(invoice)} />" for invoice in invoices]
    if not 0 < len(bills) <= MAX_BILLS:
        raise ValueError(f"a status request asks about 1 to {MAX_BILLS} invoices")
    return _request(qiwi, 33, ["<bills-list>", *bills, "</bills-list>"])


def _number(value: Decimal) -> str:
    """48 → "48", 0.25 → "0.25": a number with a point, no exponent, no trailing zeros."""
    return format(value.normalize(), "f")


def _result_code(root) -> int:
    node = root.find("result-code") if root.tag == "response" else None
    if node is None or node.text is None or not node.text.strip().lstrip("-").isdigit():
        raise QiwiUnavailable("the answer is not a <response> with a <result-code>")
    return int(node.text.strip())


@dataclass(frozen=True)
class BillStatus:
    invoice: str
    status: int | None  # None: not a number
    sum: Decimal | None  # None: missing or not an amount


def _bills(root) -> dict[str, BillStatus | None]:
    """The answer's bills by invoice number; None for one listed twice differently (which
    of the two would be true?)."""
    found: dict[str, BillStatus | None] = {}
    for node in root.iterfind("bills-list/bill"):
        invoice = (node.get("id") or "").strip()
        status_text = (node.get("status") or "").strip()
        try:
            amount = to_money(node.get("sum") or "")
        except MoneyError:
            amount = None
        bill = BillStatus(invoice, int(status_text) if status_text.isdigit() else None, amount)
        if invoice in found and found[invoice] != bill:
            found[invoice] = None
        else:
            found[invoice] = bill
    return found


def _post(qiwi: QiwiSettings, body: bytes):
    """One request to QIWI and its parsed answer; :class:`QiwiUnavailable` when there is
    no answer in the protocol (down, refused, timed out, not XML, an HTTP error)."""
    request = urllib.request.Request(  # noqa: S310 - the operator's https URL
        qiwi.url, data=body, method="POST",
        headers={"Content-Type": "text/xml; charset=utf-8"})
    try:
        with urllib.request.urlopen(request, timeout=qiwi.timeout) as response:  # noqa: S310
            answer = response.read(8 * 1024 * 1024)
    except urllib.error.HTTPError as exc:
        raise QiwiUnavailable(f"{qiwi.url} answered HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise QiwiUnavailable(f"{qiwi.url} unreachable: {reason}") from None
    try:
        return parse(answer)
    except XmlRefused as exc:
        raise QiwiUnavailable(f"{qiwi.url} answered no XML we read: {exc}") from None


# -- issuing ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Issued:
    """An invoice as issuing left it: ``issued`` (QIWI took it), ``refused`` (QIWI said
    no; the invoice is closed as cancelled) or ``unconfirmed`` (no answer: the poll finds
    out whether QIWI has it)."""

    payment: GatewayPayment
    outcome: str
    code: int | None
    message: str

    @property
    def invoice(self) -> str:
        return self.payment.provider_txn_id


def issue(conn: psycopg.Connection, account_id: int, phone: str, amount: Decimal | str,
          config: BackendConfig) -> Issued:
    """Invoice the subscriber's QIWI Wallet ``phone`` for ``amount`` roubles, payable for
    ``LIFETIME`` hours; a :class:`GatewayRefusal` says why not before anything is sent.

    Runs outside any transaction: the invoice is committed before QIWI hears of it, so
    an invoice QIWI holds is never one we forgot."""
    if conn.info.transaction_status != pq.TransactionStatus.IDLE:
        raise RuntimeError("qiwi_invoices.issue commits the invoice before it calls QIWI: "
                           "call it outside a transaction")
    qiwi = QiwiSettings.of(config)
    if config.currency != "RUB":
        raise GatewayRefusal("bad_currency", f"QIWI invoices are in RUB, the backend's "
                             f"DEFAULT_CURRENCY is {config.currency}")
    to_account = phone_digits(phone)
    if len(to_account) != 10:
        raise GatewayRefusal("bad_phone", f"a QIWI Wallet is a Russian mobile number of "
                             f"ten digits (+7 …), got {phone!r:.40}")
    amount = positive_amount(amount)
    check_amount(amount, config)
    row = conn.execute("SELECT contract FROM accounts WHERE id = %s", (account_id,)).fetchone()
    if row is None:
        raise GatewayRefusal("no_account", f"no account {account_id}")
    with conn.transaction():
        # The number is drawn from the payments' own sequence: unique for ever, also
        # after a restored backup rewinds nothing that QIWI has seen (QIWI answers 215).
        number = conn.execute("SELECT nextval(pg_get_serial_sequence('gateway_payments',"
                              " 'id'))").fetchone()[0]
        created = datetime.now(UTC)
        payment = gateway_payments.register(
            conn, NAME, f"{INVOICE_PREFIX}{number}", account_id, amount, "RUB",
            details={"invoice": "qiwi", "phone": to_account,
                     "lifetime_hours": _number(qiwi.lifetime_hours),
                     "expires_at": (created + qiwi.lifetime).isoformat()})
    body = create_request(qiwi, payment.provider_txn_id, to_account, amount,
                          _comment(row[0]))
    try:
        code = _result_code(_post(qiwi, body))
    except QiwiUnavailable as exc:
        log.warning("QIWI invoice %s for account %s: %s; the poll will ask QIWI about it",
                    payment.provider_txn_id, account_id, exc)
        return Issued(payment, "unconfirmed", None, str(exc))
    message = RESULT_CODES.get(code, f"код {code}")
    if code == 0:
        log.info("QIWI invoice %s issued: %s RUB to %s for account %s",
                 payment.provider_txn_id, amount, to_account, account_id)
        return Issued(payment, "issued", code, message)
    # Any other code is a refusal of this request (215 included: the number is new to
    # us, so an invoice QIWI holds under it is somebody else's).
    gateway_payments.change_state(conn, payment.id, "cancelled",
                                  reason=f"QIWI refused the invoice: {code} {message}")
    log.warning("QIWI refused invoice %s for account %s: %s %s", payment.provider_txn_id,
                account_id, code, message)
    return Issued(gateway_payments.get(conn, payment.id), "refused", code, message)


def _comment(contract: str) -> str:
    """§1.6: at most 255 bytes."""
    text = COMMENT.format(contract=contract).encode("utf-8")[:255]
    return text.decode("utf-8", errors="ignore")


# -- polling ------------------------------------------------------------------------------

COUNTS = ("asked", "paid", "cancelled", "open", "unknown_status", "missing", "mismatch",
          "errors")


@dataclass
class PollResult:
    """What one poll found: counts by what became of the invoices (``paid``,
    ``cancelled``, ``open``, ``unknown_status``, ``missing`` — not listed by QIWI,
    closed as cancelled too once long expired —, ``mismatch``, ``errors``, and
    ``asked``), the invoices credited and closed, and ``failure`` when QIWI could not
    be asked (nothing changed for the invoices not asked)."""

    counts: Counter = field(default_factory=Counter)
    credited: list[str] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)
    failure: str | None = None
    busy: bool = False

    @property
    def failed(self) -> bool:
        return self.failure is not None or bool(self.counts["errors"])

    def metric_line(self) -> str:
        line = " ".join(f"{name}={self.counts[name]}" for name in COUNTS)
        return line + (f" failure={self.failure!r}" if self.failure else "")


@dataclass(frozen=True)
class _Open:
    id: int
    invoice: str
    amount: Decimal
    expires_at: datetime | None


_OPEN = """
    SELECT id, provider_txn_id, amount, (details->>'expires_at')::timestamptz
      FROM gateway_payments
     WHERE backend = %s AND state = 'pending' AND provider_txn_id LIKE %s
     ORDER BY id
"""
_LOCK = "ebs.poll_qiwi"
_MISSING = object()  # an invoice the status answer does not list


def poll(conn: psycopg.Connection, config: BackendConfig, now: datetime, *,
         batch_size: int = MAX_BILLS,
         on_batch: Callable[[int, int, PollResult], None] | None = None) -> PollResult:
    """Ask QIWI about every open invoice, up to 999 in one request, and apply what it
    says: paid → credited once, cancelled or expired → closed, still open → left.

    Run by the beat every five minutes and by ``ebs payments poll-qiwi``; one poll at a
    time (another finds it busy and leaves). QIWI unreachable: the batches not asked
    change nothing and the next run asks again. ``on_batch(done, total, result)`` after
    each request, for progress."""
    result = PollResult()
    qiwi = QiwiSettings.of(config)
    if not 0 < batch_size <= MAX_BILLS:
        raise ValueError(f"batch_size must be 1 to {MAX_BILLS}")
    if not conn.execute("SELECT pg_try_advisory_lock(hashtext(%s)::bigint)",
                        (_LOCK,)).fetchone()[0]:
        result.busy = True
        return result
    try:
        invoices = [_Open(*row) for row in conn.execute(
            _OPEN, (NAME, INVOICE_PREFIX + "%"))]
        batches = [invoices[i:i + batch_size] for i in range(0, len(invoices), batch_size)]
        for done, batch in enumerate(batches, start=1):
            try:
                answered = _statuses(qiwi, [invoice.invoice for invoice in batch])
            except QiwiUnavailable as exc:
                result.failure = str(exc)
                log.warning("QIWI invoices: %s; %d open invoice(s) left for the next poll",
                            exc, sum(len(b) for b in batches[done - 1:]))
                break
            for invoice in batch:
                try:
                    _apply(conn, invoice, answered.get(invoice.invoice, _MISSING), now,
                           result)
                except Refused as exc:  # this invoice's move refused; the others go on
                    result.counts["errors"] += 1
                    log.error("QIWI invoice %s: %s (%s)", invoice.invoice, exc, exc.code)
            if on_batch is not None:
                on_batch(done, len(batches), result)
    finally:
        conn.execute("SELECT pg_advisory_unlock(hashtext(%s)::bigint)", (_LOCK,))
    log.info("QIWI invoices: %s", result.metric_line())
    return result



def _statuses(qiwi: QiwiSettings, invoices: list[str]) -> dict[str, BillStatus | None]:
    """The statuses QIWI gives for ``invoices``. A request answered 210 ("no such
    invoice") as a whole is asked again one invoice at a time, so an invoice QIWI never
    created cannot hide the others' statuses."""
    root = _post(qiwi, status_request(qiwi, invoices))
    code = _result_code(root)
    if code == NOT_FOUND and len(invoices) > 1:
        found: dict[str, BillStatus | None] = {}
        for invoice in invoices:
            found.update(_statuses(qiwi, [invoice]))
        return found
    if code == NOT_FOUND:
        return {}
    if code != 0:
        raise QiwiUnavailable(f"QIWI answered result code {code} "
                              f"({RESULT_CODES.get(code, 'unknown')})")
    return _bills(root)


def _apply(conn: psycopg.Connection, invoice: _Open, bill, now: datetime,
           result: PollResult) -> None:
    result.counts["asked"] += 1
    if bill is _MISSING:
        result.counts["missing"] += 1
        if invoice.expires_at is not None and now > invoice.expires_at + MISSING_GRACE:
            _close(conn, invoice, now, result, "QIWI has no such invoice and its lifetime "
                   f"ended {invoice.expires_at:%Y-%m-%d %H:%M %Z}")
        else:
            log.info("QIWI invoice %s: QIWI does not list it (yet)", invoice.invoice)
        return
    if bill is None or bill.status is None:
        result.counts["unknown_status"] += 1
        log.warning("QIWI invoice %s: no clear status in QIWI's answer; left open",
                    invoice.invoice)
        return
    if bill.status == PAID:
        if bill.sum != invoice.amount:
            result.counts["mismatch"] += 1
            log.error("QIWI invoice %s: paid with sum %s, but it was issued for %s; not "
                      "credited, left open for an operator", invoice.invoice, bill.sum,
                      invoice.amount)
            return
        change = gateway_payments.change_state(
            conn, invoice.id, "paid", at=now,
            reason=f"QIWI invoice {invoice.invoice} paid: status {PAID}, sum {bill.sum}")
        if change is not None:
            result.counts["paid"] += 1
            result.credited.append(invoice.invoice)
        return
    if bill.status in CANCELLED_STATUSES:
        _close(conn, invoice, now, result, f"status {bill.status} "
               f"{CANCELLED_STATUSES[bill.status]}")
        return
    if bill.status in OPEN_STATUSES:
        result.counts["open"] += 1
        return
    result.counts["unknown_status"] += 1
    log.warning("QIWI invoice %s: status %s is not in the protocol; left open",
                invoice.invoice, bill.status)


def _close(conn: psycopg.Connection, invoice: _Open, now: datetime, result: PollResult,
           why: str) -> None:
    change = gateway_payments.change_state(conn, invoice.id, "cancelled", at=now,
                                           reason=f"QIWI invoice {invoice.invoice}: {why}")
    if change is not None:
        result.counts["cancelled"] += 1
        result.closed.append(invoice.invoice)
