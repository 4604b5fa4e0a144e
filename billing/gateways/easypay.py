"""EasyPay (Ukraine): EasySoft's terminals and site ask whether an account exists
(``Check``), announce a payment (``Payment``: we register it pending and return our
PaymentId), then confirm it (``Confirm``: the credit) or take it back (``Cancel``).

Written from the "EasySoft-Provider 3.1" protocol (EasySoft-Gate specification) as the
public client library dshovchko/php_EasyPay (MIT) reads it — EasySoft's own document is
not published: a POSTed XML ``<Request>`` holding ``DateTime``, ``Sign`` and one
operation element — ``<Check>`` (ServiceId, Account), ``<Payment>`` (ServiceId,
OrderId, Account, Amount), ``<Confirm>`` / ``<Cancel>`` (ServiceId, PaymentId) — is
answered by a ``<Response>`` of ``StatusCode`` (0 ok, anything else an error),
``StatusDetail``, ``DateTime`` and, by operation, ``AccountInfo``, ``PaymentId``,
``OrderDate`` or ``CancelDate``.

Authentication: EasySoft's source addresses (``allowed_ip``; without one every request
is refused) and the ``ServiceId`` the ISP was given (the guide's ``SERVICE_ID``). Where
the operator sets ``EASYSOFT_PUBLIC_KEY`` (EasySoft's certificate or public key, PEM
text or a file's path) every request must also carry ``Sign``: the hex RSA/SHA-1
signature of the body as sent with the Sign element emptied; with
``PROVIDER_PRIVATE_KEY`` our answers are signed the same way.

StatusCode values other than 0 are the provider's to show, not to act on: ours are
listed in ``_STATUS`` (the library's codes where it has one: -51 a malformed request,
-58 another ServiceId, -95 a bad signature).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

import psycopg
from Crypto.Hash import SHA1
from Crypto.PublicKey import RSA
from Crypto.Signature import pkcs1_15

from billing import gateway_payments
from billing.gateways.base import (
    Answer,
    BackendConfig,
    GatewayConfigError,
    GatewayRefusal,
    Notification,
    account_by_contract,
    check_amount,
    parse_amount,
    same_secret,
)
from billing.gateways.payer_name import masked_name
from billing.gateways.xml_fields import child_text, root

NAME = "payments.easypay"
PATHS = ("/payments.easypay/easypay/payment/",)
METHODS = ("POST",)
SOURCE_ONLY = True  # the signature is optional in the guide's settings; the address is not

OPERATIONS = ("Check", "Payment", "Confirm", "Cancel")
_STATUS = {
    "bad_format": (-51, "Error in request"),
    "wrong_service": (-58, "This request is not for our ServiceId"),
    "bad_signature": (-95, "Signature error"),
    "forbidden": (-90, "Access denied"),
    "no_account": (-40, "Account not found"),
    "bad_amount": (-41, "Bad amount"),
    "amount_too_small": (-42, "Amount below the minimum"),
    "amount_too_large": (-43, "Amount above the maximum"),
    "key_reused": (-44, "OrderId already used for another payment"),
    "no_payment": (-45, "Payment not found"),
    "bad_state": (-46, "Payment is already confirmed or cancelled"),
    "temporary": (-99, "Temporary error, try again later"),
}
_ID = re.compile(r"[0-9A-Za-z_\-.]{1,64}")
_PAYMENT_ID = re.compile(r"\d{1,18}")
_HEX = re.compile(rb"[0-9A-Fa-f]{2,2048}")


def handle(conn: psycopg.Connection, note: Notification, config: BackendConfig) -> Answer:
    try:
        request = root(note.body, "Request")
        _verify_sign(note.body, request, config)
        operation = _operation(request)
        service = child_text(operation, "ServiceId")
        if not service or not same_secret(service, str(config.secret("SERVICE_ID"))):
            raise GatewayRefusal("wrong_service", f"ServiceId {service!r:.30} is not ours")
        return _OPERATIONS[operation.tag](conn, note, config, operation)
    except (GatewayRefusal, gateway_payments.PaymentError) as exc:
        return _refusal(exc.code, config)


def _operation(request: ET.Element) -> ET.Element:
    found = [child for child in request if child.tag in OPERATIONS]
    if len(found) != 1:
        raise GatewayRefusal("bad_format", f"a request holds one of {OPERATIONS}, "
                             f"this one {len(found)}")
    return found[0]


def _check(conn, note: Notification, config: BackendConfig, operation: ET.Element) -> Answer:
    account = account_by_contract(conn, child_text(operation, "Account"))
    info = (f"<AccountInfo>\n    <Account>{escape(account.contract)}</Account>\n"
            f"    <Fio>{escape(masked_name(account.full_name))}</Fio>\n  </AccountInfo>")
    return _answer(0, "OK", config, [info], "ok")


def _payment(conn, note: Notification, config: BackendConfig, operation: ET.Element) -> Answer:
    order_id = child_text(operation, "OrderId")
    if not order_id or not _ID.fullmatch(order_id):
        raise GatewayRefusal("bad_format", f"OrderId {order_id!r:.70} is not an id")
    amount = parse_amount(child_text(operation, "Amount"))
    account = account_by_contract(conn, child_text(operation, "Account"))
    check_amount(amount, config)
    payment = gateway_payments.register(
        conn, NAME, order_id, account.id, amount, config.currency,
        details={"account": account.contract, "notification_id": note.id})
    return _answer(0, "OK", config, [f"<PaymentId>{payment.id}</PaymentId>"],
                   "ok" if payment.created else "duplicate", payment.id)


def _confirm(conn, note: Notification, config: BackendConfig, operation: ET.Element) -> Answer:
    """Confirm credits the payment once; a repeat answers the first OrderDate. A payment
    cancelled (by Cancel, or by the operator) is not revived by the provider."""
    with conn.transaction():
        payment = _locked_payment(conn, operation)
        if payment.state == "cancelled":
            raise GatewayRefusal("bad_state", f"payment {payment.id} was cancelled")
        change = gateway_payments.change_state(conn, payment.id, "paid",
                                               notification_id=note.id,
                                               maximum=config.maximum)
        at = _moved_at(conn, payment.id, "paid")
    return _answer(0, "OK", config, [f"<OrderDate>{_local(at, config)}</OrderDate>"],
                   "ok" if change else "duplicate", payment.id)


def _cancel(conn, note: Notification, config: BackendConfig, operation: ET.Element) -> Answer:
    """Cancel withdraws a payment not yet confirmed; a confirmed one stays credited (the
    operator, not the provider, reverses money already on the account)."""
    with conn.transaction():
        payment = _locked_payment(conn, operation)
        if payment.state == "paid":
            raise GatewayRefusal("bad_state", f"payment {payment.id} was confirmed")
        change = gateway_payments.change_state(conn, payment.id, "cancelled",
                                               notification_id=note.id,
                                               reason="Cancelled by EasyPay")
        at = _moved_at(conn, payment.id, "cancelled")
    return _answer(0, "OK", config, [f"<CancelDate>{_local(at, config)}</CancelDate>"],
                   "ok" if change else "duplicate", payment.id)


_OPERATIONS = {"Check": _check, "Payment": _payment, "Confirm": _confirm, "Cancel": _cancel}


def _locked_payment(conn, operation: ET.Element) -> gateway_payments.GatewayPayment:
    """Our payment the PaymentId names, locked until the caller's transaction ends (so
    an operator's change cannot slip between the state read here and the move)."""
    text = child_text(operation, "PaymentId")
    if not text or not _PAYMENT_ID.fullmatch(text):
        raise GatewayRefusal("bad_format", f"PaymentId {text!r:.40} is not a number")
    row = conn.execute("SELECT id FROM gateway_payments WHERE id = %s AND backend = %s"
                       " FOR UPDATE", (int(text), NAME)).fetchone()
    if row is None:
        raise GatewayRefusal("no_payment", f"no EasyPay payment {text}")
    return gateway_payments.get(conn, row[0])


def _moved_at(conn, payment_id: int, state: str) -> datetime:
    return conn.execute("SELECT at FROM gateway_payment_changes WHERE payment_id = %s"
                        " AND to_state = %s ORDER BY change_no DESC LIMIT 1",
                        (payment_id, state)).fetchone()[0]


def _local(moment: datetime, config: BackendConfig) -> str:
    """EasySoft's times: the ISP's local time, YYYY-MM-DDTHH:MM:SS, no zone."""
    return moment.astimezone(ZoneInfo(config.time_zone)).strftime("%Y-%m-%dT%H:%M:%S")


# --- the signature ------------------------------------------------------------------

def _verify_sign(body: bytes, request: ET.Element, config: BackendConfig) -> None:
    """With EasySoft's key configured, the body as sent with its Sign element emptied
    must carry EasySoft's RSA/SHA-1 signature, hex-encoded, in Sign."""
    key_setting = config.get("EASYSOFT_PUBLIC_KEY")
    if not key_setting:
        return
    sign = child_text(request, "Sign")
    if not sign:
        raise GatewayRefusal("bad_signature", "the request is not signed")
    signed = sign.encode()
    element = b"<Sign>" + signed + b"</Sign>"
    if not _HEX.fullmatch(signed) or body.count(element) != 1:
        raise GatewayRefusal("bad_signature", "Sign is not one hex signature")
    text = body.replace(element, b"<Sign></Sign>")
    try:
        pkcs1_15.new(_key(str(key_setting))).verify(SHA1.new(text), bytes.fromhex(sign))
    except ValueError:
        raise GatewayRefusal("bad_signature", "the signature does not match") from None


@lru_cache(maxsize=8)
def _key(setting: str) -> RSA.RsaKey:
    """A PEM key or certificate given in the settings, or the path of a file holding one."""
    text = setting if "-----BEGIN" in setting else _read_key_file(setting)
    try:
        return RSA.import_key(text)
    except (ValueError, IndexError, TypeError) as exc:
        raise GatewayConfigError(f"{NAME}: not an RSA key or certificate: {exc}") from None


def _read_key_file(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError as exc:
        raise GatewayConfigError(f"{NAME}: key file {path}: {exc.strerror}") from None


# --- the answer ---------------------------------------------------------------------

def _answer(code: int, detail: str, config: BackendConfig | None, extra: list[str],
            outcome: str, payment_id: int | None = None) -> Answer:
    zone = ZoneInfo(config.time_zone) if config else UTC
    now = datetime.now(zone).strftime("%Y-%m-%dT%H:%M:%S")
    lines = [f"<StatusCode>{code}</StatusCode>", f"<StatusDetail>{escape(detail)}</StatusDetail>",
             f"<DateTime>{now}</DateTime>", *extra]
    private = config.get("PROVIDER_PRIVATE_KEY") if config else None
    if private:
        lines.append("<Sign></Sign>")
    body = _document(lines)
    if private:
        signature = pkcs1_15.new(_key(str(private))).sign(SHA1.new(body.encode()))
        body = body.replace("<Sign></Sign>", f"<Sign>{signature.hex().upper()}</Sign>")
    return Answer(body, content_type="text/xml; charset=utf-8", outcome=outcome,
                  payment_id=payment_id)


def _document(lines: list[str]) -> str:
    inner = "".join(f"  {line}\n" for line in lines)
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<Response>\n{inner}</Response>\n'


def _refusal(reason: str, config: BackendConfig | None) -> Answer:
    code, detail = _STATUS.get(reason, _STATUS["bad_format"])
    return _answer(code, detail, config, [], f"refused:{reason}")


def refused(note: Notification, reason: str) -> Answer:
    """Refused before the settings were read (a wrong source, a disabled backend): the
    answer cannot be signed."""
    return _refusal(reason, None)


def failed(note: Notification) -> Answer:
    code, detail = _STATUS["temporary"]
    return _answer(code, detail, None, [], "error")
