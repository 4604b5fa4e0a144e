"""The cabinet's Pay page with the guide's backends: the signed form it shows is the one
Wallet One's and LiqPay's callbacks verify (their notification for that order, built
here as the provider builds it, credits it once and the return page turns from
"waiting" to "paid"); bad sums are said under the field and open no order; a repeated
POST opens no second order; another subscriber's order is 404; the page's policy lets
its form post to the provider's origin only. A QIWI invoice goes to a local QIWI. The
local Wallet One (frontend_gateway_fake) pays an order over real HTTP."""

from __future__ import annotations

import base64
import html
import json
import re
import threading
from decimal import Decimal
from urllib.parse import urlencode, urlsplit

import pytest
import requests
from werkzeug.serving import make_server

from billing.gateways import liqpay, w1ru
from stack.servers.base import free_port
from tests.integration.qiwi_xml_fake import FakeQiwi
from tests.web.cabinet_helpers import cabinet_login, subscriber
from tests.web.conftest import csrf_token
from tests.web.frontend_gateway_fake import FakeWalletOne, Order
from tests.web.gateway_helpers import call, credited

W1_SECRET = "MFVSdmZNajdBRXdcWmE3Z191cjBLWFJsZjhb"  # the guide's
W1_MERCHANT = "163789612661"
LIQPAY_KEY = "LMoTlGet9IVubuNbBvKIZ0wNDdsluOLsIvdzd"
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def _backends(app) -> dict:
    return app.config["EBS_SETTINGS"].GETPAID_BACKENDS_SETTINGS


@pytest.fixture
def payer(gateway_app, conn):
    account_id, name, password = subscriber(conn)
    client = gateway_app.test_client()
    cabinet_login(client, name, password)
    return account_id, client


def _signed(page: str) -> tuple[str, list[tuple[str, str]]]:
    """The provider's form of the page: its action and hidden fields, as a browser
    posts them."""
    form = page[page.index('id="cabinet-pay-provider-form"') - 200:]
    form = form[form.index("<form"):form.index("</form>")]
    action = html.unescape(re.search(r'action="([^"]+)"', form).group(1))
    return action, [(name, html.unescape(value)) for name, value in _HIDDEN.findall(form)]


def _form(client, post_url: str = "/cabinet/pay") -> dict:
    """The CSRF token and the nonce of the Pay page's form that posts to ``post_url``."""
    page = client.get("/cabinet/pay").text
    form = page[page.index(f'action="{post_url}"'):]
    return {"csrf_token": csrf_token(page),
            "nonce": re.search(r'name="nonce" value="(\w+)"', form).group(1)}


def _submit(client, data: dict, post_url: str = "/cabinet/pay"):
    return client.post(post_url, data={**_form(client, post_url), **data})


def _orders(conn, account_id: int) -> list[tuple]:
    return conn.execute("SELECT backend, amount, state FROM gateway_payments"
                        " WHERE account_id = %s ORDER BY id", (account_id,)).fetchall()


def _order_id(conn, account_id: int) -> int:
    return conn.execute("SELECT max(id) FROM gateway_payments WHERE account_id = %s",
                        (account_id,)).fetchone()[0]


def _state(client, order_id: int) -> str:
    page = client.get(f"/cabinet/pay/orders/{order_id}")
    assert page.status_code == 200
    return re.search(r'id="cabinet-pay-state" data-state="(\w+)"', page.text).group(1)


def test_wallet_one_form_is_what_its_callback_verifies(gateway_app, conn, payer):
    account_id, client = payer
    page = client.get("/cabinet/pay")
    assert page.status_code == 200
    assert 'id="cabinet-pay-backend-w1ru"' in page.text
    assert 'id="cabinet-pay-backend-liqpay"' in page.text
    assert 'id="cabinet-qiwi-form"' in page.text  # the guide's qiwiru is TYPE frontend
    shown = _submit(client, {"backend": w1ru.NAME, "amount": "150.50"})
    assert shown.status_code == 200 and 'id="cabinet-pay-continue"' in shown.text
    assert "Continue to Wallet One" in shown.text
    policy = shown.headers["Content-Security-Policy"]
    assert "form-action 'self' https://wl.walletone.com;" in policy
    assert "liqpay" not in policy
    action, fields = _signed(shown.text)
    assert action == "https://wl.walletone.com/checkout/checkout/Index"
    values = dict(fields)
    order_id = _order_id(conn, account_id)
    assert values["WMI_PAYMENT_AMOUNT"] == "150.50" and values["WMI_MERCHANT_ID"] == W1_MERCHANT
    assert values["WMI_SUCCESS_URL"] == f"http://localhost/cabinet/pay/orders/{order_id}"
    assert values["WMI_FAIL_URL"] == values["WMI_SUCCESS_URL"]
    assert values["WMI_SIGNATURE"] == w1ru.signature(fields, W1_SECRET)
    assert _orders(conn, account_id) == [(w1ru.NAME, Decimal("150.50"), "pending")]
    assert _state(client, order_id) == "pending"
    assert "Waiting for the provider's confirmation" in client.get(
        f"/cabinet/pay/orders/{order_id}").text
    # a return with "paid" in the query proves nothing
    assert "cabinet-pay-paid" not in client.get(
        f"/cabinet/pay/orders/{order_id}?WMI_ORDER_STATE=Accepted&state=paid").text

    fake = FakeWalletOne(callback_url="", merchant_id=W1_MERCHANT, secret=W1_SECRET)
    notification = fake.notification(Order("337428219466", fields, True))
    for _ in range(2):  # Wallet One repeats a notification it got no answer to
        answer = call(gateway_app, "/payments.w1ru/w1ru/postback/", method="POST",
                      data=urlencode(notification, encoding="windows-1251").encode("ascii"),
                      content_type="application/x-www-form-urlencoded")
        assert answer.data == b"WMI_RESULT=OK"
    assert credited(conn, account_id) == Decimal("150.50")
    assert _state(client, order_id) == "paid"
    # the page of orders lists it, paid
    assert f'data-order-id="{order_id}" data-state="paid"' in client.get("/cabinet/pay").text


def test_liqpay_form_is_what_its_callback_verifies(gateway_app, conn, payer):
    account_id, client = payer
    shown = _submit(client, {"backend": liqpay.NAME, "amount": "75"})
    assert "form-action 'self' https://www.liqpay.ua;" in shown.headers[
        "Content-Security-Policy"]
    action, fields = _signed(shown.text)
    assert action == "https://www.liqpay.ua/api/3/checkout"
    data, signature = dict(fields)["data"], dict(fields)["signature"]
    assert signature == liqpay.signature(data, LIQPAY_KEY)
    params = json.loads(base64.b64decode(data))
    order_id = _order_id(conn, account_id)
    assert params["result_url"] == f"http://localhost/cabinet/pay/orders/{order_id}"
    assert params["server_url"] == "http://localhost/payments.liqpay/liqpay/postback/"
    assert (params["amount"], params["currency"]) == ("75.00", "UAH")
    assert _state(client, order_id) == "pending"
    # LiqPay may post its result to result_url: the page reads nothing of it
    posted = client.post(f"/cabinet/pay/orders/{order_id}",
                         data={"data": "x", "signature": "y"})
    assert posted.status_code == 200 and 'data-state="pending"' in posted.text
    callback = {**params, "status": "success", "amount": 75.0, "payment_id": 1}
    body = base64.b64encode(json.dumps(callback).encode()).decode()
    answer = call(gateway_app, urlsplit(params["server_url"]).path, method="POST",
                  data={"data": body, "signature": liqpay.signature(body, LIQPAY_KEY)})
    assert answer.status_code == 200
    assert credited(conn, account_id) == Decimal("75.00")
    assert _state(client, order_id) == "paid"


BAD_SUMS = [
    ("0", "The amount must be above zero."),
    ("-1", "The amount cannot be negative."),
    ("1.001", "decimals"),
    ("abc", "Not an amount"),
    ("", "Enter the amount."),
    ("100001", "At most 100,000.00."),  # the maximum of one payment
]


def test_a_bad_sum_is_said_under_the_field_and_opens_no_order(gateway_app, conn, payer):
    account_id, client = payer
    for amount, message in BAD_SUMS:
        page = _submit(client, {"backend": w1ru.NAME, "amount": amount})
        assert page.status_code == 200
        assert 'id="cabinet-pay-continue"' not in page.text
        field = page.text[page.text.index('id="cabinet-pay-amount"') - 400:]
        assert "has-error" in field[:400] and message in field, amount
    assert _orders(conn, account_id) == []


def test_the_backends_minimum_and_a_strange_backend_are_refused(gateway_app, conn, payer):
    account_id, client = payer
    _backends(gateway_app)[w1ru.NAME]["MIN_SUM"] = 100
    page = client.get("/cabinet/pay")
    assert "from 100.00" in page.text
    low = _submit(client, {"backend": w1ru.NAME, "amount": "99.99"})
    assert "At least 100.00." in low.text
    # a backend that is not a checkout one (QIWI's terminals, SimpleTerminal) is no choice
    other = _submit(client, {"backend": "payments.qiwiru",
                                                  "amount": "10"})
    assert "Not a valid choice" in other.text
    assert _orders(conn, account_id) == []


def test_a_repeated_post_opens_one_order(gateway_app, conn, payer):
    account_id, client = payer
    data = {"backend": w1ru.NAME, "amount": "20", **_form(client)}
    first = client.post("/cabinet/pay", data=data)
    again = client.post("/cabinet/pay", data=data)
    order_id = _order_id(conn, account_id)
    assert 'id="cabinet-pay-continue"' in first.text
    assert again.status_code == 303
    assert again.headers["Location"].endswith(f"/cabinet/pay/orders/{order_id}")
    assert _orders(conn, account_id) == [(w1ru.NAME, Decimal("20.00"), "pending")]


def test_without_csrf_or_nonce_nothing_is_opened(gateway_app, conn, payer):
    account_id, client = payer
    data = {"backend": w1ru.NAME, "amount": "20", **_form(client)}
    no_csrf = client.post("/cabinet/pay", data={**data, "csrf_token": ""})
    no_nonce = client.post("/cabinet/pay", data={**data, "nonce": ""})
    assert no_csrf.status_code == 400 and "CSRF" in no_csrf.text
    assert 'id="cabinet-pay-continue"' not in no_nonce.text
    assert 'id="cabinet-pay-refused"' in no_nonce.text
    assert "The form is out of date" in no_nonce.text
    assert _orders(conn, account_id) == []


def test_another_subscribers_order_is_404(gateway_app, conn, payer):
    _, client = payer
    other_id, other_name, other_password = subscriber(conn)
    other = gateway_app.test_client()
    cabinet_login(other, other_name, other_password)
    _submit(other, {"backend": w1ru.NAME, "amount": "33"})
    theirs = _order_id(conn, other_id)
    assert _state(other, theirs) == "pending"
    assert client.get(f"/cabinet/pay/orders/{theirs}").status_code == 404
    assert client.post(f"/cabinet/pay/orders/{theirs}").status_code == 404
    assert client.get("/cabinet/pay/orders/999999").status_code == 404
    assert "33.00" not in client.get("/cabinet/pay").text
    # without a login the page asks for one
    stranger = gateway_app.test_client().get(f"/cabinet/pay/orders/{theirs}")
    assert stranger.status_code == 302 and "/cabinet/login" in stranger.headers["Location"]


def test_without_frontend_backends_nothing_is_offered(client, conn):
    _, name, password = subscriber(conn)
    cabinet_login(client, name, password)
    page = client.get("/cabinet/pay")
    assert page.status_code == 200 and 'id="cabinet-pay-unavailable"' in page.text
    token = csrf_token(page.text)  # the logout form's
    for url in ("/cabinet/pay", "/cabinet/pay/qiwi"):
        assert client.post(url, data={"csrf_token": token}).status_code == 404


@pytest.fixture
def qiwi(gateway_app):
    fake = FakeQiwi().start()
    _backends(gateway_app)["payments.qiwiru"].update(GATEWAY_URL=fake.url, TIMEOUT=3)
    yield fake
    fake.stop()


def test_a_qiwi_invoice_is_issued_once_to_the_phone(gateway_app, conn, payer, qiwi):
    account_id, client = payer
    page = client.get("/cabinet/pay")
    assert "from 100.00" in page.text  # the guide's MIN_SUM
    small = _submit(client, {"phone": "9161234567", "amount": "50"}, "/cabinet/pay/qiwi")
    assert "At least 100.00." in small.text
    bad = _submit(client, {"phone": "12345", "amount": "150"}, "/cabinet/pay/qiwi")
    assert "A QIWI Wallet is a Russian mobile number" in bad.text
    assert _orders(conn, account_id) == [] and qiwi.received == []
    data = {"phone": "+7 916 123-45-67", "amount": "150", **_form(client, "/cabinet/pay/qiwi")}
    issued = client.post("/cabinet/pay/qiwi", data=data)
    again = client.post("/cabinet/pay/qiwi", data=data)
    order_id = _order_id(conn, account_id)
    assert issued.status_code == again.status_code == 303
    assert issued.headers["Location"] == again.headers["Location"]
    assert issued.headers["Location"].endswith(f"/cabinet/pay/orders/{order_id}")
    assert len(qiwi.received) == 1
    assert _orders(conn, account_id) == [("payments.qiwiru", Decimal("150.00"), "pending")]
    shown = client.get(f"/cabinet/pay/orders/{order_id}").text
    assert "The invoice waits in your QIWI Wallet 9161234567" in shown


def test_a_qiwi_refusal_is_shown(gateway_app, conn, payer, qiwi):
    account_id, client = payer
    qiwi.create_code = 241
    page = _submit(client, {"phone": "9161234567", "amount": "150"}, "/cabinet/pay/qiwi")
    assert 'id="cabinet-qiwi-refused"' in page.text
    assert _orders(conn, account_id) == [("payments.qiwiru", Decimal("150.00"),
                                          "cancelled")]


@pytest.fixture
def served(gateway_app):
    """The app on a free port of 127.0.0.1, for the fake provider to call back."""
    server = make_server("127.0.0.1", free_port(), gateway_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(10)


def test_the_local_wallet_one_pays_an_order_over_http(gateway_app, conn, served):
    settings = _backends(gateway_app)[w1ru.NAME]
    fake = FakeWalletOne(callback_url=served + "/payments.w1ru/w1ru/postback/",
                         merchant_id=W1_MERCHANT, secret=W1_SECRET).start()
    try:
        settings.update(GATEWAY_URL=fake.url, allowed_ip=("127.0.0.1",))
        account_id, name, password = subscriber(conn)
        browser = requests.Session()
        login = browser.get(served + "/cabinet/login")
        browser.post(served + "/cabinet/login", data={
            "username": name, "password": password, "csrf_token": csrf_token(login.text)})
        page = browser.get(served + "/cabinet/pay")
        shown = browser.post(served + "/cabinet/pay", data={
            "backend": w1ru.NAME, "amount": "250", "csrf_token": csrf_token(page.text),
            "nonce": re.search(r'name="nonce" value="(\w+)"', page.text).group(1)})
        assert f"form-action 'self' {fake.origin};" in shown.headers["Content-Security-Policy"]
        action, fields = _signed(shown.text)
        assert action == fake.url
        checkout = requests.post(action, data=urlencode(fields).encode(),
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert checkout.status_code == 200 and 'id="fake-w1-pay"' in checkout.text
        [order] = fake.orders
        assert order.signed and order.fields == fields
        order_id = _order_id(conn, account_id)
        assert 'data-state="pending"' in browser.get(
            f"{served}/cabinet/pay/orders/{order_id}").text
        paid = requests.post(f"{fake.origin}/pay/{order.number}", allow_redirects=False)
        assert paid.status_code == 303
        assert paid.headers["Location"] == f"{served}/cabinet/pay/orders/{order_id}"
        [sent] = fake.notifications
        assert (sent.status, sent.answer) == (200, "WMI_RESULT=OK")
        back = browser.get(paid.headers["Location"])
        assert 'id="cabinet-pay-state" data-state="paid"' in back.text
        assert credited(conn, account_id) == Decimal("250.00")
        # a forged form is refused by the fake as Wallet One refuses it
        forged = [(n, "1.00" if n == "WMI_PAYMENT_AMOUNT" else v) for n, v in fields]
        assert requests.post(action, data=forged).status_code == 400
    finally:
        fake.stop()
