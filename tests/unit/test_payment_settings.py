"""PAYMENT_MAX_AMOUNT and PAYMENT_CONFIRM_ABOVE: read as Decimals, refused at load when
they are not positive sums of money or the threshold is above the maximum."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing import settings as settings_mod
from billing.settings import SettingsError, load


@pytest.fixture
def no_files(tmp_path, monkeypatch):
    monkeypatch.setattr(settings_mod, "SYSTEM_SETTINGS", tmp_path / "etc.py")
    monkeypatch.setattr(settings_mod, "CHECKOUT_SETTINGS", tmp_path / "checkout.py")
    return tmp_path


def test_the_defaults_are_decimals_with_the_threshold_below_the_maximum(no_files):
    loaded = load({})
    maximum, confirm_above = loaded.PAYMENT_MAX_AMOUNT, loaded.PAYMENT_CONFIRM_ABOVE
    assert (maximum, confirm_above) == (Decimal("100000.00"), Decimal("10000.00"))
    assert all(isinstance(v, str) for k, v in settings_mod.DEFAULTS.items()
               if k.startswith("PAYMENT_"))


def test_the_file_and_the_environment_set_them(no_files):
    named = no_files / "named.py"
    named.write_text("from decimal import Decimal\nPAYMENT_MAX_AMOUNT = Decimal('50000')\n"
                     "PAYMENT_CONFIRM_ABOVE = 5000\n")
    loaded = load({"EBS_SETTINGS": str(named)})
    maximum, confirm_above = loaded.PAYMENT_MAX_AMOUNT, loaded.PAYMENT_CONFIRM_ABOVE
    assert (maximum, confirm_above) == (Decimal("50000.00"), Decimal("5000.00"))
    confirm_above = load({"EBS_PAYMENT_CONFIRM_ABOVE": "2500.50"}).PAYMENT_CONFIRM_ABOVE
    assert confirm_above == Decimal("2500.50")


@pytest.mark.parametrize(("env", "words"), [
    ({"EBS_PAYMENT_MAX_AMOUNT": "lots"}, "PAYMENT_MAX_AMOUNT must be a sum of money"),
    ({"EBS_PAYMENT_MAX_AMOUNT": "0"}, "PAYMENT_MAX_AMOUNT must be above zero"),
    ({"EBS_PAYMENT_CONFIRM_ABOVE": "-5"}, "PAYMENT_CONFIRM_ABOVE must be above zero"),
    ({"EBS_PAYMENT_CONFIRM_ABOVE": "10.001"}, "PAYMENT_CONFIRM_ABOVE must be a sum"),
    ({"EBS_PAYMENT_MAX_AMOUNT": "5000"}, "PAYMENT_CONFIRM_ABOVE (10000.00) is above"),
])
def test_a_bad_amount_is_refused_at_load(no_files, env, words):
    with pytest.raises(SettingsError, match=words.replace("(", r"\(").replace(")", r"\)")):
        load(env)


def test_a_float_is_refused(no_files):
    named = no_files / "named.py"
    named.write_text("PAYMENT_MAX_AMOUNT = 100000.0\n")
    with pytest.raises(SettingsError, match="not a float"):
        load({"EBS_SETTINGS": str(named)})
