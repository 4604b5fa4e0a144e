"""An operator's settings_local.py with the guide's GETPAID lines, as printed, enables
every backend it names (the misspelt "payments.simplaterminal" too) and each one's
settings are read without a change; only an address-authenticated backend without an
allow-list stays closed, as the README says."""

from __future__ import annotations

from billing import gateways
from billing import settings as settings_mod
from billing.gateways.base import backend_config, source_allowed

# ExpertBilling 1.5's guide, "Платёжные системы", the example as printed there.
GUIDE_TEXT = """
GETPAID_BACKENDS = ('payments.easypay', 'payments.liqpay', 'payments.ru_sberbank', 'payments.w1ru', 'payments.qiwiru', 'payments.simplaterminal', )
GETPAID_BACKENDS_SETTINGS = {
    # Please provide your settings for backends
    'payments.liqpay' : {
        'TYPE': 'frontend',
        'DEFAULT_CURRENCY' : 'UAH',
        'MERCHANT_ID': 'i7444123444',
        'MERCHANT_SIGNATURE': 'LMoTlGet9IVubuNbBvKIZ0wNDdsluOLsIvdzd',
        'PAY_WAY': ('card', 'liqpay', 'delayed'),
        'EXPIRE_TIME': 36,
    },
    'payments.easypay' : {
        'TYPE': 'backend',
        'DEFAULT_CURRENCY' : 'UAH',
        'SERVICE_ID' : '1',
        'allowed_ip': ('93.183.196.28', '93.183.196.26'),
    },
    'payments.ru_sberbank' : {
        'TYPE': 'backend',
        'DEFAULT_CURRENCY' : 'RUB',
        'PASSWORD' : '12345',
        'allowed_ip': ('93.183.196.28', '93.183.196.26'),
    },
    'payments.w1ru' : {
        'TYPE': 'frontend',
        'DEFAULT_CURRENCY' : 'RUB',
        'MERCHANT_ID': '163789612661',
        'MERCHANT_PASSWORD': 'MFVSdmZNajdBRXdcWmE3Z191cjBLWFJsZjhb',
        #=======================================================================
        # 'PTENABLED':[
        #     'YandexMoneyRUB',
        #     'WebMoneyRUB',
        # ],
        #=======================================================================
        'PTDISABLED':[
        ],
        'allowed_ip': ('93.183.196.28', '93.183.196.26'),
        'EXPIRE_DAYS': 31,
    },
    'payments.qiwiru' : {
        'TYPE': 'frontend',
        'DEFAULT_CURRENCY' : 'RUB',
        'TERMINAL_ID' : '12345',
        'TERMINAL_PASSWORD' : '12345',
        'LIFETIME': 48,
        'ALARM_SMS': 0,
        'ACCEPT_CALL': 0,
        'MIN_SUM': 100,
    },
    'payments.masterplat' : {
        'TYPE': 'backend',
        'DEFAULT_CURRENCY' : 'RUB',
        'DUSER' : 'test',
        'DPASS': 'test',
    },
    'payments.simpleterminal' : {
        'TYPE': 'backend',
        'DEFAULT_CURRENCY' : 'RUB',
        'SECRET': '12345678901234567890hgh55g54',
    }
}
"""  # noqa: E501 (the guide's line, as printed)


def test_the_guides_lines_enable_every_backend_they_name(tmp_path):
    local = tmp_path / "settings_local.py"
    local.write_text(GUIDE_TEXT)
    settings = settings_mod.load(environ={"EBS_SETTINGS": str(local)})
    assert settings.GETPAID_BACKENDS == [
        "payments.easypay", "payments.liqpay", "payments.ru_sberbank", "payments.w1ru",
        "payments.qiwiru", "payments.simpleterminal"]
    for name in [*settings.GETPAID_BACKENDS, "payments.masterplat"]:
        module = gateways.BACKENDS[name]
        config = backend_config(name, settings)
        assert config.type == settings.GETPAID_BACKENDS_SETTINGS[name]["TYPE"]
        assert config.currency == settings.GETPAID_BACKENDS_SETTINGS[name]["DEFAULT_CURRENCY"]
        listed = config.allowed is not None
        assert source_allowed(config, "93.183.196.28", module.SOURCE_ONLY) == (
            listed or not module.SOURCE_ONLY), name
        assert source_allowed(config, "203.0.113.9", module.SOURCE_ONLY) == (
            not listed and not module.SOURCE_ONLY), name
    # QIWI's terminals prove nothing but their address: the guide's block (written for
    # invoices) has no allow-list, so the terminal URL stays closed until one is set.
    qiwi = backend_config("payments.qiwiru", settings)
    assert gateways.BACKENDS["payments.qiwiru"].SOURCE_ONLY and qiwi.allowed is None
