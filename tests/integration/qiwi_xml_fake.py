"""QIWI's shop XML interface on 127.0.0.1, answering as "Протоколы для интернет-магазинов.
XML" (OnlineStoresProtocols_XML.pdf) shows: §1.2.2 for a new invoice, §1.5.2 for the
statuses of a list of them (its ``status ="…"`` spacing included). QIWI itself is on the
internet; this fake keeps every request's bytes for the test to compare."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from billing.gateways.safe_xml import parse
from stack.servers.base import free_port


@dataclass
class Bill:
    to_account: str
    amount: Decimal
    status: int = 50  # Appendix B: issued
    sum: str | None = None  # what the status answer says; None: the amount


@dataclass
class Received:
    path: str
    content_type: str
    body: bytes


@dataclass
class FakeQiwi:
    """``bills`` by txn-id; ``create_code`` answers the next creation (0: created);
    ``answer_raw`` / ``http_status`` replace every answer (a broken QIWI);
    ``unknown_is_210`` answers a status list naming an unknown invoice with 210 as a
    whole; ``lose_create_answer`` creates the invoice and answers nothing readable."""

    port: int = field(default_factory=free_port)
    bills: dict[str, Bill] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    create_code: int = 0
    answer_raw: bytes | None = None
    http_status: int = 200
    unknown_is_210: bool = False
    lose_create_answer: bool = False
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/xml"

    def start(self) -> FakeQiwi:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                fake.received.append(Received(self.path, self.headers.get("Content-Type", ""),
                                              body))
                status, answer = fake.answer(body)
                self.send_response(status)
                self.send_header("Content-Type", "text/xml; charset=utf-8")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

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

    def answer(self, body: bytes) -> tuple[int, bytes]:
        if self.answer_raw is not None or self.http_status != 200:
            return self.http_status, self.answer_raw or b""
        request = parse(body)
        kind = request.findtext("request-type")
        extras = {node.get("name"): node.text or "" for node in request.iterfind("extra")}
        if extras.get("password") != "12345" or request.findtext("terminal-id") != "12345":
            return 200, _response(150)
        if kind == "30":
            code, self.create_code = self.create_code, 0
            if code == 0 and extras["txn-id"] in self.bills:
                code = 215
            if code == 0:
                self.bills[extras["txn-id"]] = Bill(extras["to-account"],
                                                    Decimal(extras["amount"]))
            if self.lose_create_answer:
                return 200, b"<html>502 Bad Gateway</html>"
            return 200, _response(code)
        if kind == "33":
            asked = [node.get("txn-id") for node in request.iterfind("bills-list/bill")]
            if self.unknown_is_210 and any(txn not in self.bills for txn in asked):
                return 200, _response(210)
            lines = [f'<bill id="{txn}" status ="{bill.status}" '
                     f'sum="{bill.sum if bill.sum is not None else bill.amount}" />'
                     for txn in asked if (bill := self.bills.get(txn))]
            return 200, _response(0, ["<bills-list>", *lines, "</bills-list>"])
        return 200, _response(300)


def _response(code: int, lines: list[str] = ()) -> bytes:
    fatal = "false" if code == 0 else "true"
    return "\n".join(["<response>", f'<result-code fatal="{fatal}">{code}</result-code>',
                      *lines, "</response>"]).encode()
