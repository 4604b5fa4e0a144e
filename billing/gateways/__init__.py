"""The payment gateways of ExpertBilling 1.5, one module each, by the guide's names.

Every module has the same shape (billing/gateways/base.py says which); the web app
routes each one's ``PATHS`` to it, stores each notification before the module sees it,
checks the source and answers in the provider's words (webapp/gateway_callbacks.py).
"""

from __future__ import annotations

from types import ModuleType

from billing.gateways import easypay, liqpay, masterplat, qiwiru, ru_sberbank, simpleterminal, w1ru

BACKENDS: dict[str, ModuleType] = {module.NAME: module for module in (
    simpleterminal,
    qiwiru,
    easypay,
    ru_sberbank,
    masterplat,
    w1ru,
    liqpay,
)}
