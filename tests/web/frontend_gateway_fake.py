"""Wallet One's checkout on 127.0.0.1, for a browser to pay through: it takes the
cabinet's signed form, shows a page with a "Pay" button, and on a click posts Wallet
One's signed payment notification to our callback and sends the browser back to the
order's ``WMI_SUCCESS_URL``. Wallet One itself is on the internet; the cabinet's tests
must not be.

Use::

    fake = FakeWalletOne(callback_url=stack.url + "/payments.w1ru/w1ru/postback/",
                         merchant_id="163789612661",
                         secret="MFVSdmZNajdBRXdcWmE3Z191cjBLWFJsZjhb").start()
    # the operator's settings: payments.w1ru's GATEWAY_URL = fake.url, and an
    # allowed_ip that lets 127.0.0.1 in (the notification comes from there)
    ...
    fake.stop()

``start()`` binds a free port of 127.0.0.1 and returns the fake; ``url`` is the checkout
URL (``http://127.0.0.1:<port>/checkout/checkout/Index``, Wallet One's path) and
``origin`` its origin, which the Pay page's Content-Security-Policy must name;
``stop()`` closes it. ``orders`` lists each form received (its fields as posted, and
whether its signature was right); ``notifications`` each notification sent with our
callback's answer (status and body). A form whose signature is wrong is answered 400
with the page ``id="fake-w1-error"``, as Wallet One refuses it.

The browser's elements: the checkout page's ``id="fake-w1-pay"`` (pay: notify, then 303
to WMI_SUCCESS_URL) and ``id="fake-w1-cancel"`` (303 to WMI_FAIL_URL, nothing sent);
``id="fake-w1-amount"`` shows the sum. The page after a callback that did not answer
``WMI_RESULT=OK`` is ``id="fake-w1-refused"`` with the answer, instead of the redirect.

The notification is built as Wallet One documents it ("Processing of the payment result
notification", ../shared/PAYMENTS.md): the order's fields as the form carried them, with
``WMI_TO_USER_ID``, ``WMI_ORDER_ID`` (Wallet One's number), ``WMI_COMMISSION_AMOUNT``,
``WMI_CREATE_DATE``, ``WMI_UPDATE_DATE`` and ``WMI_ORDER_STATE=Accepted``, signed by the
same rule as the form (MD5 or SHA1 of the values ordered by name, the secret appended,
windows-1251 bytes, Base64), posted as ``application/x-www-form-urlencoded`` in
windows-1251.
"""

from __future__ import annotations

import html
import itertools
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode

from billing.gateways import w1ru
from billing.gateways.base import same_secret
from stack.servers.base import free_port

CHECKOUT_PATH = "/checkout/checkout/Index"
OK = "WMI_RESULT=OK"


@dataclass
class Order:
    number: str  # Wallet One's WMI_ORDER_ID
    fields: list[tuple[str, str]]
    signed: bool
    paid: bool = False

    def value(self, name: str) -> str:
        return dict(self.fields).get(name, "")


@dataclass
class Sent:
    order: str
    fields: list[tuple[str, str]]
    status: int
    answer: str


@dataclass
class FakeWalletOne:
    callback_url: str
    merchant_id: str
    secret: str
    signature_method: str = "MD5"
    port: int = field(default_factory=free_port)
    orders: list[Order] = field(default_factory=list)
    notifications: list[Sent] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _numbers: itertools.count = field(default_factory=lambda: itertools.count(337428219466))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return self.origin + CHECKOUT_PATH

    def start(self) -> FakeWalletOne:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path == CHECKOUT_PATH:
                    fake._checkout(self, _form_fields(body, self.headers))
                elif self.path.startswith("/pay/") or self.path.startswith("/cancel/"):
                    action, number = self.path.strip("/").split("/", 1)
                    fake._finish(self, number, paid=action == "pay")
                else:
                    _answer(self, 404, "<p>no such page</p>")

            def do_GET(self):  # a browser's favicon and the like
                _answer(self, 404, "<p>no such page</p>")

            def log_message(self, *_args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # -- the two pages ---------------------------------------------------------------

    def _checkout(self, handler, fields: list[tuple[str, str]]) -> None:
        given = [value for name, value in fields if name == "WMI_SIGNATURE"]
        signed = (len(given) == 1 and dict(fields).get("WMI_MERCHANT_ID") == self.merchant_id
                  and same_secret(given[0], w1ru.signature(fields, self.secret,
                                                           self.signature_method)))
        with self._lock:
            order = Order(str(next(self._numbers)), fields, signed)
            self.orders.append(order)
        if not signed:
            _answer(handler, 400, '<p id="fake-w1-error">Wallet One: the form\'s signature '
                    "is wrong (WMI_SIGNATURE)</p>")
            return
        amount = html.escape(order.value("WMI_PAYMENT_AMOUNT"))
        number = html.escape(order.number)
        _answer(handler, 200, f"""<h1>Wallet One (test)</h1>
<p>Order {html.escape(order.value("WMI_PAYMENT_NO"))}:
<span id="fake-w1-amount">{amount}</span></p>
<form method="post" action="/pay/{number}"><button id="fake-w1-pay">Pay</button></form>
<form method="post" action="/cancel/{number}"><button id="fake-w1-cancel">Cancel</button></form>""")

    def _finish(self, handler, number: str, paid: bool) -> None:
        order = next((o for o in self.orders if o.number == number and o.signed), None)
        if order is None:
            _answer(handler, 404, "<p>no such order</p>")
            return
        if not paid:
            _redirect(handler, order.value("WMI_FAIL_URL"))
            return
        sent = self.notify(order)
        if sent.status != 200 or sent.answer != OK:
            _answer(handler, 502, f'<p id="fake-w1-refused">{html.escape(sent.answer)}</p>')
            return
        order.paid = True
        _redirect(handler, order.value("WMI_SUCCESS_URL"))

    # -- the notification --------------------------------------------------------------

    def notification(self, order: Order, state: str = "Accepted") -> list[tuple[str, str]]:
        """The fields Wallet One posts for ``order``, signed."""
        now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
        fields = [(name, value) for name, value in order.fields if name != "WMI_SIGNATURE"]
        fields += [("WMI_TO_USER_ID", "103838393920"), ("WMI_ORDER_ID", order.number),
                   ("WMI_COMMISSION_AMOUNT", "0.00"), ("WMI_CREATE_DATE", now),
                   ("WMI_UPDATE_DATE", now), ("WMI_ORDER_STATE", state)]
        return [*fields, ("WMI_SIGNATURE", w1ru.signature(fields, self.secret,
                                                           self.signature_method))]

    def notify(self, order: Order, state: str = "Accepted") -> Sent:
        """Post the notification to our callback, as Wallet One's server does."""
        fields = self.notification(order, state)
        request = urllib.request.Request(
            self.callback_url, method="POST",
            data=urlencode(fields, encoding="windows-1251").encode("ascii"),
            headers={"Content-Type": "application/x-www-form-urlencoded"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, answer = response.status, response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            status, answer = exc.code, exc.read().decode("utf-8", "replace")
        sent = Sent(order.number, fields, status, answer)
        with self._lock:
            self.notifications.append(sent)
        return sent


def _form_fields(body: bytes, headers) -> list[tuple[str, str]]:
    """The form as posted: the cabinet's form says accept-charset utf-8; a browser
    without it would post in the page's encoding, also UTF-8 here."""
    charset = "utf-8"
    content_type = headers.get("Content-Type", "")
    if "charset=" in content_type:
        charset = content_type.split("charset=", 1)[1].split(";")[0].strip() or charset
    return parse_qsl(body.decode("latin-1"), keep_blank_values=True, encoding=charset)


def _answer(handler, status: int, body: str) -> None:
    page = ("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Wallet One (test)"
            f"</title></head><body>{body}</body></html>").encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "text/html; charset=utf-8")
    handler.send_header("Content-Length", str(len(page)))
    handler.end_headers()
    handler.wfile.write(page)


def _redirect(handler, location: str) -> None:
    handler.send_response(303)
    handler.send_header("Location", location)
    handler.send_header("Content-Length", "0")
    handler.end_headers()
