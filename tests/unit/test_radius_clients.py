"""NAS clients rendering (stack/radius_clients.py) and rlm_ebs's outage log, without
servers: the text ``ebs up`` and ``ebs.nas_changed`` both write, and the throttle that
keeps a database outage from flooding FreeRADIUS's log."""

from __future__ import annotations

import os
from zoneinfo import ZoneInfo

import pytest

from rlm_ebs import core
from stack.radius_clients import (
    ClientError,
    RadiusClient,
    clients_conf,
    clients_file_current,
)


def test_every_client_requires_message_authenticator_with_its_own_secret():
    text = clients_conf([RadiusClient("nas1", "192.0.2.1", "first-secret"),
                         RadiusClient("nas2", "198.51.100.0/24", "second-secret")])
    blocks = text.split("client ")[1:]
    assert len(blocks) == 2
    assert all("require_message_authenticator = yes" in b for b in blocks)
    assert 'secret = "first-secret"' in blocks[0] and "ipaddr = 192.0.2.1" in blocks[0]
    assert 'secret = "second-secret"' in blocks[1] and "198.51.100.0/24" in blocks[1]
    assert "{{" not in text


@pytest.mark.parametrize("client", [
    RadiusClient("bad name", "192.0.2.1", "secret-1"),
    RadiusClient("nas1", "not-an-ip", "secret-1"),
    RadiusClient("nas1", "192.0.2.1", 'quo"te'),
    RadiusClient("nas1", "192.0.2.1", "${confdir}"),
    RadiusClient("nas1", "192.0.2.1", "back\\slash"),
    RadiusClient("nas1", "192.0.2.1", "секрет"),
])
def test_a_client_freeradius_could_not_read_is_refused(client):
    with pytest.raises(ClientError):
        clients_conf([client])


def test_current_means_same_text_and_written_before_the_server_started(tmp_path):
    text = clients_conf([RadiusClient("nas1", "192.0.2.1", "first-secret")])
    (tmp_path / "run").mkdir()
    assert not clients_file_current(tmp_path, text)  # nothing rendered yet
    (tmp_path / "clients.conf").write_text(text)
    pidfile = tmp_path / "run" / "radiusd.pid"
    pidfile.write_text("1\n")
    conf_ns = (tmp_path / "clients.conf").stat().st_mtime_ns
    os.utime(pidfile, ns=(conf_ns + 10**9, conf_ns + 10**9))
    assert clients_file_current(tmp_path, text)
    assert not clients_file_current(tmp_path, text.replace("first", "other"))
    os.utime(tmp_path / "clients.conf", ns=(conf_ns + 2 * 10**9, conf_ns + 2 * 10**9))
    assert not clients_file_current(tmp_path, text)  # written, restart lost


def test_an_outage_is_logged_once_then_counted_then_its_end():
    lines: list[str] = []
    settings = core.Settings(tz=ZoneInfo("UTC"))
    settings.outage.every = 3600.0
    outage = {"request": (("User-Name", "alice"),),
              "config": (("EBS-Reason", "db_unavailable"), ("EBS-Decision", "reject"))}
    for _ in range(1000):
        code, updates = core.authorize(outage, settings, lines.append)
        assert code == core.REJECT
        assert dict(updates["config"])["EBS-Reason"] == "db_unavailable"
    assert len(lines) == 1 and "database unavailable" in lines[0] and "alice" in lines[0]
    core.authorize({"request": (("User-Name", "bob"),), "config": ()}, settings, lines.append)
    assert len(lines) == 2 and "available again (999 more" in lines[1]
    core.authorize({"request": (("User-Name", "bob"),), "config": ()}, settings, lines.append)
    assert len(lines) == 2
