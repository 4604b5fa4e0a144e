"""RADIUS_AUTH_MODE, RADIUS_NODE_NAME and RADIUS_THREADS: what the settings accept and
what each mode renders into FreeRADIUS's configuration (the servers run in
tests/system/test_radius_auth_spool.py and test_radius_leases.py)."""

from __future__ import annotations

import pytest

from billing import settings as settings_mod
from stack.local import Stack
from stack.servers.base import ServerError
from stack.servers.freeradius import FreeRadiusServer, threads_for_cores


def load(tmp_path, **env):
    (tmp_path / "none.py").write_text("")
    return settings_mod.load(environ={"EBS_SETTINGS": str(tmp_path / "none.py"),
                                      "EBS_STATE_DIR": str(tmp_path), **env})


@pytest.mark.parametrize(("name", "value", "says"), [
    ("EBS_RADIUS_AUTH_MODE", "fast", "RADIUS_AUTH_MODE must be 'live' or 'spool'"),
    ("EBS_RADIUS_ACCT_MODE", "batch", "RADIUS_ACCT_MODE must be 'live' or 'spool'"),
    ("EBS_RADIUS_NODE_NAME", "bras/1", "RADIUS_NODE_NAME"),
])
def test_a_mode_or_node_name_it_cannot_use_is_refused(tmp_path, name, value, says):
    with pytest.raises(settings_mod.SettingsError, match=says):
        load(tmp_path, **{name: value})


def test_the_local_stack_runs_the_spool_mode_under_its_node_name(tmp_path):
    radius = Stack(load(tmp_path, EBS_RADIUS_NODE_NAME="bras-1")).freeradius
    assert (radius.auth_mode, radius.node) == ("spool", "bras-1")
    assert radius.max_servers == threads_for_cores()
    live = Stack(load(tmp_path, EBS_RADIUS_AUTH_MODE="live", EBS_RADIUS_THREADS="12"))
    assert (live.freeradius.auth_mode, live.freeradius.max_servers) == ("live", 12)


def rendered(tmp_path, **fields) -> dict[str, str]:
    server = FreeRadiusServer(directory=tmp_path / "conf", auth_port=18120, acct_port=18130,
                              db_name="ebs", db_password="pw", **fields)
    server.render()
    return {name: (tmp_path / "conf" / name).read_text()
            for name in ("sites-enabled/ebs", "mods-enabled/ebs")}


def test_spool_mode_renders_the_node_the_refill_and_the_spool_line(tmp_path):
    files = rendered(tmp_path, auth_mode="spool", node_name="bras-1")
    assert 'node = "bras-1"' in files["mods-enabled/ebs"]
    assert "ebs_radius_reserve" in files["sites-enabled/ebs"]
    assert "ebs_auth_log_write" not in files["sites-enabled/ebs"]


def test_live_mode_renders_neither_node_nor_refill(tmp_path):
    files = rendered(tmp_path, auth_mode="live")
    assert 'node = ""' in files["mods-enabled/ebs"]
    assert "ebs_radius_reserve" not in files["sites-enabled/ebs"]


def test_an_unknown_auth_mode_or_a_slash_in_the_node_stops_the_render(tmp_path):
    for fields in ({"auth_mode": "fast"}, {"auth_mode": "spool", "node_name": "a/b"}):
        with pytest.raises(ServerError):
            rendered(tmp_path, **fields)


def test_threads_two_per_core_within_bounds():
    assert [threads_for_cores(n) for n in (1, 2, 8, 64)] == [4, 4, 16, 32]
