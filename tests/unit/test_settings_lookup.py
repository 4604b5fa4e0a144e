"""Settings: where the override file is looked for, the guide's two spellings of a payment
backend, and ``docs/settings.md`` agreeing with ``billing/settings.py`` setting by setting."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from billing import settings as settings_mod
from billing.settings import DEFAULTS, PROJECT_ROOT, SettingsError, load, settings_file

PAGE = PROJECT_ROOT / "docs" / "settings.md"
_ROW = re.compile(r"^\| `([A-Z][A-Z0-9_]*)` \| `([^`]*)` \| ([^|]+) \| ([^|]+) \|$")


def _table() -> dict[str, tuple[str, str, str]]:
    rows = {}
    for line in PAGE.read_text(encoding="utf-8").splitlines():
        match = _ROW.match(line)
        if match:
            name, default, meaning, alias = match.groups()
            assert name not in rows, f"{name} is listed twice"
            rows[name] = (default, meaning.strip(), alias.strip())
    return rows


def test_the_page_lists_every_setting_with_its_default():
    table = _table()
    assert sorted(table) == sorted(DEFAULTS), "docs/settings.md and billing/settings.py differ"
    for name, (default, meaning, alias) in table.items():
        value = ast.literal_eval(default.replace("<checkout>", str(PROJECT_ROOT)))
        assert value == DEFAULTS[name], f"{name}: the page says {default}"
        assert meaning and alias, f"{name} needs a meaning and an alias (or —)"


def test_the_guides_names_are_their_own_aliases():
    table = _table()
    for name in ("GETPAID_BACKENDS", "GETPAID_BACKENDS_SETTINGS", "SENDSMS_BACKENDS",
                 "SENDSMS_BACKENDS_SETTINGS", "SENDSMS_DEFAULT_BACKEND",
                 "SENDSMS_IF_BALLANCE_AMOUNT"):
        assert table[name][2] == f"`{name}`"
    assert "payments.simplaterminal" in table["GETPAID_BACKENDS"][1]


def test_the_readme_links_the_page():
    assert "(docs/settings.md)" in (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")


@pytest.fixture
def places(tmp_path, monkeypatch):
    """The system's and the checkout's file moved under tmp_path, neither there yet, and
    the current directory a third place holding a file of its own."""
    system, checkout, cwd = (tmp_path / d for d in ("etc", "checkout", "cwd"))
    for d in (system, checkout, cwd):
        d.mkdir()
    monkeypatch.setattr(settings_mod, "SYSTEM_SETTINGS", system / "settings_local.py")
    monkeypatch.setattr(settings_mod, "CHECKOUT_SETTINGS", checkout / "settings_local.py")
    (cwd / "settings_local.py").write_text("TIME_ZONE = 'Asia/Tokyo'\n")
    monkeypatch.chdir(cwd)
    return system / "settings_local.py", checkout / "settings_local.py", tmp_path


def test_ebs_settings_then_etc_then_the_checkout_never_the_current_directory(places):
    system, checkout, tmp = places
    assert settings_file({}) is None
    assert DEFAULTS["TIME_ZONE"] == load({}).TIME_ZONE  # ./settings_local.py is not read

    checkout.write_text("TIME_ZONE = 'Europe/Samara'\n")
    assert settings_file({}) == checkout and load({}).TIME_ZONE == "Europe/Samara"

    system.write_text("TIME_ZONE = 'Asia/Yekaterinburg'\n")
    assert settings_file({}) == system and load({}).TIME_ZONE == "Asia/Yekaterinburg"

    named = tmp / "named.py"
    named.write_text("TIME_ZONE = 'Europe/Kaliningrad'\n")
    env = {"EBS_SETTINGS": str(named)}
    assert settings_file(env) == named and load(env).TIME_ZONE == "Europe/Kaliningrad"
    assert load({**env, "EBS_TIME_ZONE": "Asia/Omsk"}).TIME_ZONE == "Asia/Omsk"

    with pytest.raises(SettingsError, match="from EBS_SETTINGS"):
        settings_file({"EBS_SETTINGS": str(tmp / "missing.py")})


def test_the_default_places_are_etc_and_the_checkout():
    assert Path("/etc/ebs/settings_local.py") == settings_mod.SYSTEM_SETTINGS
    assert settings_mod.CHECKOUT_SETTINGS == PROJECT_ROOT / "settings_local.py"
    assert (PROJECT_ROOT / "billing" / "settings.py").exists()


def test_both_spellings_of_simpleterminal_enable_one_backend(places):
    _, checkout, _ = places
    checkout.write_text(
        "GETPAID_BACKENDS = ('payments.qiwiru', 'payments.simplaterminal')\n"
        "GETPAID_BACKENDS_SETTINGS = {\n"
        "    'payments.qiwiru': {'TYPE': 'frontend'},\n"
        "    'payments.simplaterminal': {'TYPE': 'backend', 'SECRET': 's1'},\n"
        "}\n")
    loaded = load({})
    assert loaded.GETPAID_BACKENDS == ["payments.qiwiru", "payments.simpleterminal"]
    assert loaded.GETPAID_BACKENDS_SETTINGS == {
        "payments.qiwiru": {"TYPE": "frontend"},
        "payments.simpleterminal": {"TYPE": "backend", "SECRET": "s1"}}

    # The guide's own example: the typo in the list, the proper name in the settings.
    checkout.write_text(
        "GETPAID_BACKENDS = ('payments.simplaterminal', 'payments.simpleterminal')\n"
        "GETPAID_BACKENDS_SETTINGS = {\n"
        "    'payments.simpleterminal': {'SECRET': 'proper'},\n"
        "    'payments.simplaterminal': {'SECRET': 'alias'},\n"
        "}\n")
    loaded = load({})
    assert loaded.GETPAID_BACKENDS == ["payments.simpleterminal"]
    assert loaded.GETPAID_BACKENDS_SETTINGS == {"payments.simpleterminal": {"SECRET": "proper"}}
