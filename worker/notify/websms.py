"""websms.ru, the guide's ``sendsms.backends.websms`` (FROM_NAME, USERNAME, PASSWORD;
``URL`` for another address of the same interface).

websms.ru's own interface description ("HTTP-шлюз", ``http_in5.asp``) is handed to its
customers and was not found published; this follows the shape its public clients agree
on — the C# client in the ``SmsService`` example (``SmsWrapper.SendTo``) and the
Python ``_websms_flash_call`` of a public FastAPI project, read for the protocol only: a
form posted in windows-1251 with ``http_username``, ``http_password``, ``phone_list``
(digits, no "+"), ``message``, ``fromPhone`` and ``format=xml``, answered by an XML
document whose ``httpIn`` element carries ``error_num`` (0: accepted; 3: no money) and
whose ``sms`` element under it carries the ``message_id``. It offers no status query
there: delivery is not polled. (ExpertBilling 1.5's own backend posted an XML
``<message>`` to ``xml_in5.asp`` and kept only the answer's ``<state>`` text; the form
interface is the one with a documented-by-use answer we can act on.)
"""

from __future__ import annotations

from billing.gateways.safe_xml import XmlRefused, parse
from worker.notify.base import Http, Outgoing, Result, Unreachable, failed, http_failure, retry

URL = "https://cab.websms.ru/http_in5.asp"
ENCODING = "cp1251"
status = None  # no delivery status to poll


def send(message: Outgoing, config: dict, http: Http) -> Result:
    fields = {"http_username": str(config.get("USERNAME") or ""),
              "http_password": str(config.get("PASSWORD") or ""),
              "phone_list": message.digits, "message": message.body, "format": "xml"}
    if config.get("FROM_NAME"):
        fields["fromPhone"] = str(config["FROM_NAME"])
    try:
        answer = http.request("POST", str(config.get("URL") or URL), fields,
                              encoding=ENCODING)
    except Unreachable as exc:
        return retry("", str(exc))
    if (bad := http_failure(answer)) is not None:
        return bad
    text = answer.body.decode(ENCODING, errors="replace")
    try:
        root = parse(answer.body)
    except XmlRefused as exc:
        return retry(text, f"websms.ru answered no XML we read: {exc}")
    http_in = root if root.tag == "httpIn" else root.find(".//httpIn")
    if http_in is None or http_in.get("error_num") is None:
        return retry(text, "websms.ru's answer has no httpIn error_num")
    error = http_in.get("error_num", "").strip()
    if error != "0":
        return failed(text, f"websms.ru refused the message: error_num {error}")
    # error_num 0 is acceptance: without a message_id the message is still sent (trying
    # again could send it twice), only not traceable by its id
    sms = root.find(".//sms")
    message_id = (sms.get("message_id") or "").strip() if sms is not None else ""
    return Result("sent", text, provider_id=message_id or None, parts=message.parts,
                  status="accepted")
