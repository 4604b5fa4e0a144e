"""Sberbank Online (XML) at /payments.ru_sberbank/ru_sberbank/payment/: the signature
rule proved on the published vector of the bc.payment.sberbank implementation, check
then pay answered byte for byte and signed, a repeated pay_id credited once (err_code 1
with the first reg_id), and every bad request refused with the protocol's err_code,
stored, crediting nothing."""

from __future__ import annotations

import hashlib
import re
import threading
from decimal import Decimal

import pytest

from billing import gateway_payments, ledger
from tests.integration.ledger_helpers import entry, make_account
from tests.web.gateway_helpers import STRANGER_IP, call, credited, notifications

URL = "/payments.ru_sberbank/ru_sberbank/payment/"
PASSWORD = "12345"  # the guide's example

# bc.payment.sberbank MarshallerSberbankTest.checkUnmarshallingRequest: the MD5 of the
# text between <params> and </params> followed by the password ("password" there).
VECTOR = ('<?xml version="1.0" encoding="UTF-8"?><request><params>\n'
          "   <act>101</act>\n   <agent_code>1001</agent_code>\n"
          "   <agent_date>2015-12-21T19:33:54</agent_date>\n   <serv_code>501</serv_code>\n"
          "   <account>502</account>\n   <pay_amount>2000</pay_amount>\n"
          "</params><sign>a593df58a0a6060debf0bea29bfaff7c</sign></request>")


def _md5(text: str, password: str = PASSWORD) -> str:
    return hashlib.md5((text + password).encode()).hexdigest()


def _request(password: str = PASSWORD, **fields: str) -> str:
    inner = "\n" + "".join(f"   <{name}>{value}</{name}>\n" for name, value in fields.items())
    return (f'<?xml version="1.0" encoding="UTF-8"?><request><params>{inner}</params>'
            f"<sign>{_md5(inner, password)}</sign></request>")


def _answer(inner: str, password: str = PASSWORD) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<response><params>{inner}</params>'
            f"<sign>{_md5(inner, password)}</sign></response>\n").encode()


def _post(app, xml: str, source: str | None = None):
    kwargs = {"source": source} if source else {}
    return call(app, URL, method="POST", data={"params": xml}, **kwargs)


def _settings(app) -> dict:
    return app.config["EBS_SETTINGS"].GETPAID_BACKENDS_SETTINGS["payments.ru_sberbank"]


def test_the_published_vectors_signature_is_accepted_and_a_forgery_is_not(gateway_app, conn):
    _settings(gateway_app)["PASSWORD"] = "password"
    answer = _post(gateway_app, VECTOR)
    # Signed correctly, so what is refused is its act (101 is neither check nor pay).
    assert answer.status_code == 200 and answer.content_type == "text/xml; charset=utf-8"
    assert answer.data == _answer("<err_code>12</err_code><err_text>Неверный формат запроса"
                                  "</err_text><account>502</account>", "password")
    forged = _post(gateway_app, VECTOR.replace("<account>502<", "<account>503<"))
    # A forgery's account is not echoed: nothing it says is believed.
    assert forged.data == _answer("<err_code>13</err_code><err_text>Неверная подпись"
                                  "</err_text>", "password")
    assert [n[4] for n in notifications(conn)] == ["refused:bad_format",
                                                   "refused:bad_signature"]


def test_check_then_pay_credits_once_and_a_repeat_answers_already_paid(gateway_app, conn):
    account = make_account(conn, "9900990010125")
    conn.execute("UPDATE accounts SET full_name = 'Петров Иван Сергеевич' WHERE id = %s",
                 (account,))
    ledger.post(conn, entry(account, "-12.50", "test:charge", kind="charge_periodic"))
    check = _post(gateway_app, _request(act="1", agent_code="1001",
                                        agent_date="2015-12-21T19:33:54", serv_code="501",
                                        account="9900990010125", pay_amount="2000"))
    assert check.data == _answer("<err_code>0</err_code><err_text>OK</err_text>"
                                 "<account>9900990010125</account>"
                                 "<client_name>Иван С. П.</client_name>"
                                 "<balance>-12.50</balance>")
    pay = _request(act="2", agent_code="1001", agent_date="2015-12-21T19:35:10",
                   serv_code="501", account="9900990010125", pay_amount="2000",
                   pay_id="1450712110000")
    paid = _post(gateway_app, pay)
    payment = gateway_payments.find(conn, "payments.ru_sberbank", "1450712110000")
    assert payment.amount == Decimal("20.00") and payment.currency == "RUB"
    assert paid.data == _answer("<err_code>0</err_code><err_text>OK</err_text>"
                                f"<account>9900990010125</account><reg_id>{payment.id}</reg_id>")
    again = _post(gateway_app, pay)
    assert again.data == _answer("<err_code>1</err_code><err_text>Платёж уже проведён"
                                 "</err_text><account>9900990010125</account>"
                                 f"<reg_id>{payment.id}</reg_id>")
    assert credited(conn, account) == Decimal("7.50")  # the charge, then the payment
    # agent_date is the ISP's local time (Moscow, +03 in 2015)
    assert conn.execute("SELECT provider_at = '2015-12-21 19:35:10+03' FROM gateway_payments"
                        ).fetchone()[0]
    assert [n[4] for n in notifications(conn)] == ["ok", "ok", "duplicate"]
    assert gateway_payments.reconcile(conn) == [] and ledger.verify(conn) == []


def test_a_raw_xml_body_is_read_like_the_form(gateway_app, conn):
    account = make_account(conn, "5005")
    xml = _request(act="2", account="5005", pay_amount="150", pay_id="77")
    answer = call(gateway_app, URL, method="POST", data=xml.encode(),
                  content_type="text/xml; charset=utf-8")
    assert b"<err_code>0</err_code>" in answer.data
    assert credited(conn, account) == Decimal("1.50")


def _pay(**overrides: str) -> dict:
    fields = {"act": "2", "account": "5001", "pay_amount": "10000", "pay_id": "501"}
    fields.update(overrides)
    return {name: value for name, value in fields.items() if value is not None}


@pytest.mark.parametrize(("xml", "code"), [
    (_request(**_pay(pay_id=None)), 11),
    (_request(**_pay(account=None)), 11),
    (_request(**_pay(act=None)), 11),
    (_request(**_pay(act="3")), 12),
    (_request("wrong", **_pay()), 13),
    (_request(**_pay()).replace("<sign>", "<sign>0"), 13),
    (_request(**_pay()).split("<sign>")[0] + "</request>", 13),
    (_request(**_pay(account="9999")), 20),
    (_request(**_pay(pay_amount="-100")), 12),
    (_request(**_pay(pay_amount="0")), 12),
    (_request(**_pay(pay_amount="abc")), 12),
    (_request(**_pay(pay_amount="100.5")), 12),
    (_request(**_pay(pay_amount="9" * 40)), 12),
    (_request(**_pay(pay_amount="10000001")), 23),
    (_request(**_pay(pay_id="12a")), 12),
    (_request(**_pay(agent_date="21.12.2015")), 12),
    ('<?xml version="1.0"?><request><params><act>1</act>', 12),
    ("", 12),
    ('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;">]>'
     "<request><params><act>1</act><account>&b;</account></params><sign>x</sign></request>",
     12),
    (_request(**_pay()).replace("</request>", "<params><act>2</act></params></request>"), 12),
])
def test_bad_requests_answer_the_protocols_err_code_and_credit_nothing(
        gateway_app, conn, xml, code):
    account = make_account(conn, "5001")
    answer = _post(gateway_app, xml)
    assert answer.status_code == 200
    assert f"<err_code>{code}</err_code>".encode() in answer.data, answer.data
    assert credited(conn, account) == 0
    assert conn.execute("SELECT count(*) FROM gateway_payments").fetchone()[0] == 0
    outcomes = [n[4] for n in notifications(conn)]
    assert len(outcomes) == 1 and outcomes[0].startswith("refused:")


def test_a_pay_id_reused_for_another_payment_answers_30(gateway_app, conn):
    account = make_account(conn, "5001")
    assert b"<err_code>0</err_code>" in _post(gateway_app, _request(**_pay())).data
    reused = _post(gateway_app, _request(**_pay(pay_amount="20000")))
    assert b"<err_code>30</err_code>" in reused.data
    assert credited(conn, account) == Decimal("100.00")


def test_a_stranger_is_refused_with_bad_ip_and_kept_for_audit(gateway_app, conn):
    account = make_account(conn, "5001")
    answer = _post(gateway_app, _request(**_pay()), source=STRANGER_IP)
    assert answer.data == (b'<?xml version="1.0" encoding="UTF-8"?>\n<response><params>'
                           + "<err_code>10</err_code><err_text>Запрос с недопустимого адреса"
                             "</err_text>".encode()
                           + b"</params><sign></sign></response>\n")
    assert credited(conn, account) == 0
    assert [(n[0], n[1], n[4]) for n in notifications(conn)] == [
        ("payments.ru_sberbank", STRANGER_IP, "refused:forbidden")]


def test_ten_concurrent_identical_payments_credit_once(gateway_app, conn):
    account = make_account(conn, "5001")
    xml = _request(**_pay())
    start = threading.Barrier(10)
    answers: list = []

    def deliver() -> None:
        start.wait()
        answers.append(_post(gateway_app, xml).data)

    threads = [threading.Thread(target=deliver) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(b"<err_code>0</err_code>" in a for a in answers) == [False] * 9 + [True]
    assert sum(b"<err_code>1</err_code>" in a for a in answers) == 9
    assert len({re.search(rb"<reg_id>(\d+)</reg_id>", a).group(1) for a in answers}) == 1
    assert credited(conn, account) == Decimal("100.00")
    assert gateway_payments.reconcile(conn) == [] and ledger.verify(conn) == []
