"""Which services the commands act on (SERVICE_MANAGER), the daily backup's timer, and
reading systemctl's answer about several units at once. The units themselves run in
`make install-check`'s booted system (tests/install/test_booted.py)."""

from __future__ import annotations

import pytest

from billing import settings as settings_mod
from stack import installed
from stack.install.units import daily
from stack.local import Stack


def load(tmp_path, **env):
    (tmp_path / "none.py").write_text("")
    return settings_mod.load(environ={"EBS_SETTINGS": str(tmp_path / "none.py"),
                                      "EBS_STATE_DIR": str(tmp_path), **env})


def test_the_local_stack_unless_the_settings_say_systemd(tmp_path):
    assert isinstance(installed.services(load(tmp_path)), Stack)
    chosen = installed.services(load(tmp_path, EBS_SERVICE_MANAGER="systemd"))
    assert isinstance(chosen, installed.InstalledServices)
    assert isinstance(chosen.postgres, installed.SystemPostgres)


def test_an_unknown_service_manager_is_refused(tmp_path):
    with pytest.raises(settings_mod.SettingsError, match="SERVICE_MANAGER must be"):
        load(tmp_path, EBS_SERVICE_MANAGER="docker")


def test_the_daily_timer_runs_at_the_isps_time():
    unit = daily("ebs-backup", "the daily backup", "03:30", "Asia/Yekaterinburg")
    assert unit.name == "ebs-backup.timer"
    assert "OnCalendar=*-*-* 03:30:00 Asia/Yekaterinburg\n" in unit.text
    assert "Unit=ebs-backup.service" in unit.text and "Persistent=true" in unit.text
    for wrong in ("3:30", "24:00", "03:60", "0330"):
        with pytest.raises(ValueError, match="HH:MM"):
            daily("ebs-backup", "the daily backup", wrong, "UTC")


def test_unit_states_are_read_in_the_order_asked(monkeypatch):
    answer = ("Id=freeradius.service\nActiveState=active\nSubState=running\n\n"
              "Id=ebs-web.service\nActiveState=failed\nSubState=failed\n\n"
              "Id=ebs-radius-clients.path\nActiveState=active\nSubState=waiting\n")
    asked = []
    monkeypatch.setattr(installed, "systemctl", lambda *a: asked.append(a) or answer)
    states = installed.unit_states(
        ["freeradius.service", "ebs-web.service", "ebs-radius-clients.path"])
    assert states == {"freeradius.service": ("active", "running"),
                      "ebs-web.service": ("failed", "failed"),
                      "ebs-radius-clients.path": ("active", "waiting")}
    assert asked == [("show", "--property=Id,ActiveState,SubState", "freeradius.service",
                      "ebs-web.service", "ebs-radius-clients.path")]
