"""E-mail through a local SMTP server (aiosmtpd): STARTTLS with a certificate made for
the test and checked against SMTP_CA_FILE, the mail as it arrived, the Message-ID kept;
a 5xx refusal fails, a 4xx is tried again, a certificate that does not verify fails and
nothing is sent in clear."""

from __future__ import annotations

from email import message_from_bytes
from email.policy import default

import pytest

from tests.integration.notify_helpers import NOW, attempts, queue, row
from tests.notify_fakes import FakeSmtp, self_signed
from tests.sms_guide import load_with
from worker.notify import sender


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    return self_signed(tmp_path_factory.mktemp("smtp-tls"))


@pytest.fixture
def smtp(certificate):
    server = FakeSmtp(*certificate).start()
    try:
        yield server
    finally:
        server.stop()


def _settings(tmp_path, smtp, ca_file, security: str = "starttls") -> object:
    return load_with(tmp_path, f"""
SMTP_HOST = '127.0.0.1'
SMTP_PORT = {smtp.port}
SMTP_SECURITY = '{security}'
SMTP_FROM = 'billing@isp.example'
SMTP_CA_FILE = '{ca_file}'
SENDSMS_TIMEOUT_SECONDS = 5
""")


def test_a_mail_goes_over_starttls_and_its_message_id_is_kept(conn, tmp_path, smtp,
                                                              certificate):
    settings = _settings(tmp_path, smtp, certificate[0])
    message = queue(conn, "m1", "email", recipient="subscriber@example.net",
                    subject="Низкий баланс", body="Баланс 10.00 руб.\nПополните счёт.")
    assert sender.send_due(conn, NOW, settings).sent == 1
    [mail] = smtp.mails
    assert mail.tls  # the mail went after STARTTLS
    assert (mail.mail_from, mail.rcpt_tos) == ("billing@isp.example",
                                               ["subscriber@example.net"])
    parsed = message_from_bytes(mail.data, policy=default)
    assert parsed["Subject"] == "Низкий баланс" and parsed["To"] == "subscriber@example.net"
    assert parsed.get_content() == "Баланс 10.00 руб.\r\nПополните счёт.\r\n"  # SMTP CRLF
    got = row(conn, message)
    assert got["state"] == "sent" and got["provider_id"] == parsed["Message-ID"]
    assert got["provider_id"].endswith("@isp.example>")


@pytest.mark.parametrize(("mode", "state", "said"), [
    ("refuse", "failed", "550"), ("later", "queued", "451")])
def test_the_servers_reply_decides_failed_or_later(conn, tmp_path, smtp, certificate, mode,
                                                   state, said):
    settings = _settings(tmp_path, smtp, certificate[0])
    smtp.mode = mode
    message = queue(conn, "m1", "email", recipient="subscriber@example.net", subject="x")
    sender.send_due(conn, NOW, settings)
    got = row(conn, message)
    assert got["state"] == state and said in got["error"]
    assert said in attempts(conn, message)[0][1]
    assert smtp.mails == []


def test_a_certificate_that_does_not_verify_sends_nothing(conn, tmp_path, smtp):
    settings = _settings(tmp_path, smtp, "")  # the system's CAs: the test's is not there
    message = queue(conn, "m1", "email", recipient="subscriber@example.net", subject="x")
    assert sender.send_due(conn, NOW, settings).failed == 1
    assert "TLS with 127.0.0.1 failed" in row(conn, message)["error"]
    assert smtp.mails == []


def test_an_address_without_at_fails_without_a_connection(conn, tmp_path, smtp, certificate):
    settings = _settings(tmp_path, smtp, certificate[0])
    message = queue(conn, "m1", "email", recipient="subscriber.example.net", subject="x")
    assert sender.send_due(conn, NOW, settings).failed == 1
    assert "is not an e-mail address" in row(conn, message)["error"]


def test_ssl_speaks_tls_from_the_first_byte(conn, tmp_path, certificate):
    server = FakeSmtp(*certificate, implicit_tls=True).start()
    try:
        settings = _settings(tmp_path, server, certificate[0], security="ssl")
        message = queue(conn, "m1", "email", recipient="subscriber@example.net", subject="x")
        assert sender.send_due(conn, NOW, settings).sent == 1
        assert [m.rcpt_tos for m in server.mails] == [["subscriber@example.net"]]
        assert row(conn, message)["state"] == "sent"
    finally:
        server.stop()
