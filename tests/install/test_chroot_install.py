"""The production install, as scripts/install-check.sh left it in a Debian 12 chroot: the
accounts, the secrets' owners and modes, FreeRADIUS's and nginx's own checks of the
configuration, the schema in the system PostgreSQL, every unit verified by systemd, and a
second run that changes nothing. Run by `make install-check` (as root); elsewhere there is
no chroot and these are skipped."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from billing.schema import available

CHROOT = os.environ.get("EBS_INSTALL_CHROOT", "")
pytestmark = pytest.mark.skipif(not CHROOT, reason="needs the chroot of make install-check")
ROOT = Path(CHROOT or "/nonexistent")
STATE = Path("/var/lib/ebs")
ENV = ["env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "LANG=C.UTF-8",
       "EBS_INSTALL_NO_SYSTEMD=1"]


def inside(*argv: str, check: bool = True,
           env: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    result = subprocess.run(["chroot", str(ROOT), *ENV, *env, *argv], capture_output=True,
                            text=True, timeout=600, check=False)
    if check:
        assert result.returncode == 0, f"{' '.join(argv)}:\n{result.stdout}{result.stderr}"
    return result


def accounts(name: str) -> dict[str, int]:
    """The chroot's user or group ids by name (not the host's)."""
    found = {}
    for line in (ROOT / "etc" / name).read_text().splitlines():
        fields = line.split(":")
        found[fields[0]] = int(fields[2])
    return found


def test_the_service_accounts_exist():
    users = accounts("passwd")
    assert {"ebs", "freerad", "postgres", "redis"} <= set(users)
    assert inside("getent", "passwd", "ebs").stdout.strip().endswith(":/usr/sbin/nologin")


SECRETS = {  # file: (owner, group, mode)
    "db-ebs.password": ("root", "root", 0o600),
    "db-ebs_web.password": ("ebs", "ebs", 0o600),
    "db-ebs_worker.password": ("ebs", "ebs", 0o600),
    "db-ebs_reports.password": ("ebs", "ebs", 0o600),
    "db-ebs_flow.password": ("ebs", "ebs", 0o600),
    "db-ebs_radius.password": ("freerad", "freerad", 0o600),
    "db-ebs_acct.password": ("freerad", "freerad", 0o600),
    "web_secret.key": ("ebs", "ebs", 0o600),
    "redis.password": ("ebs", "freerad", 0o640),
    "credentials.key": ("ebs", "freerad", 0o640),
}


def test_secrets_are_readable_only_by_their_services():
    users, groups = accounts("passwd"), accounts("group")
    directory = ROOT / "var/lib/ebs/secrets"
    assert sorted(p.name for p in directory.iterdir()) == sorted(SECRETS)
    for name, (user, group, mode) in SECRETS.items():
        st = (directory / name).stat()
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (
            users[user], groups[group], mode), name
        assert len((directory / name).read_text().strip()) >= 32, name
    for private in ("var/lib/ebs/freeradius/mods-enabled/sql", "etc/ebs/tls/ebs.key",
                    "etc/redis/ebs.conf"):
        assert stat.S_IMODE((ROOT / private).stat().st_mode) & 0o007 == 0, private


def test_freeradius_accepts_its_configuration():
    result = inside("runuser", "-u", "freerad", "--", "freeradius", "-XC", "-d",
                    str(STATE / "freeradius"), "-n", "radiusd")
    assert "Configuration appears to be OK" in result.stdout


def test_nginx_accepts_its_configuration():
    result = inside("nginx", "-t")
    assert "test is successful" in result.stderr


def test_the_schema_is_in_the_system_postgresql():
    result = inside("runuser", "-u", "postgres", "--", "psql", "-d", "ebs", "-Atc",
                    "SELECT version FROM schema_migrations ORDER BY version")
    assert result.stdout.split() == [m.version for m in available()]
    owner = inside("runuser", "-u", "postgres", "--", "psql", "-d", "ebs", "-Atc",
                   "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'ebs'")
    assert owner.stdout.strip() == "ebs"


def test_a_component_logs_in_with_its_own_role_and_no_more():
    """The web app's role over TCP with its generated password, as the service would;
    it may not create a table."""
    password = (ROOT / "var/lib/ebs/secrets/db-ebs_web.password").read_text().strip()
    ok = inside("psql", "-h", "127.0.0.1", "-U", "ebs_web", "-d", "ebs", "-Atc",
                "SELECT current_user", env=(f"PGPASSWORD={password}",))
    assert ok.stdout.strip() == "ebs_web"
    refused = inside("psql", "-h", "127.0.0.1", "-U", "ebs_web", "-d", "ebs", "-c",
                     "CREATE TABLE intruder (id int)", env=(f"PGPASSWORD={password}",),
                     check=False)
    assert refused.returncode != 0 and "permission denied" in refused.stderr


UNITS = ["ebs-web.service", "ebs-worker.service", "ebs-beat.service", "ebs-nfacctd.service",
         "ebs-db-watch.service", "ebs-acct-drain.service", "ebs-radius-clients.service",
         "ebs-radius-clients.path", "ebs-nfacctd-restart.service", "ebs-nfacctd-restart.path",
         "ebs-backup.service", "ebs-backup.timer"]


def test_systemd_accepts_every_unit():
    present = sorted(p.name for p in (ROOT / "etc/systemd/system").glob("ebs-*"))
    assert present == sorted(UNITS)
    beats = [u for u in present if "beat" in u]
    assert beats == ["ebs-beat.service"], "exactly one beat"
    result = inside("systemd-analyze", "verify", "--man=no",
                    *(f"/etc/systemd/system/{u}" for u in UNITS),
                    "/lib/systemd/system/freeradius.service", check=False)
    said = result.stdout + result.stderr
    assert result.returncode == 0, said
    for complaint in ("Unknown", "ignoring", "Failed", "not executable", "No such file"):
        assert complaint not in said, said
    drop_in = (ROOT / "etc/systemd/system/freeradius.service.d/ebs.conf").read_text()
    assert f"-d {STATE}/freeradius" in drop_in and "User=freerad" in drop_in
    for unit in UNITS[:6]:
        text = (ROOT / "etc/systemd/system" / unit).read_text()
        assert "Restart=always" in text, unit
    backup = (ROOT / "etc/systemd/system/ebs-backup.service").read_text()
    assert "User=root" in backup and "backup --label daily" in backup
    timer = (ROOT / "etc/systemd/system/ebs-backup.timer").read_text()
    assert "OnCalendar=*-*-* 03:30:00 Europe/Moscow" in timer, timer


def test_the_collectors_socket_buffer_cap_is_raised_for_good():
    conf = ROOT / "etc" / "sysctl.d" / "60-ebs-netflow.conf"
    assert "net.core.rmem_max = 67108864" in conf.read_text().splitlines()
    assert stat.S_IMODE(conf.stat().st_mode) == 0o644 and conf.stat().st_uid == 0


def test_a_second_install_changes_nothing():
    result = inside("bash", "/usr/src/ebs/scripts/install.sh")
    output = result.stdout + result.stderr
    assert "nothing changed" in output, output
    assert "changed:" not in output, output
    assert "apt-get install" not in output and "copied" not in output, output


def test_the_operators_certificate_and_settings_are_kept():
    cert, settings = ROOT / "etc/ebs/tls/ebs.crt", ROOT / "etc/ebs/settings_local.py"
    before = cert.read_bytes()
    settings.write_text(settings.read_text() + "\nISP_NAME = 'Operator ISP'\n")
    try:
        inside("/opt/ebs/venv/bin/ebs", "install")
        assert cert.read_bytes() == before
        assert "Operator ISP" in settings.read_text()
    finally:
        settings.write_text(settings.read_text().replace("\nISP_NAME = 'Operator ISP'\n", ""))


def test_an_unsupported_system_is_refused_before_any_change():
    fake = ROOT / "tmp/os-release"
    fake.write_text('PRETTY_NAME="Ubuntu 24.04 LTS"\nID=ubuntu\nVERSION_ID="24.04"\n')
    for argv in (["bash", "/usr/src/ebs/scripts/install.sh"], ["/opt/ebs/venv/bin/ebs", "install"]):
        result = inside(*argv, env=("EBS_OS_RELEASE=/tmp/os-release",), check=False)
        assert result.returncode != 0
        assert "Ubuntu 24.04 LTS" in result.stderr and "Debian 12" in result.stderr, result.stderr
        assert "changed:" not in result.stdout


def test_the_first_admin_is_made_once():
    made = inside("/opt/ebs/venv/bin/ebs", "staff", "add", "chief")
    assert made.stdout.startswith("Admin chief made; password: ")
    again = inside("/opt/ebs/venv/bin/ebs", "staff", "add", "chief", check=False)
    assert again.returncode != 0 and "exists already" in again.stderr
