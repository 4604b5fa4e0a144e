"""EasyPay (EasySoft-Provider 3.1) at /payments.easypay/easypay/payment/: a request
signed by the published test key of the php_EasyPay client library verified byte for
byte; Payment registers one pending payment however often it comes, Confirm credits it
once, Cancel withdraws only what is not confirmed; every refusal is stored, credits
nothing and answers the protocol's Response."""

from __future__ import annotations

import re
import threading
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from Crypto.Hash import SHA1
from Crypto.PublicKey import RSA
from Crypto.Signature import pkcs1_15

from billing import gateway_payments, ledger
from tests.integration.ledger_helpers import make_account
from tests.web.gateway_helpers import STRANGER_IP, call, credited, notifications

URL = "/payments.easypay/easypay/payment/"

# dshovchko/php_EasyPay (MIT), test/files/php_easypay.cer and test/SignTest.php
# test_verify_sign_oksign: a Check for ServiceId 256, account 1024256, signed RSA/SHA-1
# over the body with <Sign></Sign> emptied, the signature in hex.
LIBRARY_CERT = """-----BEGIN CERTIFICATE-----
MIIByzCCATQCCQC3G6LpvjczYzANBgkqhkiG9w0BAQUFADAqMRswGQYDVQQDExJQ
cm92aWRlclNpZ24tRG9yaXMxCzAJBgNVBAYTAlVBMB4XDTE3MTAxNzA3MjgxNVoX
DTQ1MDMwMzA3MjgxNVowKjEbMBkGA1UEAxMSUHJvdmlkZXJTaWduLURvcmlzMQsw
CQYDVQQGEwJVQTCBnzANBgkqhkiG9w0BAQEFAAOBjQAwgYkCgYEAn9uw3d6hnGfI
IkJpNkDArTOV+fQ23jR9ok6qY13jOULZO2DVqN5Zh5hijat40G+P+D3mVP69WULc
AZTmQ/Nv6EQ27uaitl/t115QA6PW6ar72B6u4ccUWyQT8KInlf+H2AlWUY6JssxB
557XxaIBSrTS36l0j/YWMOxXpxNWdJUCAwEAATANBgkqhkiG9w0BAQUFAAOBgQBB
capSm+Zuh7MrtsN5v4P2IlRhJlCGdwDFGplziGrYRdG/h7yKN7t0b9qKm4AZ3HQF
2P7akBdls4kISBCyFmSmQgJYTmcT4rlSC61Ep0b7EG3ZZCo9Q3JxBz/PVBaN8vr5
Vuf6VKAlYYYinYoLCs2NmIKw/nH0ocAHA8qQLd0MmA==
-----END CERTIFICATE-----
"""
LIBRARY_SIGN = ("59DE8A1A2FBC5DA79E50718A98140F9A39AB597E2DEA7E8923DA9F249CFE023EE23A45994F7"
                "FEDD426760DFB82B56F2F2F4D0D5AACF54D3BBA8F2F103568C95D675BC278C08BD13E0867"
                "F13805A0967FA247D407F48C954F1D85EDC9A3108C64A7FB4F815C9566ACE6ABE817EBF40"
                "306893588D394FB12E599F81C2EA1805A8D")
SIGNED_CHECK = ("<Request>\n  <DateTime>2017-10-01T12:00:00</DateTime>\n"
                f"  <Sign>{LIBRARY_SIGN}</Sign>\n  <Check>\n    <ServiceId>256</ServiceId>\n"
                "    <Account>1024256</Account>\n  </Check>\n</Request>").encode()


def _settings(app) -> dict:
    return app.config["EBS_SETTINGS"].GETPAID_BACKENDS_SETTINGS["payments.easypay"]


def _post(app, body: bytes, source: str | None = None):
    kwargs = {"source": source} if source else {}
    return call(app, URL, method="POST", data=body, content_type="text/xml", **kwargs)


def _request(operation: str, **fields: str) -> bytes:
    """A request as EasySoft's gateway writes one (the library's sample layout)."""
    inner = "".join(f"        <{name}>{value}</{name}>\n" for name, value in fields.items())
    return (f"<Request>\n    <DateTime>2026-12-07T10:00:00</DateTime>\n    <Sign></Sign>\n"
            f"    <{operation}>\n        <ServiceId>1</ServiceId>\n{inner}"
            f"    </{operation}>\n</Request>").encode()


def _response(*lines: str, answered) -> bytes:
    """The Response we expect, its DateTime taken from the answer once it is checked to
    be the ISP's local now."""
    stamp = re.search(rb"<DateTime>([^<]+)</DateTime>", answered.data).group(1).decode()
    now = datetime.now(ZoneInfo("Europe/Moscow")).replace(tzinfo=None)
    assert abs(datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S") - now) < timedelta(seconds=30)
    body = "".join(f"  {line}\n" for line in (*lines[:2], f"<DateTime>{stamp}</DateTime>",
                                               *lines[2:]))
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<Response>\n{body}</Response>\n'.encode()


def _field(answer, name: str) -> str:
    return re.search(rf"<{name}>([^<]*)</{name}>".encode(), answer.data).group(1).decode()


def test_the_librarys_signed_check_is_verified_and_answered(gateway_app, conn):
    _settings(gateway_app).update(SERVICE_ID="256", EASYSOFT_PUBLIC_KEY=LIBRARY_CERT)
    account = make_account(conn, "1024256")
    conn.execute("UPDATE accounts SET full_name = 'Шевченко Тарас Григорович' WHERE id = %s",
                 (account,))
    answer = _post(gateway_app, SIGNED_CHECK)
    assert answer.status_code == 200 and answer.content_type == "text/xml; charset=utf-8"
    assert answer.data == _response(
        "<StatusCode>0</StatusCode>", "<StatusDetail>OK</StatusDetail>",
        "<AccountInfo>\n    <Account>1024256</Account>\n"
        "    <Fio>Тарас Г. Ш.</Fio>\n  </AccountInfo>", answered=answer)
    # One changed digit of the account, the signature kept: refused, and so is no Sign.
    forged = _post(gateway_app, SIGNED_CHECK.replace(b"1024256", b"1024257"))
    unsigned = _post(gateway_app, SIGNED_CHECK.replace(LIBRARY_SIGN.encode(), b""))
    flipped = _post(gateway_app, SIGNED_CHECK.replace(b"59DE8A", b"59DE8B"))
    for refused in (forged, unsigned, flipped):
        assert refused.data == _response("<StatusCode>-95</StatusCode>",
                                         "<StatusDetail>Signature error</StatusDetail>",
                                         answered=refused)
    assert [n[4] for n in notifications(conn)] == [
        "ok", "refused:bad_signature", "refused:bad_signature", "refused:bad_signature"]


def test_payment_once_pending_confirm_credits_once_cancel_after_confirm_refused(
        gateway_app, conn):
    account = make_account(conn, "7001")
    pay = _request("Payment", OrderId="43232128933", Account="7001", Amount="10.50")
    first = _post(gateway_app, pay)
    payment = gateway_payments.find(conn, "payments.easypay", "43232128933")
    assert payment.state == "pending" and payment.amount == Decimal("10.50")
    assert payment.currency == "UAH"
    assert first.data == _response("<StatusCode>0</StatusCode>",
                                   "<StatusDetail>OK</StatusDetail>",
                                   f"<PaymentId>{payment.id}</PaymentId>", answered=first)
    again = _post(gateway_app, pay)  # the gateway did not read the answer: repeats
    assert _field(again, "PaymentId") == str(payment.id)
    assert conn.execute("SELECT count(*) FROM gateway_payments").fetchone()[0] == 1
    assert credited(conn, account) == 0

    confirm = _request("Confirm", PaymentId=str(payment.id))
    confirmed = _post(gateway_app, confirm)
    paid_at = conn.execute("SELECT at FROM gateway_payment_changes WHERE payment_id = %s",
                           (payment.id,)).fetchone()[0]
    order_date = paid_at.astimezone(ZoneInfo("Europe/Moscow")).strftime("%Y-%m-%dT%H:%M:%S")
    assert confirmed.data == _response("<StatusCode>0</StatusCode>",
                                       "<StatusDetail>OK</StatusDetail>",
                                       f"<OrderDate>{order_date}</OrderDate>",
                                       answered=confirmed)
    twice = _post(gateway_app, confirm)
    assert _field(twice, "StatusCode") == "0" and _field(twice, "OrderDate") == order_date
    assert credited(conn, account) == Decimal("10.50")

    cancel = _post(gateway_app, _request("Cancel", PaymentId=str(payment.id)))
    assert cancel.data == _response(
        "<StatusCode>-46</StatusCode>",
        "<StatusDetail>Payment is already confirmed or cancelled</StatusDetail>",
        answered=cancel)
    unknown = _post(gateway_app, _request("Confirm", PaymentId=str(payment.id + 1000)))
    assert _field(unknown, "StatusCode") == "-45"
    assert credited(conn, account) == Decimal("10.50")
    assert gateway_payments.get(conn, payment.id).state == "paid"
    assert [n[4] for n in notifications(conn)] == [
        "ok", "duplicate", "ok", "duplicate", "refused:bad_state", "refused:no_payment"]
    assert gateway_payments.reconcile(conn) == [] and ledger.verify(conn) == []


def test_cancel_withdraws_a_pending_payment_and_confirm_cannot_revive_it(gateway_app, conn):
    account = make_account(conn, "7002")
    first = _post(gateway_app, _request("Payment", OrderId="9001", Account="7002", Amount="25"))
    payment_id = int(_field(first, "PaymentId"))
    cancel = _request("Cancel", PaymentId=str(payment_id))
    cancelled = _post(gateway_app, cancel)
    assert _field(cancelled, "StatusCode") == "0"
    cancel_at = conn.execute("SELECT at FROM gateway_payment_changes WHERE payment_id = %s",
                             (payment_id,)).fetchone()[0]
    assert _field(cancelled, "CancelDate") == cancel_at.astimezone(
        ZoneInfo("Europe/Moscow")).strftime("%Y-%m-%dT%H:%M:%S")
    assert _field(_post(gateway_app, cancel), "StatusCode") == "0"  # a repeat: same answer
    revived = _post(gateway_app, _request("Confirm", PaymentId=str(payment_id)))
    assert _field(revived, "StatusCode") == "-46"
    assert credited(conn, account) == 0
    assert gateway_payments.get(conn, payment_id).state == "cancelled"
    assert gateway_payments.reconcile(conn) == [] and ledger.verify(conn) == []


@pytest.mark.parametrize(("body", "code"), [
    (_request("Check", Account="9999"), "-40"),
    (_request("Payment", OrderId="1", Account="7003", Amount="-10"), "-41"),
    (_request("Payment", OrderId="2", Account="7003", Amount="0"), "-41"),
    (_request("Payment", OrderId="3", Account="7003", Amount="abc"), "-41"),
    (_request("Payment", OrderId="4", Account="7003", Amount="10.001"), "-41"),
    (_request("Payment", OrderId="5", Account="7003", Amount="1e3"), "-41"),
    (_request("Payment", OrderId="6", Account="7003", Amount="9" * 40), "-41"),
    (_request("Payment", OrderId="7", Account="7003", Amount="100001"), "-43"),
    (_request("Payment", OrderId="8", Account="9999", Amount="10"), "-40"),
    (_request("Payment", OrderId="", Account="7003", Amount="10"), "-51"),
    (_request("Confirm", PaymentId="abc"), "-51"),
    (_request("Check", Account="7003").replace(b"<ServiceId>1<", b"<ServiceId>2<"), "-58"),
    (_request("Check", Account="7003").replace(b"Check", b"Refund"), "-51"),
    (_request("Payment", OrderId="9", Account="7003", Amount="10", Amount_="1")
     .replace(b"Amount_", b"Amount"), "-51"),
    (b"<Request><DateTime>x</DateTime><Check><ServiceId>1</ServiceId>", "-51"),
    (b"not xml at all", "-51"),
    (b"", "-51"),
    (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;">]>'
     b"<Request><Check><ServiceId>1</ServiceId><Account>&b;</Account></Check></Request>",
     "-51"),
])
def test_bad_input_is_refused_in_the_protocols_words_and_credits_nothing(
        gateway_app, conn, body, code):
    account = make_account(conn, "7003")
    answer = _post(gateway_app, body)
    assert answer.status_code == 200
    assert _field(answer, "StatusCode") == code, answer.data
    assert credited(conn, account) == 0
    assert conn.execute("SELECT count(*) FROM gateway_payments").fetchone()[0] == 0
    stored = conn.execute("SELECT body, outcome FROM gateway_notifications").fetchall()
    assert len(stored) == 1 and bytes(stored[0][0]) == body
    assert stored[0][1].startswith("refused:")


def test_a_stranger_is_refused_and_kept_for_audit(gateway_app, conn):
    account = make_account(conn, "7004")
    body = _request("Payment", OrderId="77", Account="7004", Amount="10")
    answer = _post(gateway_app, body, source=STRANGER_IP)
    assert _field(answer, "StatusCode") == "-90"
    assert credited(conn, account) == 0
    assert notifications(conn) == [("payments.easypay", STRANGER_IP, "POST", "",
                                    "refused:forbidden", 200)]


def test_an_order_id_reused_for_another_sum_is_refused(gateway_app, conn):
    make_account(conn, "7005")
    _post(gateway_app, _request("Payment", OrderId="55", Account="7005", Amount="10"))
    reused = _post(gateway_app, _request("Payment", OrderId="55", Account="7005",
                                         Amount="11"))
    assert _field(reused, "StatusCode") == "-44"
    assert gateway_payments.find(conn, "payments.easypay", "55").amount == Decimal("10")


def test_answers_are_signed_with_the_providers_key_when_one_is_set(gateway_app, conn):
    ours = RSA.generate(1024)
    _settings(gateway_app)["PROVIDER_PRIVATE_KEY"] = ours.export_key().decode()
    make_account(conn, "7006")
    answer = _post(gateway_app, _request("Check", Account="7006"))
    sign = _field(answer, "Sign")
    assert re.fullmatch("[0-9A-F]{256}", sign)
    signed = answer.data.replace(sign.encode(), b"")
    assert signed.endswith(b"  <Sign></Sign>\n</Response>\n")
    pkcs1_15.new(ours.public_key()).verify(SHA1.new(signed), bytes.fromhex(sign))


def test_ten_concurrent_confirms_credit_once(gateway_app, conn):
    account = make_account(conn, "7007")
    first = _post(gateway_app, _request("Payment", OrderId="31337", Account="7007",
                                        Amount="99.99"))
    confirm = _request("Confirm", PaymentId=_field(first, "PaymentId"))
    start = threading.Barrier(10)
    answers: list = []

    def deliver() -> None:
        start.wait()
        answers.append(_post(gateway_app, confirm))

    threads = [threading.Thread(target=deliver) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == 10 and all(_field(a, "StatusCode") == "0" for a in answers)
    assert len({_field(a, "OrderDate") for a in answers}) == 1
    assert credited(conn, account) == Decimal("99.99")
    outcomes = sorted(n[4] for n in notifications(conn))
    assert outcomes == ["duplicate"] * 9 + ["ok", "ok"]
    assert gateway_payments.reconcile(conn) == [] and ledger.verify(conn) == []
