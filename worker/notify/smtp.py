"""E-mail over SMTP (``SMTP_*`` settings): STARTTLS on 587, TLS from the first byte on
465 (``SMTP_SECURITY = "ssl"``), or plain for a relay on the same host.

smtplib speaks RFC 5321; what the server answers decides the fate as for an SMS gateway:
a 4xx reply, a dropped or refused connection and a timeout are "later" (the message is
tried again), a 5xx reply, a refused login and a certificate that does not verify are
refusals (failed, the reply kept). The Message-ID we give the mail is its provider id.
"""

from __future__ import annotations

import contextlib
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from worker.notify.base import Http, Outgoing, Result, failed, retry

status = None  # SMTP tells nothing of delivery after the server took the mail


def _context(config: dict) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=config.get("CA_FILE") or None)


def _mail(message: Outgoing, config: dict) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = config["FROM"]
    mail["To"] = message.recipient
    mail["Subject"] = message.subject
    mail["Date"] = formatdate(localtime=False, usegmt=True)
    domain = str(config["FROM"]).rpartition("@")[2] or None
    mail["Message-ID"] = make_msgid(idstring=str(message.id), domain=domain)
    mail.set_content(message.body)
    return mail


def _reply(code: int, text) -> str:
    return f"{code} {text.decode(errors='replace') if isinstance(text, bytes) else text}"


def send(message: Outgoing, config: dict, http: Http) -> Result:
    if not config.get("HOST"):
        return failed("", "no SMTP_HOST: e-mail is not configured")
    mail = _mail(message, config)
    security = config.get("SECURITY", "starttls")
    host, port, timeout = config["HOST"], int(config.get("PORT") or 0), http.timeout
    try:
        if security == "ssl":
            server = smtplib.SMTP_SSL(host, port, timeout=timeout, context=_context(config))
        else:
            server = smtplib.SMTP(host, port, timeout=timeout)
        try:
            if security == "starttls":
                server.starttls(context=_context(config))
            if config.get("USER"):
                server.login(str(config["USER"]), str(config.get("PASSWORD") or ""))
            refused = server.send_message(mail)
        finally:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                server.quit()
    except smtplib.SMTPRecipientsRefused as exc:
        code, text = next(iter(exc.recipients.values()))
        return _by_code(code, _reply(code, text), "the server refused the recipient")
    except smtplib.SMTPAuthenticationError as exc:
        return failed(_reply(exc.smtp_code, exc.smtp_error), "the SMTP login was refused")
    except smtplib.SMTPNotSupportedError as exc:
        return failed(str(exc), f"the SMTP server does not offer what {security} needs")
    except smtplib.SMTPResponseException as exc:
        return _by_code(exc.smtp_code, _reply(exc.smtp_code, exc.smtp_error),
                        "the SMTP server refused the mail")
    except ssl.SSLError as exc:
        return failed(str(exc), f"TLS with {host} failed: {exc.reason or exc}")
    except (smtplib.SMTPException, OSError) as exc:
        return retry(str(exc), f"SMTP {host}:{port} unreachable: {exc}")
    if refused:
        code, text = next(iter(refused.values()))
        return _by_code(code, _reply(code, text), "the server refused the recipient")
    return Result("sent", f"250 accepted {mail['Message-ID']}",
                  provider_id=mail["Message-ID"], status="accepted")


def _by_code(code: int, answer: str, what: str) -> Result:
    if 400 <= code < 500:
        return retry(answer, f"{what} for now ({code})")
    return failed(answer, f"{what} ({code})")
