"""The guide's SENDSMS_* lines load as printed and reach the right modules; a setting no
sender could use stops the load with its name."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.notifications import backends
from billing.settings import SettingsError
from tests.sms_guide import load_with


def test_the_guides_lines_load_unchanged(tmp_path):
    settings = load_with(tmp_path)
    assert settings.SENDSMS_BACKENDS == [("sendsms.backends.websms.SmsBackend", "websms.ru"),
                                         ("sendsms.backends.smsru.SmsBackend", "sms.ru")]
    assert Decimal("0.00") == settings.SENDSMS_IF_BALLANCE_AMOUNT
    assert backends.default_sms(settings) == "sendsms.backends.websms.SmsBackend"
    assert backends.enabled(settings) == ["sendsms.backends.websms.SmsBackend",
                                          "sendsms.backends.smsru.SmsBackend"]
    # each gateway gets its own entry, keyed by the module path as the guide keys it
    assert backends.config("sendsms.backends.smsru.SmsBackend", settings) == {
        "FROM_NAME": "", "API_ID": "", "TRANSLIT": "1", "TEST": "0", "PARTNER_ID": ""}
    assert backends.get("sendsms.backends.websms.SmsBackend").module == "worker.notify.websms"
    assert backends.get("sendsms.backends.smspilotru.SmsBackend").module == \
        "worker.notify.smspilot"


def test_email_is_enabled_by_an_smtp_host(tmp_path):
    settings = load_with(tmp_path, "SMTP_HOST = 'mail.example.net'\n"
                                   "SMTP_FROM = 'billing@example.net'\n")
    assert backends.enabled(settings)[-1] == backends.EMAIL
    assert backends.config(backends.EMAIL, settings)["HOST"] == "mail.example.net"


@pytest.mark.parametrize(("extra", "named"), [
    ("SENDSMS_BACKENDS = (('sendsms.backends.nosuch.SmsBackend', 'x'),)\n",
     "SENDSMS_BACKENDS: no SMS backend 'sendsms.backends.nosuch.SmsBackend'"),
    ("SENDSMS_BACKENDS = ('sendsms.backends.smsru.SmsBackend',)\n", "pairs"),
    ("SENDSMS_DEFAULT_BACKEND = 'smsru'\n", "SENDSMS_DEFAULT_BACKEND"),
    ("SENDSMS_BACKENDS_SETTINGS = {'sendsms.backends.smsru': 'key'}\n",
     "SENDSMS_BACKENDS_SETTINGS"),
    ("SENDSMS_IF_BALLANCE_AMOUNT = 10.5\n", "SENDSMS_IF_BALLANCE_AMOUNT"),
    ("SENDSMS_QUIET_HOURS = '22-9'\n", "SENDSMS_QUIET_HOURS"),
    ("SENDSMS_TOO_LONG = 'split'\n", "SENDSMS_TOO_LONG"),
    ("SENDSMS_MAX_PARTS = 0\n", "SENDSMS_MAX_PARTS"),
    ("SMTP_SECURITY = 'tls'\n", "SMTP_SECURITY"),
    ("SMTP_HOST = 'mail.example.net'\n", "SMTP_FROM"),
])
def test_a_setting_no_sender_could_use_is_refused_by_name(tmp_path, extra, named):
    with pytest.raises(SettingsError, match=named):
        load_with(tmp_path, extra)


def test_the_environment_may_set_the_threshold_as_text(tmp_path):
    settings = load_with(tmp_path, environ={"EBS_SENDSMS_IF_BALLANCE_AMOUNT": "50.00"})
    assert Decimal("50.00") == settings.SENDSMS_IF_BALLANCE_AMOUNT
