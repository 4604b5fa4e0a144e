"""ExpertBilling 1.5's SMS settings as its guide prints them ("SMS рассылка"), line
breaks restored as they stand in an operator's settings_local.py; the tests' settings
add lines after them that point the gateways at local fakes (``URL``)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from billing import settings as settings_mod

GUIDE_SMS_TEXT = """
SENDSMS_BACKENDS = (
    ('sendsms.backends.websms.SmsBackend', 'websms.ru'),
    ('sendsms.backends.smsru.SmsBackend', 'sms.ru'),
)
SENDSMS_BACKENDS_SETTINGS = {
    'sendsms.backends.websms': {
        'FROM_NAME': '', # http://websms.ru/FromName.asp
        'USERNAME': '',
        'PASSWORD': '',
    },
    'sendsms.backends.smsru': {
        'FROM_NAME': '',
        'API_ID': '',
        'TRANSLIT': '1',
        'TEST': '0',
        'PARTNER_ID': '',
    },
    'sendsms.backends.smspilotru': {
        'FROM_NAME': '',
        'API_ID': '',
    }
}
SENDSMS_IF_BALLANCE_AMOUNT = 0
SENDSMS_DEFAULT_BACKEND = 'sendsms.backends.websms.SmsBackend'
"""


def load_with(tmp_path: Path, extra: str = "", environ: dict | None = None) -> SimpleNamespace:
    """Settings from a settings_local.py holding the guide's lines and then ``extra``."""
    path = tmp_path / "settings_local.py"
    path.write_text(GUIDE_SMS_TEXT + extra, encoding="utf-8")
    return settings_mod.load({**(environ or {}), "EBS_SETTINGS": str(path)})
