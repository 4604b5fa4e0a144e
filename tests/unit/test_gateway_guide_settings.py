"""An operator's settings_local.py with the guide's GETPAID lines, as printed, enables
every backend it names (the misspelt "payments.simplaterminal" too) and each one's
settings are read without a change; only an address-authenticated backend without an
allow-list stays closed, as the README says."""

from __future__ import annotations

from billing import gateways
from billing import settings as settings_mod
from billing.gateways.base import backend_config, source_allowed
from tests.web.gateway_helpers import GUIDE_TEXT


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
