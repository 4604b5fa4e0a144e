"""The web app with payment backends enabled as an operator's settings_local.py would
enable them (the guide's names and keys), and what a test reads back."""

from __future__ import annotations

from decimal import Decimal

PROVIDER_IP = "93.183.196.28"  # the guide's example allowed_ip
STRANGER_IP = "203.0.113.9"
SECRET = "12345678901234567890hgh55g54"  # the guide's SimpleTerminal example

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

# An operator's settings_local.py: the guide's lines, and an allow-list for QIWI's
# terminals, which the guide's block (written for invoices) has none of.
GUIDE_FILE = GUIDE_TEXT + (
    f"GETPAID_BACKENDS_SETTINGS['payments.qiwiru']['allowed_ip'] = "
    f"('{PROVIDER_IP}', '93.183.196.26')\n")


def call(app, url: str, source: str = PROVIDER_IP, **kwargs):
    """One provider request from ``source``, through a fresh client (no cookies)."""
    client = app.test_client()
    method = kwargs.pop("method", "GET")
    return client.open(url, method=method, environ_base={"REMOTE_ADDR": source}, **kwargs)


def notifications(conn) -> list[tuple]:
    return conn.execute(
        "SELECT backend, host(source), method, query, outcome, answer_status"
        "  FROM gateway_notifications ORDER BY id").fetchall()


def credited(conn, account_id: int) -> Decimal:
    return conn.execute("SELECT coalesce(sum(amount), 0) FROM ledger_entries"
                        " WHERE account_id = %s", (account_id,)).fetchone()[0]
