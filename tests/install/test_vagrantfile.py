"""The Vagrant box forwards what the installed system listens on: nginx's 443 and 80, and
the RADIUS and NetFlow ports of the settings the install writes; ``vagrant validate``
accepts the file where Debian's vagrant is installed."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from stack.install import settings_file

ROOT = Path(__file__).resolve().parents[2]
VAGRANTFILE = ROOT / "Vagrantfile"
_FORWARD = re.compile(r'forwarded_port", guest: (\d+), host: (\d+), host_ip: "127\.0\.0\.1"'
                      r'(?:, protocol: "(udp)")?')


def installed_setting(name: str) -> int:
    found = {}
    exec(compile(settings_file.TEXT, "settings_local.py", "exec"), found)
    return int(found[name])


def test_the_box_forwards_the_installed_ports():
    forwards = {(int(g), proto or "tcp"): int(h)
                for g, h, proto in _FORWARD.findall(VAGRANTFILE.read_text())}
    assert forwards == {
        (443, "tcp"): 8443,
        (80, "tcp"): 8080,
        (installed_setting("RADIUS_AUTH_PORT"), "udp"): 1812,
        (installed_setting("RADIUS_ACCT_PORT"), "udp"): 1813,
        (installed_setting("NETFLOW_PORT"), "udp"): 2055,
    }
    text = VAGRANTFILE.read_text()
    assert "scripts/install.sh" in text and "ebs demo --nas-ip" in text
    assert "ebs up" not in text  # the box runs the installed system, not the dev stack


@pytest.mark.skipif(shutil.which("vagrant") is None, reason="vagrant is not installed")
def test_vagrant_validate_accepts_the_file(tmp_path):
    box = tmp_path / "box"
    box.mkdir()
    shutil.copy(VAGRANTFILE, box / "Vagrantfile")
    result = subprocess.run(
        ["vagrant", "validate", "--ignore-provider"], cwd=box, capture_output=True,
        text=True, timeout=300, check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "VAGRANT_HOME": str(tmp_path / "vh"),
             "VAGRANT_CHECKPOINT_DISABLE": "1"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Vagrantfile validated successfully" in result.stdout
