"""The install stops on anything but Debian 12 with a message naming the system found,
before it changes anything: scripts/install.sh's gate (it runs before the root check, so
this runs as the test's account) and ``ebs install``'s own."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from stack.install import os_release

ROOT = Path(__file__).resolve().parents[2]
UBUNTU = 'PRETTY_NAME="Ubuntu 24.04.1 LTS"\nNAME="Ubuntu"\nID=ubuntu\nVERSION_ID="24.04"\n'
BULLSEYE = 'PRETTY_NAME="Debian GNU/Linux 11 (bullseye)"\nID=debian\nVERSION_ID="11"\n'
BOOKWORM = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n'


@pytest.mark.parametrize("text, name", [(UBUNTU, "Ubuntu 24.04.1 LTS"),
                                        (BULLSEYE, "Debian GNU/Linux 11 (bullseye)")])
def test_install_sh_stops_on_another_system(tmp_path, text, name):
    fake = tmp_path / "os-release"
    fake.write_text(text)
    result = subprocess.run(["bash", str(ROOT / "scripts/install.sh")], capture_output=True,
                            text=True, timeout=60, check=False,
                            env={**os.environ, "EBS_OS_RELEASE": str(fake)})
    assert result.returncode == 2
    assert f"this system is {name}" in result.stderr
    assert "supports Debian 12 (bookworm) only" in result.stderr
    assert "Nothing was changed" in result.stderr
    assert result.stdout == ""  # not a package looked at


def test_install_sh_stops_without_an_os_release(tmp_path):
    result = subprocess.run(["bash", str(ROOT / "scripts/install.sh")], capture_output=True,
                            text=True, timeout=60, check=False,
                            env={**os.environ, "EBS_OS_RELEASE": str(tmp_path / "missing")})
    assert result.returncode == 2
    assert "unknown (no readable" in result.stderr


def test_ebs_install_asks_too(tmp_path):
    fake = tmp_path / "os-release"
    fake.write_text(UBUNTU)
    with pytest.raises(os_release.UnsupportedSystem, match=r"Ubuntu 24\.04\.1 LTS .*Debian 12"):
        os_release.check(fake)
    fake.write_text(BULLSEYE)
    with pytest.raises(os_release.UnsupportedSystem, match="bullseye"):
        os_release.check(fake)
    fake.write_text(BOOKWORM)
    assert os_release.check(fake) == "Debian GNU/Linux 12 (bookworm)"
