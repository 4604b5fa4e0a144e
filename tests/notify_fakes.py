"""Local stand-ins for the SMS gateways and an SMTP server, on 127.0.0.1 and free ports.

Each gateway answers as its published description shows (worker/notify/<provider>.py
names the document) and keeps every request's bytes, so a test compares what we sent
byte for byte and counts how many times a message reached the "provider". ``mode`` turns
a gateway into a broken one: ``refuse`` (its refusal for the message), ``auth`` (wrong
credentials), ``later`` (its "try later"), ``5xx``, ``garbage`` (a 200 with an HTML page),
``slow`` (answers after ``delay`` seconds).
"""

from __future__ import annotations

import json
import ssl
import subprocess
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from stack.servers.base import free_port


@dataclass
class Received:
    method: str
    path: str
    content_type: str
    body: bytes

    def form(self, encoding: str = "utf-8") -> dict[str, str]:
        return dict(urllib.parse.parse_qsl(self.body.decode("ascii"), encoding=encoding,
                                           keep_blank_values=True))


@dataclass
class FakeGateway:
    """The HTTP side shared by the three fakes; ``answer`` is each one's protocol."""

    port: int = field(default_factory=free_port)
    mode: str = "ok"
    delay: float = 0.0
    received: list[Received] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                request = Received("POST", self.path, self.headers.get("Content-Type", ""),
                                   body)
                with fake._lock:
                    fake.received.append(request)
                if fake.mode == "slow":
                    time.sleep(fake.delay)
                status, content_type, answer = fake.reply(request)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except OSError:  # the client gave up waiting (the slow mode)
                    pass

            def log_message(self, *_args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def reply(self, request: Received) -> tuple[int, str, bytes]:
        if self.mode == "5xx":
            return 503, "text/html", b"<html><body>503 Service Unavailable</body></html>"
        if self.mode == "garbage":
            return 200, "text/html", b"<html><body>Welcome to nginx!</body></html>"
        return self.answer(request)

    def answer(self, request: Received) -> tuple[int, str, bytes]:
        raise NotImplementedError

    def sends(self) -> list[Received]:
        with self._lock:
            return [r for r in self.received if self.is_send(r)]

    def is_send(self, request: Received) -> bool:
        return True


def _json(data: dict) -> tuple[int, str, bytes]:
    return 200, "application/json; charset=utf-8", json.dumps(
        data, ensure_ascii=False, default=str).encode("utf-8")


@dataclass
class FakeSmsRu(FakeGateway):
    """sms.ru's /sms/send and /sms/status with ``json=1`` (https://sms.ru/api/send,
    https://sms.ru/api/status). ``api_id`` is the only key it takes."""

    api_id: str = "A3CA597E-3ACF-4E7D-82EE-CF82B52B1A8B"
    status_code: int = 103
    _next: int = 10000000

    def is_send(self, request: Received) -> bool:
        return request.path == "/sms/send"

    def answer(self, request: Received):
        form = request.form()
        if form.get("api_id") != self.api_id or self.mode == "auth":
            return _json({"status": "ERROR", "status_code": 200,
                          "status_text": "Неправильный api_id"})
        if self.mode == "later":
            return _json({"status": "ERROR", "status_code": 220,
                          "status_text": "Сервис временно недоступен, попробуйте чуть позже"})
        if request.path == "/sms/status":
            sms_id = form["sms_id"]
            return _json({"status": "OK", "status_code": 100, "sms": {sms_id: {
                "status": "OK", "status_code": self.status_code, "cost": Decimal("0.50"),
                "status_text": "Сообщение доставлено" if self.status_code == 103
                else "Не может быть доставлено: телефон абонента не доступен"}}})
        to = form["to"]
        if self.mode == "refuse":
            one = {"status": "ERROR", "status_code": 207,
                   "status_text": "На этот номер (или один из номеров) нельзя отправлять "
                                  "сообщения, либо указано более 100 номеров в списке "
                                  "получателей"}
        else:
            with self._lock:
                self._next += 1
                one = {"status": "OK", "status_code": 100, "sms_id": f"000000-{self._next}"}
        return _json({"status": "OK", "status_code": 100, "sms": {to: one},
                      "balance": Decimal("4122.56")})


@dataclass
class FakeWebSms(FakeGateway):
    """websms.ru's http_in5.asp with ``format=xml`` (the shape worker/notify/websms.py
    describes): windows-1251 both ways."""

    username: str = "isp"
    password: str = "secret"
    _next: int = 5000

    def answer(self, request: Received):
        form = request.form("cp1251")
        if (form.get("http_username"), form.get("http_password")) != (
                self.username, self.password) or self.mode == "auth":
            http_in = '<httpIn error_num="2"/>'
        elif self.mode == "refuse":
            http_in = '<httpIn error_num="3"/>'  # no money for the mailing
        else:
            with self._lock:
                self._next += 1
                message_id = self._next
            http_in = (f'<httpIn error_num="0"><sms message_id="{message_id}" '
                       f'message_phone="{form["phone_list"]}"/></httpIn>')
        body = ('<?xml version="1.0" encoding="windows-1251"?>\n'
                f"<XMLResponse>{http_in}</XMLResponse>")
        return 200, "text/xml; charset=windows-1251", body.encode("cp1251")


@dataclass
class FakeSmsPilot(FakeGateway):
    """smspilot.ru's API-2 (https://smspilot.ru/apikey.php?tab=api2): JSON in, JSON out."""

    apikey: str = "X" * 64
    status: int = 2
    _next: int = 10000

    def is_send(self, request: Received) -> bool:
        return b'"send"' in request.body

    def answer(self, request: Received):
        document = json.loads(request.body)
        if document.get("apikey") != self.apikey or self.mode == "auth":
            return _json({"error": {"code": "100", "description": "Invalid API key"}})
        if "check" in document:
            return _json({"check": [{"server_id": c["server_id"], "status": self.status}
                                    for c in document["check"]]})
        out = []
        for one in document["send"]:
            if self.mode == "refuse":
                out.append({"id": one.get("id"), "server_id": "", "to": one["to"],
                            "status": -1, "error": 211, "parts": 0, "price": 0})
                continue
            with self._lock:
                self._next += 1
                server_id = str(self._next)
            out.append({"id": one.get("id"), "server_id": server_id,
                        "from": one.get("from", "INFORM"), "to": one["to"],
                        "text": one["text"], "parts": 1, "status": 0, "error": 0,
                        "send_datetime": "", "country": "RU", "operator": "TELE2",
                        "price": Decimal("2.96")})
        return _json({"server_packet_id": "123456", "balance": Decimal("20006.97"),
                      "cost": Decimal("2.96"), "send": out})


# -- SMTP ---------------------------------------------------------------------------------

def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, made by openssl for this test only."""
    cert, key = directory / "smtp.crt", directory / "smtp.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True)
    return cert, key


@dataclass
class Mail:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    tls: bool


class FakeSmtp:
    """aiosmtpd on 127.0.0.1 keeping every mail; STARTTLS offered (and required) when a
    certificate is given, or TLS from the first byte (``implicit_tls``); ``refuse``
    answers 550 to RCPT, ``later`` 451."""

    def __init__(self, cert: Path | None = None, key: Path | None = None, *,
                 implicit_tls: bool = False) -> None:
        from aiosmtpd.controller import Controller

        self.port = free_port()
        self.mails: list[Mail] = []
        self.mode = "ok"
        fake = self

        class Handler:
            async def handle_RCPT(self, server, session, envelope, address, options):
                if fake.mode == "refuse":
                    return "550 5.1.1 mailbox unavailable"
                if fake.mode == "later":
                    return "451 4.3.0 try again later"
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, server, session, envelope):
                fake.mails.append(Mail(envelope.mail_from, list(envelope.rcpt_tos),
                                       envelope.original_content,
                                       session.ssl is not None))
                return "250 Message accepted for delivery"

        context = None
        if cert is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(str(cert), str(key))
        if implicit_tls:  # TLS from the first byte (port 465's way)
            self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port,
                                          ssl_context=context)
        else:
            self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port,
                                          tls_context=context,
                                          require_starttls=context is not None)

    def start(self) -> FakeSmtp:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()
